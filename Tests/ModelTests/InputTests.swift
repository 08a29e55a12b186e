import Foundation
import XCTest
@testable import Model

/// PNG, IDX and .npy decoding with known values, and preprocessing into the model's input.
final class InputTests: XCTestCase {
    static var mnist: URL { get throws { try SharedData.folder("mnist") } }
    static var fashion: URL { get throws { try SharedData.folder("fashion-mnist") } }

    private func png(_ name: String) throws -> DecodedImage {
        try PNGDecoder.decode(try Fixtures.data("png/\(name).png"), name: name)
    }

    func testGrey8AndGrey16PNG() throws {
        let g8 = try png("gray8")
        XCTAssertEqual([g8.width, g8.height, g8.channels, g8.maxValue], [5, 3, 1, 255])
        let g16 = try png("gray16")
        XCTAssertEqual([g16.width, g16.height, g16.channels, g16.maxValue], [5, 3, 1, 65535])
        for y in 0..<3 {
            for x in 0..<5 {
                XCTAssertEqual(Int(g8.sample(x: x, y: y, channel: 0)), (x * 50 + y * 20) % 256)
                XCTAssertEqual(Int(g16.sample(x: x, y: y, channel: 0)), x * 12000 + y * 1001 + 7)
            }
        }
    }

    func testOneBitGreyPNGExpandsTo8Bits() throws {
        let g1 = try png("gray1")
        XCTAssertEqual([g1.width, g1.height, g1.channels, g1.maxValue], [5, 3, 1, 255])
        for y in 0..<3 { for x in 0..<5 { XCTAssertEqual(g1.sample(x: x, y: y, channel: 0), (x + y) % 2 == 0 ? 255 : 0) } }
    }

