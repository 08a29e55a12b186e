// Fuzz target: the ciphertext reader (CKKSFile.readCiphertext) — and, on the same payload, the
// public-key, plaintext and parameter readers. A ciphertext that reads is decrypted and decoded
// with a fixed secret key, so that the values the reader accepted (level, scale, seed) are used.
// The input is the payload of a .hect file, sealed again by the target.
import CKKS
import Foundation
import FuzzCommon

nonisolated(unsafe) var decryptor: Decryptor!
nonisolated(unsafe) var encoder: Encoder!

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let payload = inputBytes(data, size)
    let context = FuzzCKKS.context
    if let ct = try? CKKSFile.readCiphertext(IntegrityFrame.seal(payload, tag: .ciphertext), context: context),
       let pt = try? decryptor.decrypt(ct) {
        _ = try? encoder.decode(pt)
    }
    _ = try? CKKSFile.readPublicKey(IntegrityFrame.seal(payload, tag: .publicKey), context: context)
    _ = try? CKKSFile.readPlaintext(IntegrityFrame.seal(payload, tag: .plaintext), context: context)
    _ = try? CKKSFile.readParameters(IntegrityFrame.seal(payload, tag: .parameters))
    return 0
}

@main enum Main {
    static func main() {
        runFuzzer(fuzzOne, setUp: {
            let context = FuzzCKKS.context
            decryptor = Decryptor(secretKey: KeyGenerator(context: context).secretKey())
            encoder = Encoder(context: context)
        }, seeds: {
            let f = try FuzzCKKS.files()
            var seeds: [(name: String, bytes: [UInt8])] = f.ciphertexts.map { (name: $0.name + ".payload", bytes: FuzzCKKS.payload($0.bytes)) }
            seeds.append((name: "public.hepk.payload", bytes: FuzzCKKS.payload(f.publicKey)))
            seeds.append((name: "parameters.hepa.payload", bytes: FuzzCKKS.payload(try CKKSFile.serialize(FuzzCKKS.parameters))))
            return seeds
        })
    }
}
