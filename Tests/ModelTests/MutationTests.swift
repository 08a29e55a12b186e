import Foundation
import XCTest
@testable import Model

/// A fast deterministic mutation test per input format (ONNX, PNG, IDX, `.npy`): a few hundred
/// mutants each — truncations, byte flips, inserted random ranges, duplicated ranges — every
/// one of which must be read or refused with a `ModelError`, never trap. A trap would end the
/// test process, so reaching the assertions at all is the main check.
final class MutationTests: XCTestCase {
    /// `count` mutants of `original`, a quarter of each kind.
    private func mutants(of original: Data, count: Int, seed: UInt64) -> [Data] {
        var rng = SplitMix64(state: seed)
        let bytes = [UInt8](original)
        var out: [Data] = []
        for k in 0..<count {
            var b = bytes
            switch k % 4 {
            case 0: // truncation
                b = Array(b.prefix(Int.random(in: 0..<b.count, using: &rng)))
            case 1: // 1–4 flipped bytes, sometimes set to 0x00 / 0xff / 0x7f (varint and length edges)
                for _ in 0...Int.random(in: 0...3, using: &rng) {
                    let i = Int.random(in: 0..<b.count, using: &rng)
                    b[i] = [b[i] ^ UInt8.random(in: 1...255, using: &rng), 0x00, 0xff, 0x7f, 0x80].randomElement(using: &rng)!
                }
            case 2: // an inserted range of random bytes
                let at = Int.random(in: 0...b.count, using: &rng)
                b.insert(contentsOf: (0..<Int.random(in: 1...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: at)
            default: // a duplicated range
                let start = Int.random(in: 0..<b.count, using: &rng)
                let end = min(b.count, start + Int.random(in: 1...256, using: &rng))
                b.insert(contentsOf: b[start..<end], at: Int.random(in: 0...b.count, using: &rng))
            }
            out.append(Data(b))
        }
        return out
    }

    /// Reads every mutant; returns (refused, accepted). Anything but a `ModelError` fails.
    @discardableResult
    private func run(_ original: Data, count: Int = 400, seed: UInt64, _ read: (Data) throws -> Void,
                     file: StaticString = #filePath, line: UInt = #line) -> (Int, Int) {
        XCTAssertNoThrow(try read(original), "the unmutated file must read", file: file, line: line)
        let (refused, accepted) = MutantReading.read(mutants(of: original, count: count, seed: seed), read, file: file, line: line)
        XCTAssertGreaterThan(refused, count / 10, "suspiciously few refusals", file: file, line: line)
        return (refused, accepted)
    }

    /// x (N×1×6×6) → Pad → Conv → BatchNorm → 0.5x² + x → AveragePool → Reshape → Gemm.
    private func smallModel() throws -> Data {
        let nodes = [
            ONNXBuilder.node("Pad", ["x", "pads"], ["p"], name: "pad"),
            ONNXBuilder.node("Conv", ["p", "w", "cb"], ["c"], name: "conv"),
            ONNXBuilder.node("BatchNormalization", ["c", "g", "b", "mean", "var"], ["n"], name: "bn"),
            ONNXBuilder.node("Mul", ["n", "n"], ["sq"], name: "square"),
            ONNXBuilder.node("Mul", ["sq", "half"], ["h"], name: "half"),
            ONNXBuilder.node("Add", ["h", "n"], ["act"], name: "act"),
            ONNXBuilder.node("AveragePool", ["act"], ["ap"], name: "pool", attributes: [HostileFiles.ints("kernel_shape", [2, 2]), HostileFiles.ints("strides", [2, 2])]),
            ONNXBuilder.node("Reshape", ["ap", "shape"], ["r"], name: "reshape"),
            ONNXBuilder.node("Gemm", ["r", "fc", "fcb"], ["y"], name: "fc", attributes: [ONNXBuilder.intAttribute("transB", 1)]),
        ]
        let inits = [
            HostileFiles.int64s("pads", [0, 0, 1, 1, 0, 0, 1, 1]),
            ONNXBuilder.floats("w", [2, 1, 3, 3], (0..<18).map { Float($0) / 18 - 0.5 }),
            ONNXBuilder.floats("cb", [2], [0.1, -0.1]),
            ONNXBuilder.floats("g", [2], [1, 0.5]), ONNXBuilder.floats("b", [2], [0, 0.2]),
            ONNXBuilder.floats("mean", [2], [0.1, 0]), ONNXBuilder.floats("var", [2], [1, 2]),
            ONNXBuilder.floats("half", [1], [0.5]),
            HostileFiles.int64s("shape", [-1, 18]),
            ONNXBuilder.floats("fc", [3, 18], (0..<54).map { Float($0 % 7) / 7 }),
            ONNXBuilder.floats("fcb", [3], [0, 1, 2]),
        ]
        return try ONNXBuilder.model(nodes: nodes, initializers: inits, inputs: [ONNXBuilder.valueInfo("x", [nil, 1, 6, 6])], output: "y")
    }

    private func readONNX(_ data: Data) throws {
        let graph = try ONNXImporter.load(data: data)
        _ = GraphDescription.text(graph, fileName: "mutant")
        if graph.inputShape.reduce(1, *) <= 100_000 {
            _ = try PlainExecutor.run(graph, input: Tensor(zeros: [1] + graph.inputShape))
        }
        _ = try ONNXImporter.refusals(data: data)
    }

    func testMutatedONNXNeverTraps() throws {
        run(try smallModel(), seed: 1, readONNX)
        run(try Fixtures.data("onnx/pad_reshape_op19.onnx"), count: 200, seed: 2, readONNX)
    }

    func testMutatedPNGNeverTraps() throws {
        for (k, name) in ["gray8", "rgb8", "palette"].enumerated() {
            run(try Fixtures.data("png/\(name).png"), count: 300, seed: 10 + UInt64(k)) { data in
                let image = try PNGDecoder.decode(data, name: name)
                XCTAssertEqual(image.samples.count, image.width * image.height * image.channels)
            }
        }
    }

    func testMutatedIDXNeverTraps() throws {
        let images: [UInt8] = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3] + (0..<18).map { UInt8($0 * 13) }
        let read: (Data) throws -> Void = { data in
            let file = try IDXFile(data: data, name: "mutant")
            XCTAssertEqual(file.dimensions.reduce(1, *), file.bytes.count)
            if file.dimensions.count == 3 { _ = try InputLoader.load(data: data, name: "mutant", sampleShape: [1, 3, 3], preprocessing: .unitRange) }
        }
        run(Data(images), seed: 20, read)
        run(HostileFiles.gzipStored(images), seed: 21, read)
        run(HostileFiles.gzipBomb(prefix: Array(images.prefix(16)), zeros: 18), seed: 22, read)
    }

    func testMutatedNPYNeverTraps() throws {
        let f4 = (0..<12).flatMap { withUnsafeBytes(of: Float($0).bitPattern.littleEndian, Array.init) }
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 2, 3), }"
        run(HostileFiles.npy(header: header, data: f4), seed: 30) { data in
            let t = try NPYFile.decode(data, name: "mutant")
            XCTAssertEqual(t.count, t.shape.reduce(1, *))
            _ = try? InputLoader.load(data: data, name: "mutant", sampleShape: [1, 2, 3], preprocessing: .unitRange)
        }
        let u1 = HostileFiles.npy(header: "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }", data: [1, 2, 3, 4, 5, 6])
        run(u1, seed: 31) { _ = try NPYFile.decode($0, name: "mutant") }
    }
}
