// Fuzz target: the 56-byte integrity frame (IntegrityFrame, CKKSFile.header) on raw bytes —
// every file he-tool reads passes here first.
import CKKS
import Foundation
import FuzzCommon

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = inputBytes(data, size)
    _ = IntegrityFrame.tag(of: bytes)
    for tag in IntegrityFrame.Tag.all {
        _ = try? IntegrityFrame.withPayload(of: bytes, expecting: tag, legacyAdvice: "remake it") { $0.count }
    }
    _ = try? IntegrityFrame.withPayloadData(of: bytes, expecting: .ciphertext, legacyAdvice: "remake it") { $0.count }
    _ = try? CKKSFile.header(of: bytes)
    // A frame whose checksum is made right: the CKKS envelope's own header checks behind it.
    if bytes.count >= IntegrityFrame.headerSize, let tag = IntegrityFrame.tag(of: bytes) {
        let resealed = IntegrityFrame.seal(Array(bytes[IntegrityFrame.headerSize...]), tag: tag)
        _ = try? CKKSFile.header(of: resealed)
    }
    return 0
}

@main enum Main {
    static func main() {
        runFuzzer(fuzzOne, seeds: {
            let f = try FuzzCKKS.files()
            var seeds: [(name: String, bytes: [UInt8])] = [
                ("secret.hesk", f.secretKey), ("relin.heevk", f.evaluationKeysRelinOnly), ("tensor.hect", f.tensor),
                ("short", Array(IntegrityFrame.magic)), ("empty", [])]
            seeds += f.ciphertexts.prefix(2)
            return seeds
        })
    }
}
