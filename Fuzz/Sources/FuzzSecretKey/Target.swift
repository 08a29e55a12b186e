// Fuzz target: the secret-key reader (CKKSFile.readSecretKey). The input is the payload of a
// .hesk file; the target seals it in a valid integrity frame so mutations reach the parser.
import CKKS
import Foundation
import FuzzCommon

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let file = IntegrityFrame.seal(inputBytes(data, size), tag: .secretKey)
    _ = try? CKKSFile.readSecretKey(file, context: FuzzCKKS.context)
    return 0
}

@main enum Main {
    static func main() {
        runFuzzer(fuzzOne, setUp: { _ = FuzzCKKS.context }, seeds: {
            let f = try FuzzCKKS.files()
            return [("secret.hesk.payload", FuzzCKKS.payload(f.secretKey))]
        })
    }
}
