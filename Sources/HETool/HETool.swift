import ArgumentParser
import Compiler

/// The `he-tool` command line: parsing, file I/O and printing only; arithmetic lives below.
@main
struct HETool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "he-tool",
        abstract: "Homomorphic-encryption inference engine (RNS-CKKS).",
        version: EngineVersion.string,
        subcommands: [BenchCommand.self, CalibrateCommand.self, CompileCommand.self, KeygenCommand.self, EncryptCommand.self, EvalCommand.self, DecryptCommand.self, DemoCommand.self, InspectCommand.self, PredictCommand.self, AuditCommand.self]
    )
}
