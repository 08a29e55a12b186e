// Fuzz target: the evaluation-key readers — the whole-file one (CKKSFile.readEvaluationKeys),
// the keys-on-demand one on the same bytes written to a file (CKKSFile.openEvaluationKeys, then
// every Galois key read back through its store) — and the header check the server runs on
// uploads (CKKSFile.header). The input is the payload of a .heevk file, sealed again by the target.
import CKKS
import Foundation
import FuzzCommon

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let file = IntegrityFrame.seal(inputBytes(data, size), tag: .evaluationKeys)
    _ = try? CKKSFile.header(of: file)
    _ = try? CKKSFile.readEvaluationKeys(file, context: FuzzCKKS.context)
    if (try? CKKSFile.write(file, to: URL(fileURLWithPath: onDemandPath), ownerOnly: false)) != nil,
       let keys = try? CKKSFile.openEvaluationKeys(path: onDemandPath, context: FuzzCKKS.context, residentBytes: 1) {
        for g in keys.galoisElements.sorted() { _ = try? keys.galoisKey(element: g) }
        _ = try? Evaluator(context: FuzzCKKS.context, keys: keys).rotate(seedCiphertext, by: 1)
    }
    return 0
}

/// Where the keys-on-demand reader finds each input (one file per process).
let onDemandPath = NSTemporaryDirectory() + "he-fuzz-eval-keys-\(getpid()).heevk"

/// A ciphertext to rotate with the keys the on-demand reader accepted.
let seedCiphertext: Ciphertext = {
    do {
        let sk = KeyGenerator(context: FuzzCKKS.context).secretKey()
        let pt = try Encoder(context: FuzzCKKS.context).encode([0.5], scale: FuzzCKKS.parameters.scale, level: FuzzCKKS.context.maxLevel)
        return try Encryptor(secretKey: sk).encrypt(pt)
    } catch { fatalError("fuzz ciphertext: \(error)") }
}()

@main enum Main {
    static func main() {
        runFuzzer(fuzzOne, setUp: { _ = FuzzCKKS.context; _ = seedCiphertext }, seeds: {
            let f = try FuzzCKKS.files()
            return [("rotations.heevk.payload", FuzzCKKS.payload(f.evaluationKeys)),
                    ("relin.heevk.payload", FuzzCKKS.payload(f.evaluationKeysRelinOnly)),
                    ("relin-pk.heevk.payload", FuzzCKKS.payload(f.evaluationKeysWithPublicKey))]
        })
    }
}
