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
    static func describe(_ name: String, input: TileShape, output: TileShape, counts: OperationCounts, levels: Int,
                         into report: inout BenchReport) {
        report.notes.append("\(name): \(input) → \(output), \(levels) level(s)")
        report.notes.append("  counts: \(counts)")
    }
}
