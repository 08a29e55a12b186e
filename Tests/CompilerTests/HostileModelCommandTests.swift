import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `he-tool inspect` and `predict` on hostile ONNX models and special files, as a user meets
/// them: exit status 1 and one line naming the node, tensor or path — never a trap (these
/// models crashed both commands with SIGILL) and never a hang.
final class HostileModelCommandTests: XCTestCase {
    /// Protocol-buffer wire format, enough to write an ONNX model by hand (the generated types
    /// are internal to Model).
    private struct Proto {
        var bytes: [UInt8] = []
        private mutating func varint(_ v: UInt64) {
            var v = v
            while v >= 0x80 { bytes.append(UInt8(v & 0x7f) | 0x80); v >>= 7 }
            bytes.append(UInt8(v))
        }
        mutating func int(_ field: Int, _ v: Int64) { varint(UInt64(field << 3)); varint(UInt64(bitPattern: v)) }
        mutating func data(_ field: Int, _ d: [UInt8]) { varint(UInt64(field << 3 | 2)); varint(UInt64(d.count)); bytes += d }
        mutating func string(_ field: Int, _ s: String) { data(field, Array(s.utf8)) }
        mutating func message(_ field: Int, _ build: (inout Proto) -> Void) { var m = Proto(); build(&m); data(field, m.bytes) }
    }

    /// x (N×1×4×4) → `op`(x, shape) → y, with `shape` an int64 initializer.
    private func model(op: String, shape: [Int64]) -> Data {
        var m = Proto()
        m.int(1, 8)  // ir_version
        m.message(8) { $0.int(2, 13) }  // opset_import { version: 13 }
        m.message(7) { g in
            g.message(1) { n in n.string(1, "x"); n.string(1, "shape"); n.string(2, "y"); n.string(3, "hostile_node"); n.string(4, op) }
            g.message(5) { t in
                t.int(1, Int64(shape.count)); t.int(2, 7); t.string(8, "shape")
                t.data(9, shape.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) })
            }
            g.message(11) { v in
                v.string(1, "x")
                v.message(2) { t in t.message(1) { tt in
                    tt.int(1, 1)
                    tt.message(2) { s in
                        s.message(1) { $0.string(2, "N") }
                        for d: Int64 in [1, 4, 4] { s.message(1) { $0.int(1, d) } }
                    }
                } }
            }
            g.message(12) { v in v.string(1, "y") }
        }
        return Data(m.bytes)
    }

    /// he-tool with a one-minute limit: a hang is a failure, not a stuck suite.
    private func run(_ arguments: [String]) throws -> ToolRunner.Outcome { try ToolRunner.run(arguments, timeLimit: 60) }

    private func assertOneLineError(_ arguments: [String], _ fragments: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let outcome = try run(arguments)
        XCTAssertEqual(outcome.status, 1, "\(arguments): \(outcome.stderr)\(outcome.stdout)", file: file, line: line)
        let text = outcome.stderr + outcome.stdout
        XCTAssertEqual(text.split(separator: "\n").count, 1, text, file: file, line: line)
        for f in fragments { XCTAssertTrue(text.contains(f), "'\(f)' missing in: \(text)", file: file, line: line) }
    }

    func testOverflowingShapesGiveOneLineErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("he-tool-hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let big = Int64(Int32.max)
        let reshape = dir.appendingPathComponent("reshape.onnx")
        try model(op: "Reshape", shape: [1, big, big, big]).write(to: reshape)
        let pad = dir.appendingPathComponent("pad.onnx")
        try model(op: "Pad", shape: [0, 0, big, big, 0, 0, big, big]).write(to: pad)
        let image = dir.appendingPathComponent("x.npy")
        try Data([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).write(to: image)
        for file in [reshape, pad] {
            try assertOneLineError(["inspect", file.path], ["hostile_node", "limit"])
            try assertOneLineError(["predict", file.path, image.path], ["Error: ", "hostile_node", "limit"])
        }
        // A FIFO or a device given as the image: refused by name, not opened (a FIFO would hang).
        let fifo = dir.appendingPathComponent("pipe.png")
        XCTAssertEqual(mkfifo(fifo.path, 0o600), 0)
        let mnist = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Examples/mnist/model.onnx").standardized
        try assertOneLineError(["predict", mnist.path, fifo.path], ["Error: ", fifo.path, "FIFO"])
        try assertOneLineError(["predict", mnist.path, "/dev/zero"], ["Error: ", "/dev/zero is a device"])
        try assertOneLineError(["inspect", fifo.path], [fifo.path, "FIFO"])
    }
}
