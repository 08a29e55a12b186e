// Fuzz target: the evaluation-key reader (CKKSFile.readEvaluationKeys) and the header check the
// server runs on uploads (CKKSFile.header). The input is the payload of a .heevk file, sealed
// again by the target.
import CKKS
import Foundation
import FuzzCommon

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let file = IntegrityFrame.seal(inputBytes(data, size), tag: .evaluationKeys)
    _ = try? CKKSFile.header(of: file)
    _ = try? CKKSFile.readEvaluationKeys(file, context: FuzzCKKS.context)
    return 0
}

@main enum Main {
    static func main() {
        runFuzzer(fuzzOne, setUp: { _ = FuzzCKKS.context }, seeds: {
            let f = try FuzzCKKS.files()
            return [("rotations.heevk.payload", FuzzCKKS.payload(f.evaluationKeys)),
                    ("relin.heevk.payload", FuzzCKKS.payload(f.evaluationKeysRelinOnly)),
                    ("relin-pk.heevk.payload", FuzzCKKS.payload(f.evaluationKeysWithPublicKey))]
        })
    }
}
