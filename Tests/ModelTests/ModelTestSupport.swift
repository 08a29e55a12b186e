import Foundation
import XCTest
@testable import Model

/// Fixture files (made by Fixtures/make_fixtures.py) and the expected outputs beside them.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static func url(_ relative: String) -> URL { directory.appendingPathComponent(relative) }
    static func onnx(_ name: String) -> URL { url("onnx/\(name).onnx") }
    static func data(_ relative: String) throws -> Data { try Data(contentsOf: url(relative)) }

    /// One model's record: onnxruntime's output on a fixed input.
    struct Expected: Decodable {
        var model: String
        var opset: Int
        var nodes: [String]
        var input_shape: [Int]?
        var input: [Double]?
        var output_shape: [Int]?
        var output: [Double]?
        var inputTensor: Tensor { Tensor(shape: input_shape!, values: input!) }
    }

    static func expected(_ name: String) throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: data("onnx/\(name).json"))
    }

    /// Names of all ONNX fixtures that carry an onnxruntime output.
    static func runnableModels() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: url("onnx").path)
            .filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
            .filter { try expected($0).output != nil }
    }

    /// A fresh temporary directory, removed at the end of the test.
    static func temporaryDirectory(_ test: XCTestCase) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("modeltests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }
}

/// Relative error of `actual` against `expected` in the max norm: max|a − e| / max|e|. (Element
/// by element would be meaningless for outputs near zero, which float32 inference in
/// onnxruntime computes with an absolute error of ~1e-7 of the intermediate values' scale.)
func maxRelativeError(_ actual: [Double], _ expected: [Double]) -> Double {
    let scale = max(expected.map(abs).max() ?? 1, 1e-300)
    return (zip(actual, expected).map { abs($0 - $1) }.max() ?? 0) / scale
}

func softmaxRows(_ t: Tensor) -> [Double] {
    let width = t.shape.last!
    var out: [Double] = []
    for row in 0..<(t.count / width) {
        let slice = t.values[(row * width)..<((row + 1) * width)]
        let m = slice.max()!
        let e = slice.map { Foundation.exp($0 - m) }
        let s = e.reduce(0, +)
        out += e.map { $0 / s }
    }
    return out
}

/// The project's shared data folder (the real MNIST and Fashion-MNIST files): $HE_TOOL_DATA, else
/// ../shared/data beside the repository, else /work/shared/data, where this workplace keeps it
/// (a clone elsewhere, such as CI's /tmp/clean, still finds it). Tests that need the data skip,
/// naming the places looked at, when none of them holds it.
enum SharedData {
    static let candidates: [URL] = {
        var list: [URL] = []
        if let path = ProcessInfo.processInfo.environment["HE_TOOL_DATA"], !path.isEmpty {
            list.append(URL(fileURLWithPath: path))
        }
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardizedFileURL
        list.append(repository.appendingPathComponent("../shared/data").standardizedFileURL)
        list.append(URL(fileURLWithPath: "/work/shared/data"))
        return list
    }()

    /// The first candidate that holds the MNIST files, if any.
    static let directory: URL? = candidates.first {
        FileManager.default.fileExists(atPath: $0.appendingPathComponent("mnist/t10k-labels-idx1-ubyte.gz").path)
    }

    /// A data set's folder (`mnist`, `fashion-mnist`), or a skip naming where it was looked for.
    static func folder(_ name: String) throws -> URL {
        guard let directory else {
            throw XCTSkip("the shared data folder was not found (looked in \(candidates.map(\.path).joined(separator: ", "))); set HE_TOOL_DATA")
        }
        return directory.appendingPathComponent(name)
    }
}
