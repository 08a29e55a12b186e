import ArgumentParser

/// `he-tool bench …`: timings of the engine's primitives on this machine, comparable key by key
/// with the peer scripts in `shared/bench` (`--json`).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the engine's primitives (median and minimum microseconds per call).",
        subcommands: [BenchNTTCommand.self, BenchOpsCommand.self, BenchConvCommand.self, BenchMatmulCommand.self, BenchEvalCommand.self, BenchLazyCommand.self,
                      BenchServeCommand.self]
    )
}
