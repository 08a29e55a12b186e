import Foundation
import XCTest
@testable import Model

/// Truncated and byte-flipped ONNX, PNG, IDX and .npy files: each decode either succeeds (a
/// flipped weight is still a valid model) or throws a `ModelError` with a message; none crashes.
final class FuzzTests: XCTestCase {
    /// Feeds truncations (at up to `cuts` lengths) and `flips` variants with 1–3 changed bytes.
    private func fuzz(_ original: Data, cuts: Int = 120, flips: Int = 300, seed: UInt64,
                      _ decode: (Data) throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> (errors: Int, accepted: Int) {
        var rng = SplitMix64(state: seed)
        var variants: [Data] = []
        let step = max(1, original.count / cuts)
        for length in stride(from: 0, to: original.count, by: step) { variants.append(original.prefix(length)) }
        for _ in 0..<flips {
            var bytes = [UInt8](original)
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
            }
            variants.append(Data(bytes))
        }
        let (errors, accepted) = MutantReading.read(variants, decode, file: file, line: line)
        return (errors, accepted)
    }

    func testCorruptedONNX() throws {
        for (seed, name) in ["conv_bn_poly_op17", "mlp_spellings_op11", "pad_reshape_op19"].enumerated() {
            try fuzzONNX(name, seed: UInt64(seed))
        }
    }

    private func fuzzONNX(_ name: String, seed: UInt64) throws {
        let original = try Fixtures.data("onnx/\(name).onnx")
        let result = fuzz(original, seed: 10 + seed) { data in
            let graph = try ONNXImporter.load(data: data)
            // An accepted model must also run (small inputs only: a flip may enlarge the image).
            if graph.inputShape.reduce(1, *) <= 100_000 {
                _ = try PlainExecutor.run(graph, input: Tensor(zeros: [1] + graph.inputShape))
                _ = GraphDescription.text(graph, fileName: "fuzz")
            }
        }
        XCTAssertGreaterThan(result.errors, 100, name)
        let truncatedOnly = fuzz(original, cuts: 200, flips: 0, seed: 2) { _ = try ONNXImporter.load(data: $0) }
        XCTAssertEqual(truncatedOnly.accepted, 0, "a truncated \(name) was accepted")
    }

    func testCorruptedPNG() throws {
        for name in ["gray16", "palette", "rgba8"] {
            let original = try Fixtures.data("png/\(name).png")
            let result = fuzz(original, cuts: original.count, seed: 3) { data in
                let image = try PNGDecoder.decode(data, name: name)
                XCTAssertEqual(image.samples.count, image.width * image.height * image.channels)
            }
            XCTAssertGreaterThan(result.errors, original.count / 2, name)
        }
    }

    func testCorruptedIDX() throws {
        let labels = try Data(contentsOf: InputTests.mnist.appendingPathComponent("t10k-labels-idx1-ubyte.gz"))
        let gz = fuzz(labels, cuts: 60, flips: 60, seed: 4) { data in
            let file = try IDXFile(data: data)
            XCTAssertEqual(file.count, file.bytes.count)
        }
        XCTAssertGreaterThan(gz.errors, 60)
        let header: [UInt8] = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3]
        let raw = Data(header + (0..<18).map { UInt8($0) })
        let plain = fuzz(raw, cuts: raw.count, seed: 5) { data in
            let file = try IDXFile(data: data)
            _ = try InputLoader.load(data: data, name: "fuzz", sampleShape: [1, 3, 3], preprocessing: .unitRange)
            XCTAssertEqual(file.dimensions.reduce(1, *), file.bytes.count)
        }
        XCTAssertGreaterThan(plain.errors, raw.count)
    }

    func testCorruptedNPY() throws {
        for name in ["f32_2x1x2x3", "u8_2x1x2x3", "f64_1x2x3"] {
            let original = try Fixtures.data("npy/\(name).npy")
            let result = fuzz(original, cuts: original.count, seed: 6) { data in
                let t = try NPYFile.decode(data, name: name)
                XCTAssertEqual(t.count, t.shape.reduce(1, *))
            }
            XCTAssertGreaterThan(result.errors, original.count / 2, name)
        }
    }
}
