import ArgumentParser
import CKKS
import Compiler
import Foundation

/// `he-tool keygen`: the client's secret key (owner-only) and the evaluation keys the plan needs.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Make a secret key (kept by the client, mode 0600) and the evaluation keys a compiled plan needs (for the server)."
    )

    @Option(help: "The client profile (client.heprofile from `he-tool compile`).")
    var profile: String

    @Option(name: .customLong("secret-key"), help: "Where to write the secret key (.hesk).")
    var secretKey: String

    @Option(name: .customLong("eval-keys"), help: "Where to write the evaluation keys (.heevk): relinearization + the plan's Galois keys.")
    var evalKeys: String

    func run() throws {
        let profile = try FlowFiles.profile(self.profile)
        let start = Date()
        let context = try CKKSContext(parameters: profile.parameters)
        let sk = KeyGenerator(context: context).secretKey()
        let keys = try EncryptedInference.evaluationKeys(profile: profile, secretKey: sk)
        let bytes = try CKKSFile.serialize(keys)
        try CKKSFile.writeSecretKey(sk, to: URL(fileURLWithPath: secretKey))
        try FlowFiles.write(bytes, evalKeys)
        print(String(format: "keygen: %@ (owner-only) and %@ (%@: relinearization + %d Galois keys) in %.1f s",
                     secretKey, evalKeys, FlowFiles.megabytes(bytes.count), profile.rotationSteps.count, Date().timeIntervalSince(start)))
    }
}
