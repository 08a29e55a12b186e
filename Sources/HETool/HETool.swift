import ArgumentParser
import Compiler

/// The `he-tool` command line: parsing, file I/O and printing only; arithmetic lives below.
/// Async at the root so that the network commands (serve, eval --remote, fetch-profile,
/// bench serve) can await; the others run as before.
@main
struct HETool: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "he-tool",
        abstract: "Homomorphic-encryption inference engine (RNS-CKKS).",
        version: EngineVersion.string,
        subcommands: [BenchCommand.self, CalibrateCommand.self, CompileCommand.self, KeygenCommand.self, EncryptCommand.self, EvalCommand.self, DecryptCommand.self, ServeCommand.self, FetchProfileCommand.self, DemoCommand.self, InspectCommand.self, PredictCommand.self, AuditCommand.self]
    )
}
