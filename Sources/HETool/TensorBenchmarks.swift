import Compiler
import CKKS
import Foundation
import TileTensors

/// Shared steps of `bench conv` and `bench matmul`: count a kernel on the mock, then time it on
/// CKKS with exactly the rotation keys the mock saw.
enum TensorBenchmarks {
    /// A CKKS backend with fresh keys for `rotations`.
    static func backend(parameters: CKKSParameters, rotations: Set<Int>) throws -> CKKSBackend {
        let context = try CKKSContext(parameters: parameters)
        let keygen = KeyGenerator(context: context)
        let sk = keygen.secretKey()
        let keys = try keygen.evaluationKeys(for: sk, rotations: Array(rotations))
        return CKKSBackend(context: context, keys: keys, encryptor: Encryptor(secretKey: sk), decryptor: Decryptor(secretKey: sk))
    }

    static func random(_ shape: [Int]) -> Tensor {
        var rng = SystemRandomNumberGenerator()
        return try! Tensor(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in Double.random(in: -1...1, using: &rng) })
    }

    /// −log2 of the largest absolute error.
    static func bits(_ a: Tensor, _ b: Tensor) -> Double {
        -log2(max(zip(a.values, b.values).map { abs($0 - $1) }.max() ?? 0, 0x1p-60))
    }

    /// The report lines of one kernel: layout, counts, levels; then the CKKS timing row.
    /// The cost model's estimate beside the measured median, from the single-thread calibration
    /// cached for these parameters (or how to make one).
    static func estimateNote(_ countsByLevel: [Int: OperationCounts], parameters: CKKSParameters, preset: String,
                             measured: Double) -> String {
        guard let table = try? CalibrationCache(threads: 1).load(),
              let model = try? CostModel(table: table, parameters: parameters),
              let estimate = try? model.microseconds(byLevel: countsByLevel) else {
            return "  no single-thread calibration of \(preset) cached: `he-tool calibrate --params \(preset) --threads 1` adds the cost model's estimate here"
        }
        return String(format: "  cost model estimate %.0f µs, measured median %.0f µs (measured / estimate %.2f)",
                      estimate, measured, measured / estimate)
    }

    static func describe(_ name: String, input: TileShape, output: TileShape, counts: OperationCounts, levels: Int,
                         into report: inout BenchReport) {
        report.notes.append("\(name): \(input) → \(output), \(levels) level(s)")
        report.notes.append("  counts: \(counts)")
    }
}
