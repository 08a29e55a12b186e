// Fuzz target: the compiled-model reader (CompiledModel.read: plan, weights, fingerprints). The
// input is the payload of a .hemodel file, sealed again by the target.
import CKKS
import Compiler
import Foundation
import FuzzCommon

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let file = IntegrityFrame.seal(inputBytes(data, size), tag: .compiledModel)
    guard let model = try? CompiledModel.read(file, source: "fuzz") else { return 0 }
    _ = try? model.serialized()
    return 0
}

@main enum Main {
    static func main() {
        runFuzzer(fuzzOne, seeds: { try FuzzCompiled.seedPayloads(ext: "hemodel") { try $0.model.serialized() } })
    }
}
