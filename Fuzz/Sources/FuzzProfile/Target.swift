// Fuzz target: the client-profile reader (ClientProfile.read: parameters, layouts, rotations).
// The input is the payload of a .heprofile file, sealed again by the target.
import CKKS
import Compiler
import Foundation
import FuzzCommon

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let file = IntegrityFrame.seal(inputBytes(data, size), tag: .clientProfile)
    guard let profile = try? ClientProfile.read(file, source: "fuzz") else { return 0 }
    _ = try? profile.serialized()
    return 0
}

@main enum Main {
    static func main() {
        runFuzzer(fuzzOne, seeds: { try FuzzCompiled.seedPayloads(ext: "heprofile") { try $0.profile.serialized() } })
    }
}
