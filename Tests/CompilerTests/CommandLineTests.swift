import CKKS
import Foundation
import XCTest

/// The `he-tool` binary as a user meets it: a runtime error is one line without the usage, no
/// command writes over an input or a secret key, and `keygen` writes both files or neither.
final class CommandLineTests: XCTestCase {
    func run(_ arguments: [String]) throws -> ToolRunner.Outcome { try ToolRunner.run(arguments) }


    func testRuntimeErrorsAreOneLineWithoutUsage() throws {
        let dir = try temporaryDirectory()
        let outcome = try run(["decrypt", dir.appendingPathComponent("missing.hect").path,
                               "--profile", dir.appendingPathComponent("p.heprofile").path, "--secret-key", "k.hesk"])
        XCTAssertEqual(outcome.status, 1)
        let lines = outcome.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, outcome.stderr)
        XCTAssertTrue(outcome.stderr.hasPrefix("Error: ") && outcome.stderr.contains("p.heprofile"), outcome.stderr)
        XCTAssertFalse(outcome.stderr.lowercased().contains("usage"), outcome.stderr)
        // A damaged file: one line naming it.
        let damaged = dir.appendingPathComponent("damaged.heprofile")
        var bytes = FileIntegrityTests.files.profile
        bytes[bytes.count / 2] ^= 0x40
        try Data(bytes).write(to: damaged)
        let second = try run(["keygen", "--profile", damaged.path, "--secret-key", dir.appendingPathComponent("k.hesk").path,
                              "--eval-keys", dir.appendingPathComponent("k.heevk").path])
        XCTAssertEqual(second.status, 1)
        XCTAssertEqual(second.stderr.split(separator: "\n").count, 1, second.stderr)
        XCTAssertTrue(second.stderr.contains(damaged.path) && second.stderr.contains("damaged"), second.stderr)
        // A wrong command line keeps its usage lines.
        let usage = try run(["keygen", "--profile"])
        XCTAssertNotEqual(usage.status, 0)
        XCTAssertTrue(usage.stderr.lowercased().contains("usage"), usage.stderr)
        // Help is printed, not reported as an error.
        for arguments in [["--help"], ["eval", "--help"], ["help", "keygen"]] {
            let help = try run(arguments)
            XCTAssertEqual(help.status, 0, "\(arguments): \(help.stderr)")
            XCTAssertTrue(help.stdout.lowercased().contains("usage"), "\(arguments): \(help.stdout)")
            XCTAssertFalse(help.stderr.contains("Error"), "\(arguments): \(help.stderr)")
        }
    }

    /// `serve` asks for circuit privacy: a model compiled without it is refused before the
    /// server starts, in one line that says what to do; `--no-circuit-privacy` is the way out.
    func testServeRefusesModelsWithoutCircuitPrivacy() throws {
        let dir = try temporaryDirectory()
        try Data(FileIntegrityTests.files.model).write(to: dir.appendingPathComponent("model.hemodel"))
        try Data(FileIntegrityTests.files.profile).write(to: dir.appendingPathComponent("client.heprofile"))
        let outcome = try run(["serve", "--model", "m=\(dir.appendingPathComponent("model.hemodel").path)",
                               "--host", "127.0.0.1", "--port", "0"])
        XCTAssertEqual(outcome.status, 1, outcome.stderr)
        XCTAssertEqual(outcome.stderr.split(separator: "\n").count, 1, outcome.stderr)
        XCTAssertTrue(outcome.stderr.contains("--circuit-privacy") && outcome.stderr.contains("--no-circuit-privacy"), outcome.stderr)
    }

    func testOutputsNeverOverwriteInputsOrSecretKeys() throws {
        let dir = try temporaryDirectory()
        let profile = dir.appendingPathComponent("client.heprofile")
        try Data(FileIntegrityTests.files.profile).write(to: profile)
        let same = dir.appendingPathComponent("same").path
        let both = try run(["keygen", "--profile", profile.path, "--secret-key", same, "--eval-keys", same])
        XCTAssertEqual(both.status, 1)
        XCTAssertTrue(both.stderr.contains("name the same file"), both.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: same))
        // keygen makes a real key; encrypt --out pointing at it, or at the profile, is refused.
        let sk = dir.appendingPathComponent("me.hesk").path, evk = dir.appendingPathComponent("me.heevk").path
        XCTAssertEqual(try run(["keygen", "--profile", profile.path, "--secret-key", sk, "--eval-keys", evk]).status, 0)
        let key = try Data(contentsOf: URL(fileURLWithPath: sk))
        let image = FlowFixtures.examples.appendingPathComponent("tenseal-tutorial/test-00-label-7.png").path
        for target in [sk, profile.path, image] {
            let outcome = try run(["encrypt", image, "--profile", profile.path, "--secret-key", sk, "--out", target])
            XCTAssertEqual(outcome.status, 1, target)
            XCTAssertTrue(outcome.stderr.contains("destroy the input"), outcome.stderr)
        }
        // Another command's output over a secret key it does not read: refused too.
        let again = try run(["keygen", "--profile", profile.path, "--secret-key", dir.appendingPathComponent("new.hesk").path, "--eval-keys", sk])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("holds a secret key"), again.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: sk)), key, "the secret key is untouched")
    }

    func testKeygenWritesBothFilesOrNeither() throws {
        let dir = try temporaryDirectory()
        let profile = dir.appendingPathComponent("client.heprofile")
        try Data(FileIntegrityTests.files.profile).write(to: profile)
        let sk = dir.appendingPathComponent("me.hesk").path
        let outcome = try run(["keygen", "--profile", profile.path, "--secret-key", sk,
                               "--eval-keys", dir.appendingPathComponent("missing/me.heevk").path])
        XCTAssertEqual(outcome.status, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: sk), "a secret key without its evaluation keys was left")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["client.heprofile"])
    }
}
