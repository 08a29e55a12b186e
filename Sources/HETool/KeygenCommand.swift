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
        try OutputGuard.check(outputs: [("--secret-key", secretKey), ("--eval-keys", evalKeys)], inputs: [("--profile", self.profile)])
        let profile = try FlowFile.profile(self.profile)
        let start = Date()
        // Both files or neither: a secret key without its evaluation keys (or keys of another
        // secret key beside it) is worse than no file.
        // Keys are made and written one at a time; a large set (tens of GB at N = 65536) reports
        // its progress on a terminal.
        let showProgress = isatty(STDERR_FILENO) != 0 && profile.parameters.degree >= 32768
        let size = try ClientSession.withNewKey(profile: profile).writeKeys(secretKey: secretKey, evaluationKeys: evalKeys) { done, total in
            guard showProgress else { return }
            FileHandle.standardError.write(Data("\rkeygen: Galois key \(done) of \(total)\(done == total ? "\n" : "")".utf8))
        }
        print(String(format: "keygen: %@ (owner-only) and %@ (%@: relinearization + %d Galois keys) in %.1f s",
                     secretKey, evalKeys, FlowFiles.megabytes(size), profile.galoisKeyCount, Date().timeIntervalSince(start)))
    }
}
