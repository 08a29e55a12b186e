import ArgumentParser
import CKKS
import Compiler
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
        let profile = try FlowFiles.profile(self.profile)
        let context = try CKKSContext(parameters: profile.parameters)
        let sk = try FlowFiles.secretKey(secretKey, context: context, profilePath: self.profile)
        let file = try FlowFiles.tensor(input)
        let scores = try EncryptedInference.decrypt(file, profile: profile, secretKey: sk, source: input)
        print(DecryptedReport(scores: scores, classNames: profile.classNames, decimals: profile.outputDecimals, k: top).render(json: json))
    }
}

/// The decrypted scores as text or JSON.
struct DecryptedReport {
    var scores: [[Double]]
    var classNames: [String]
    var decimals: Int
    var k: Int

    func ranked(_ s: [Double]) -> [Int] { Array(s.indices.sorted { s[$0] > s[$1] || (s[$0] == s[$1] && $0 < $1) }.prefix(k)) }

    func name(_ c: Int) -> String { classNames.indices.contains(c) ? classNames[c] : String(c) }

    func render(json: Bool) -> String {
        let f = "%.\(decimals)f"
        if json {
            let logits = scores.map { "[" + $0.map { String(format: f, $0) }.joined(separator: ", ") + "]" }.joined(separator: ", ")
            let tops = scores.map { s in
                "[" + ranked(s).map { c in "{\"class\": \(c), \"name\": \"\(name(c).replacingOccurrences(of: "\"", with: "\\\""))\", \"score\": \(String(format: f, s[c]))}" }.joined(separator: ", ") + "]"
            }.joined(separator: ", ")
            return "{\"logits\": [\(logits)], \"top\": [\(tops)]}"
        }
        return scores.enumerated().map { i, s in
            "image \(i): " + ranked(s).map { "\(name($0)) (\(String(format: f, s[$0])))" }.joined(separator: ", ")
        }.joined(separator: "\n")
    }
}
