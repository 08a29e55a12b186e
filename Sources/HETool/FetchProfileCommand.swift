import ArgumentParser
import Compiler
import Foundation
import Serve

/// `he-tool fetch-profile`: downloads a served model's client profile, for a client that
/// starts from nothing (then `he-tool keygen --profile`, `encrypt`, `eval --remote`).
struct FetchProfileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch-profile",
        abstract: "Download the client profile of a model served by `he-tool serve`."
    )

    @Option(help: "The server's URL (http://host:port or https://…).")
    var remote: String

    @Option(help: "The model's name on the server (GET /v1/models lists them).")
    var model: String

    @Option(help: "Where to write the profile (client.heprofile).")
    var out: String

    @Option(name: .customLong("token-file"), help: "File whose first line is the server's bearer token.")
    var tokenFile: String?

    @Option(name: .customLong("ca-cert"), help: "PEM certificate(s) to trust for an https server (a self-signed one) instead of the system's.")
    var caCert: String?

    @Flag(help: "No progress output.")
    var quiet = false

    func run() async throws {
        try OutputGuard.check(outputs: [("--out", out)],
                              inputs: [tokenFile.map { ("--token-file", $0) }, caCert.map { ("--ca-cert", $0) }].compactMap { $0 })
        let client = try RemoteClient(baseURL: remote, token: try tokenFile.map { try BearerToken.readFile(path: $0) }, caCertificatePath: caCert)
        do {
            let (bytes, profile) = try await client.profile(model: model, progress: TerminalProgress(quiet: quiet).handler)
            try FlowFile.write(bytes, out)
            try await client.shutdown()
            if !quiet {
                print("fetch-profile: \(model) → \(out) (\(FlowFiles.megabytes(bytes.count)); model '\(profile.modelName)', \(profile.imagesPerEvaluation) image(s) per evaluation, \(profile.rotationSteps.count) rotations; plan \(profile.planFingerprint.map { String(format: "%02x", $0) }.joined().prefix(16))…)")
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}
