import CKKS
import Foundation
import XCTest
@testable import Compiler

/// Issue 18's "any number of images": more images than the plan carries per evaluation are
/// encrypted as several groups in one file; `eval` evaluates every group and `decrypt` prints
/// every image, in input order. A file cut, reordered or spliced at a frame boundary is refused.
final class GroupedInputTests: XCTestCase {
    /// Three images with the batch-1 MNIST plan, through the commands a user runs: three
    /// groups in one file, three answers, in the order given (7, 2, 1 reversed to 1, 2, 7), each
    /// within 1e-3 of the plaintext executor's logits.
    func testThreeImagesWithABatchOnePlanEvaluateAndDecryptInOrder() throws {
        let (graph, c, images) = try FlowFixtures.compile("mnist")
        XCTAssertEqual(c.model.batch, 1)
        let dir = try temporaryDirectory()
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        try Data(try c.model.serialized()).write(to: URL(fileURLWithPath: path("model.hemodel")))
        try Data(try c.profile.serialized()).write(to: URL(fileURLWithPath: path("client.heprofile")))
        let order = [2, 1, 0]
        let pngs = order.map { FlowFixtures.examples.appendingPathComponent("mnist/\(images[$0].name)").path }
        for arguments in [["keygen", "--profile", path("client.heprofile"), "--secret-key", path("me.hesk"), "--eval-keys", path("me.heevk")],
                          ["encrypt"] + pngs + ["--profile", path("client.heprofile"), "--secret-key", path("me.hesk"), "--out", path("x.hect")],
                          ["eval", "--model", path("model.hemodel"), "--eval-keys", path("me.heevk"), path("x.hect"), "--out", path("y.hect")]] {
            let outcome = try ToolRunner.run(arguments)
            XCTAssertEqual(outcome.status, 0, outcome.stderr)
            if arguments[0] == "encrypt" { XCTAssertTrue(outcome.stdout.contains("3 image(s) in 3 groups of 1"), outcome.stdout) }
        }
        let groups = try EncryptedTensorGroups.read(Array(try Data(contentsOf: URL(fileURLWithPath: path("y.hect")))), source: "y.hect")
        XCTAssertEqual(groups.map(\.group), [0, 1, 2])
        XCTAssertTrue(groups.allSatisfy { $0.groups == 3 && $0.stage == .output && $0.images == 1 })
        let decrypt = try ToolRunner.run(["decrypt", path("y.hect"), "--profile", path("client.heprofile"), "--secret-key", path("me.hesk"), "--json"])
        XCTAssertEqual(decrypt.status, 0, decrypt.stderr)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(decrypt.stdout.utf8)) as? [String: Any])
        let outputs = try XCTUnwrap(json["outputs"] as? [[String: Any]])
        XCTAssertEqual(outputs.count, 3)
        for (k, i) in order.enumerated() {
            let logits = try XCTUnwrap(outputs[k]["logits"] as? [Double])
            let want = try FlowFixtures.plainLogits(graph, images[i].tensor.values)
            let scale = max(1, want.map(abs).max()!)
            XCTAssertLessThanOrEqual(zip(logits, want).map { abs($0 - $1) }.max()! / scale, 1e-3, "image \(k): \(images[i].name)")
            XCTAssertEqual(FlowFixtures.argmax(logits), FlowFixtures.argmax(want), images[i].name)
            // The bundled images are named by their label.
            XCTAssertTrue(images[i].name.hasSuffix("label-\(FlowFixtures.argmax(logits)).png"), images[i].name)
        }
    }

    /// The frames of a three-group file, cut after two, swapped, or with a group of another
    /// file in its place: each is an error naming the file, never fewer or reordered answers.
    func testACutReorderedOrSplicedFileIsRefused() throws {
        let (_, c, images) = try FlowFixtures.compile("mnist")
        let context = try CKKSContext(parameters: c.profile.parameters)
        let client = try ClientSession(profile: c.profile, secretKey: KeyGenerator(context: context).secretKey())
        let samples = images.prefix(3).map(\.tensor.values)
        let groups = try client.encryptGroups(samples)
        XCTAssertEqual(groups.map(\.group), [0, 1, 2])
        let frames = try groups.map { try $0.serialized() }
        let whole = frames.joined()
        XCTAssertEqual(try EncryptedTensorGroups.read(Array(whole), source: "x.hect").count, 3)
        // A file of other groups, to splice from.
        let other = try client.encryptGroups(Array(samples.prefix(2)) + [samples[0]])
        let cases: [(String, [UInt8], String)] = [
            ("cut", Array(frames[0] + frames[1]), "ends after 2 of its 3 groups"),
            ("swapped", Array(frames[0] + frames[2] + frames[1]), "frame 2 is group 3 of 3"),
            ("spliced count", Array(frames[0] + (try EncryptedTensorFile(parametersFingerprint: groups[1].parametersFingerprint,
                planFingerprint: groups[1].planFingerprint, stage: .input, layout: groups[1].layout, images: 1, tiles: groups[1].tiles,
                group: 1, groups: 4).serialized()) + frames[2]), "the file's first frame says 3 groups"),
            ("truncated frame", Array(whole.dropLast(100)), "no whole frame follows group 2"),
            ("trailing bytes", Array(whole) + [0x89, 0x48], "no whole frame follows group 3"),
        ]
        for (label, bytes, expected) in cases {
            XCTAssertThrowsError(try EncryptedTensorGroups.read(bytes, source: "x.hect"), label) { error in
                XCTAssertTrue("\(error)".contains(expected) && "\(error)".contains("x.hect"), "\(label): \(error)")
            }
        }
        // A group of another file in the right place is a well-formed file: it decrypts to that
        // file's image, which is what the user assembled; what is refused is a broken sequence.
        let spliced = Array(frames[0] + (try other[1].serialized()) + frames[2])
        XCTAssertEqual(try EncryptedTensorGroups.read(spliced, source: "x.hect").count, 3)
        // More images than a file may hold groups for is refused before anything is encrypted.
        XCTAssertThrowsError(try client.encryptGroups([])) { XCTAssertTrue("\($0)".contains("no images"), "\($0)") }
    }
}
