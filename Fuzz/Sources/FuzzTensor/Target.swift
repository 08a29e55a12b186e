// Fuzz target: the encrypted-tensor reader (EncryptedTensorFile.read, then its tiles read as
// ciphertexts by `tensor(backend:)`, as `eval`, `decrypt` and the server do). The input is the
// payload of a tensor .hect file, sealed again by the target.
import CKKS
import Compiler
import Foundation
import FuzzCommon

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let file = IntegrityFrame.seal(inputBytes(data, size), tag: .encryptedTensor)
    guard let tensor = try? EncryptedTensorFile.read(file, source: "fuzz") else { return 0 }
    _ = tensor.layout.description
    _ = try? tensor.tensor(backend: FuzzCKKS.backend, source: "fuzz")
    return 0
}

@main enum Main {
    static func main() {
        runFuzzer(fuzzOne, setUp: { _ = FuzzCKKS.backend }, seeds: {
            let f = try FuzzCKKS.files()
            return [("one-tile.hect.payload", FuzzCKKS.payload(f.tensor)), ("two-tiles.hect.payload", FuzzCKKS.payload(f.tensorTwoTiles))]
        })
    }
}