    func testRGBRGBAAndPalettePNG() throws {
        let rgb = try png("rgb8"), rgba = try png("rgba8"), palette = try png("palette")
        XCTAssertEqual([rgb.channels, rgba.channels], [3, 4])
        XCTAssertTrue(rgba.hasAlpha)
        XCTAssertEqual(palette.colorChannels, 3)
        let colors: [[Int]] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]]
        for y in 0..<3 {
            for x in 0..<5 {
                let expected = [x * 60, y * 100, 255 - x * 10 - y]
                XCTAssertEqual((0..<3).map { Int(rgb.sample(x: x, y: y, channel: $0)) }, expected)
                XCTAssertEqual((0..<3).map { Int(rgba.sample(x: x, y: y, channel: $0)) }, expected)
                XCTAssertEqual(Int(rgba.sample(x: x, y: y, channel: 3)), 200)
                XCTAssertEqual((0..<3).map { Int(palette.sample(x: x, y: y, channel: $0)) }, colors[(x + y) % 4])
            }
        }
    }

    func testPreprocessingScalesNormalizesAndChecksTheShape() throws {
        let rgba = try png("rgba8")
        let p = Preprocessing(mean: [0.5, 0.25, 0], std: [0.5, 1, 2])
        let t = try p.tensor(from: rgba, sampleShape: [3, 3, 5], name: "rgba8")
        // channel 1 at (x 2, y 1): green = 100 → (100/255 − 0.25) / 1
        XCTAssertEqual(t.values[(1 * 3 + 1) * 5 + 2], 100.0 / 255 - 0.25, accuracy: 1e-12)
        XCTAssertEqual(t.values[0], (0 - 0.5) / 0.5, accuracy: 1e-12)
        XCTAssertThrowsError(try p.tensor(from: rgba, sampleShape: [1, 3, 5], name: "rgba8")) { error in
            XCTAssertTrue("\(error)".contains("expects 1"), "\(error)")
        }
        XCTAssertThrowsError(try p.tensor(from: rgba, sampleShape: [3, 28, 28], name: "rgba8")) { error in
            XCTAssertTrue("\(error)".contains("28×28"), "\(error)")
        }
        let grey16 = try Preprocessing.unitRange.tensor(from: try png("gray16"), sampleShape: [15], name: "g")
        XCTAssertEqual(grey16.values[1], Double(12007) / 65535, accuracy: 1e-15)
    }

    func testMNISTTestFilesDecodeWithTheirREADMELabels() throws {
        let labels = try IDXFile(contentsOf: Self.mnist.appendingPathComponent("t10k-labels-idx1-ubyte.gz"))
        XCTAssertEqual(Array(labels.labels.prefix(10)), [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
        var counts = [Int](repeating: 0, count: 10)
        for l in labels.labels { counts[l] += 1 }
        XCTAssertEqual(counts, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
        let images = try IDXFile(contentsOf: Self.mnist.appendingPathComponent("t10k-images-idx3-ubyte.gz"))
        XCTAssertEqual(images.dimensions, [10000, 28, 28])
        let trainLabels = try IDXFile(contentsOf: Self.mnist.appendingPathComponent("train-labels-idx1-ubyte.gz"))
        XCTAssertEqual(Array(trainLabels.labels.prefix(10)), [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
        let fashion = try IDXFile(contentsOf: Self.fashion.appendingPathComponent("t10k-labels-idx1-ubyte.gz"))
        XCTAssertEqual(Array(fashion.labels.prefix(10)), [9, 2, 1, 1, 6, 1, 4, 6, 5, 7])
        // The committed PNG is test image 0; decoding either gives the same pixels.
        XCTAssertEqual(try images.image(0), try png("mnist_test0_label7"))
    }

    func testUncompressedIDXAndItsErrors() throws {
        let header: [UInt8] = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3]
        let body: [UInt8] = Array(0..<12)
        let file = try IDXFile(data: Data(header + body))
        XCTAssertEqual(file.dimensions, [2, 2, 3])
        XCTAssertEqual(try file.image(1).samples, (6..<12).map(UInt16.init))
        XCTAssertThrowsError(try IDXFile(data: Data(header + body.dropLast()))) { error in
            XCTAssertTrue("\(error)".contains("truncated"), "\(error)")
        }
    }

    func testNPYFloat32Float64AndUInt8() throws {
        let f32 = try NPYFile.decode(try Fixtures.data("npy/f32_2x1x2x3.npy"))
        XCTAssertEqual(f32.shape, [2, 1, 2, 3])
        XCTAssertEqual(f32.values, (0..<12).map { Double($0) / 4 - 1 })
        let f64 = try NPYFile.decode(try Fixtures.data("npy/f64_1x2x3.npy"))
        XCTAssertEqual(f64.shape, [1, 2, 3])
        XCTAssertEqual(f64.values, (0..<6).map { (Double($0) / 4 - 1) * 3 })
        let u8 = try NPYFile.decode(try Fixtures.data("npy/u8_2x1x2x3.npy"))
        XCTAssertEqual(u8.values, (0..<12).map { Double($0 * 20) })
        // A batch gives one sample per row; one sample without batch axis is accepted too.
        let rows = try InputLoader.load(data: try Fixtures.data("npy/f32_2x1x2x3.npy"), name: "f32.npy", sampleShape: [1, 2, 3], preprocessing: .unitRange)
        XCTAssertEqual(rows.map(\.name), ["f32.npy[0]", "f32.npy[1]"])
        XCTAssertEqual(rows[1].tensor.values, Array(f32.values[6...]))
        XCTAssertThrowsError(try InputLoader.load(data: try Fixtures.data("npy/f32_2x1x2x3.npy"), name: "f32.npy", sampleShape: [1, 3, 2], preprocessing: .unitRange))
    }

    func testMNISTModelEndToEnd() throws {
        let graph = try ONNXImporter.load(contentsOf: Fixtures.onnx("mnist_square_op13"))
        let preprocessing = try Preprocessing.fromMetadata(of: graph)
        XCTAssertEqual(preprocessing, Preprocessing(mean: [0.1307], std: [0.3081]))
        let samples = try InputLoader.load(Self.mnist.appendingPathComponent("t10k-images-idx3-ubyte.gz"),
                                           sampleShape: graph.inputShape, preprocessing: preprocessing, limit: 500)
        XCTAssertEqual(samples.count, 500)
        let labels = try IDXFile(contentsOf: Self.mnist.appendingPathComponent("t10k-labels-idx1-ubyte.gz")).labels
        let logits = try PlainExecutor.run(graph, input: InputLoader.batch(samples))
        let predictions = Classification.topK(logits, k: 1).map { $0[0].0 }
        let accuracy = Double(zip(predictions, labels).filter { $0 == $1 }.count) / 500
        XCTAssertGreaterThan(accuracy, 0.9, "accuracy \(accuracy)")
        XCTAssertEqual(Classification.accuracy(logits, labels: labels), accuracy)
        // The same digits as a normalized float32 .npy give the same logits.
        let npy = try InputLoader.load(Fixtures.url("npy/mnist_test0to3_normalized.npy"), sampleShape: graph.inputShape, preprocessing: .unitRange)
        let npyLogits = try PlainExecutor.run(graph, input: InputLoader.batch(npy))
        XCTAssertLessThan(maxRelativeError(npyLogits.values, Array(logits.values[0..<40])), 1e-6)
        let png = try InputLoader.load(Fixtures.url("png/mnist_test0_label7.png"), sampleShape: graph.inputShape, preprocessing: preprocessing)
        XCTAssertEqual(Classification.topK(try PlainExecutor.run(graph, input: InputLoader.batch(png)), k: 1)[0][0].0, 7)
    }
}
