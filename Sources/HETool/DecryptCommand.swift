import ArgumentParser
import CKKS
import Compiler
import Model
import Foundation

/// `he-tool decrypt`: the client reads the server's result: top-K classes with names, scores
/// rounded to the precision the profile states.
struct DecryptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decrypt",
        abstract: "Decrypt an evaluation result: the top classes of each image (or all logits with --json)."
    )

    @Argument(help: "The encrypted result (.hect from `he-tool eval`).")
    var input: String

    @Option(help: "The client profile.")
    var profile: String

    @Option(name: .customLong("secret-key"), help: "The secret key (.hesk).")
    var secretKey: String

    @Option(help: "Number of top classes to show.")
    var top: Int = 3

    @Flag(help: "Print {\"logits\": [[…] per image], \"top\": …}.")
    var json = false

    func validate() throws {
        guard top >= 1 else { throw ValidationError("--top must be at least 1") }
    }

    func run() throws {
        let session = try ClientSession.open(profile: self.profile, secretKey: secretKey)
        let profile = session.profile
        let scores = try session.decrypt(path: input)
        let report = ClassificationReport(inputs: scores.indices.map { "\(input)[\($0)]" }, scores: scores,
                                          classNames: profile.classNames.isEmpty ? nil : profile.classNames, k: top,
                                          decimals: profile.outputDecimals)
        print(json ? try report.json() : report.text())
    }
}
