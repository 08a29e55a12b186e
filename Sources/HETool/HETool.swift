import ArgumentParser
import CKKS
import Compiler
import Foundation

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

    /// Parses and runs the command. A wrong command line (a parse error, or a `ValidationError`
    /// from a command's checks of its options) prints the error with the usage lines; any other
    /// failure (a damaged file, a missing key, a mismatch) is not about the command line, so it
    /// prints one line, `Error: …`, and exits with status 1.
    static func main() async {
        // CKKS buffers are made and freed on every operation: keep them in the heap (MemoryTuning).
        MemoryTuning.applyToProcess()
        var command: ParsableCommand
        do { command = try parseAsRoot() } catch { exit(withError: error) }
        do {
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error where error is ValidationError || error is CleanExit || error is ExitCode
                    || String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
            // Usage errors and help requests (`--help` and `help` run ArgumentParser's own
            // help command, which throws its internal CommandError) keep ArgumentParser's output.
            exit(withError: error)
        } catch {
            FileHandle.standardError.write(Data("Error: \(String(describing: error))\n".utf8))
            Foundation.exit(1)
        }
    }
}
