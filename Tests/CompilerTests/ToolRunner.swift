import Foundation
import XCTest

/// The `he-tool` binary built beside the test bundle (`swift test` builds every product), run
/// as a user runs it, with a time limit: a hang is a failed test, not a stuck suite.
enum ToolRunner {
    struct Outcome {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// On Linux the test bundle is an executable in the products directory (`Bundle.main`'s and
    /// the process's own path); on macOS a bundle whose parent is that directory.
    static var tool: URL {
        var candidates = [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
        if let main = Bundle.main.executableURL { candidates.append(main.deletingLastPathComponent()) }
        let bundle = Bundle(for: CommandLineTests.self).bundleURL
        candidates += [bundle, bundle.deletingLastPathComponent()]
        let tools = candidates.map { $0.appendingPathComponent("he-tool") }
        return tools.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? tools[0]
    }

    /// Runs he-tool with `arguments`; terminated after `timeLimit` seconds.
    static func run(_ arguments: [String], timeLimit: Double = 120,
                    file: StaticString = #filePath, line: UInt = #line) throws -> Outcome {
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: tool.path), "no he-tool at \(tool.path)", file: file, line: line)
        let process = Process()
        process.executableURL = tool
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let watchdog = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeLimit, execute: watchdog)
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        watchdog.cancel()
        return Outcome(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                       stderr: String(decoding: stderr, as: UTF8.self))
    }
}
