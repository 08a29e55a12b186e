import XCTest
import CKKS
import TileTensors
@testable import Compiler

/// Chunked execution (`ChunkedSegment`): a convolution made a few channel tiles at a time,
/// through the per-channel steps after it, into the next convolution's open sums. On CKKS the
/// result must equal the whole run bit for bit; on the mock, the segment must hold less.
final class ChunkedExecutionTests: XCTestCase {
    /// Small insecure parameters: N = 1024 (512 slots), five 40-bit levels.
    static let parameters = try! CKKSParameters(logDegree: 10, primeBits: [60, 40, 40, 40, 40, 40], specialPrimeBits: [60],
                                                logScale: 40, security: .insecureTestingOnly)

    /// conv F×C×k×k → x ⊙ (x + β) → + γ → conv F2×F×k2×k2 (biases random), on [C, H, W].
    static func segment(c: Int, h: Int, f: Int, k: Int, padding: Int, f2: Int, k2: Int, padding2: Int, seed: UInt64) -> [LoweredStep] {
        var rng = SplitMix(seed: seed)
        func values(_ n: Int, _ scale: Double) -> [Double] { (0..<n).map { _ in rng.nextUnit() * scale } }
        let oh = h + 2 * padding - k + 1
        let oh2 = oh + 2 * padding2 - k2 + 1
        return [
            LoweredStep(operation: .convolution(filters: values(f * c * k * k, 0.5), shape: [f, c, k, k], bias: values(f, 0.3), stride: 1, padding: padding),
                        inputShape: [c, h, h], outputShape: [f, oh, oh], sources: ["conv1"], inputs: [0]),
            LoweredStep(operation: .shiftedProduct(beta: values(f, 1)), inputShape: [f, oh, oh], outputShape: [f, oh, oh], sources: ["act"], inputs: [1]),
            LoweredStep(operation: .addChannelConstants(gamma: values(f, 0.5)), inputShape: [f, oh, oh], outputShape: [f, oh, oh], sources: ["act"], inputs: [2]),
            LoweredStep(operation: .convolution(filters: values(f2 * f * k2 * k2, 0.3), shape: [f2, f, k2, k2], bias: values(f2, 0.3), stride: 1, padding: padding2),
                        inputShape: [f, oh, oh], outputShape: [f2, oh2, oh2], sources: ["conv2"], inputs: [3]),
        ]
    }

    /// The plain reference of the steps on one sample.
    static func reference(_ steps: [LoweredStep], _ sample: [Double]) -> [Double] {
        steps.reduce(sample) { x, step in step.apply(x) }
    }

    /// Runs `steps` whole and in each of `chunkCounts` on one encryption, on CKKS with the
    /// rotation keys the mock saw, and checks: the chunked outputs equal the whole one residue
    /// for residue, and the whole one decrypts to the plain reference.
    func checkBitIdentical(_ steps: [LoweredStep], tiling: InterleavedTiling, batch: Int, chunkCounts: [Int],
                           file: StaticString = #filePath, line: UInt = #line) throws {
        let c = steps[0].inputShape[0], h = steps[0].inputShape[1]
        let shape = try tiling.inputShape(channels: c, height: h, width: h, batch: batch)
        var rng = SplitMix(seed: 7)
        let samples = (0..<batch).map { _ in (0..<(c * h * h)).map { _ in rng.nextUnit() } }
        let input = try ChainExecution.inputTensor(samples, shape: [c, h, h])
        let tilings = Array(repeating: tiling, count: steps.count)
        // The rotations every run uses, from the mock.
        let mock = MockBackend(slotCount: Self.parameters.slotCount, parameters: Self.parameters)
        for chunks in [1] + chunkCounts {
            let x = try TileTensor(encrypting: input, shape: shape, backend: mock)
            _ = try ChainExecution.run(steps, input: x, tilings: tilings, chunks: Self.plan(chunks, steps.count))
        }
        let context = try CKKSContext(parameters: Self.parameters)
        let keygen = KeyGenerator(context: context)
        let secret = keygen.secretKey()
        let keys = try keygen.evaluationKeys(for: secret, rotations: Array(mock.rotationSteps))
        let backend = CKKSBackend(context: context, keys: keys, encryptor: Encryptor(secretKey: secret), decryptor: Decryptor(secretKey: secret))
        let x = try TileTensor(encrypting: input, shape: shape, backend: backend)
        let whole = try ChainExecution.run(steps, input: x, tilings: tilings)
        // The whole run against the plain steps (the chunked ones equal it bit for bit below).
        let decrypted = try whole.decrypt()
        let outputs = ChainExecution.outputSamples(decrypted, channelDimension: InterleavedTiling.channelDimension(of: whole.shape))
        for (i, sample) in samples.enumerated() {
            let want = Self.reference(steps, sample)
            let worst = zip(outputs[i], want).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThan(worst, 1e-3, "sample \(i): the whole run against the plain steps", file: file, line: line)
        }
        for chunks in chunkCounts {
            let chunked = try ChainExecution.run(steps, input: x, tilings: tilings, chunks: Self.plan(chunks, steps.count))
            XCTAssertEqual(chunked.shape, whole.shape, "\(chunks) chunks", file: file, line: line)
            XCTAssertEqual(chunked.level, whole.level, "\(chunks) chunks", file: file, line: line)
            XCTAssertEqual(chunked.tiles.count, whole.tiles.count, file: file, line: line)
            for (t, (a, b)) in zip(chunked.tiles, whole.tiles).enumerated() {
                XCTAssertEqual(a.components, b.components, "\(chunks) chunks: tile \(t) differs from the whole run's", file: file, line: line)
                XCTAssertEqual(a.scale, b.scale, file: file, line: line)
            }
        }
    }

    /// Chunks for the first step only.
    static func plan(_ chunks: Int, _ count: Int) -> [Int] {
        [chunks] + Array(repeating: 1, count: count - 1)
    }

    /// Interleaved tiles (rotations, hoisted products): 6 channels in tiles of 2, cut in 2 and 3.
    func testChunkedEqualsWholeWithRotations() throws {
        let steps = Self.segment(c: 2, h: 8, f: 6, k: 3, padding: 1, f2: 3, k2: 3, padding2: 1, seed: 11)
        try checkBitIdentical(steps, tiling: InterleavedTiling(t0: 2, t1: 2, tX: 4, tY: 4, tB: 8), batch: 2, chunkCounts: [2, 3])
    }

    /// One-pixel tiles (the batch plans: scalar weights, lazy sums, a dense second layer):
    /// 5 channels cut in 2 and 5.
    func testChunkedEqualsWholeInTheBatchLayout() throws {
        let steps = Self.segment(c: 1, h: 6, f: 5, k: 3, padding: 0, f2: 3, k2: 4, padding2: 0, seed: 12)
        try checkBitIdentical(steps, tiling: InterleavedTiling(t0: 1, t1: 1, tX: 1, tY: 1, tB: 512), batch: 3, chunkCounts: [2, 5])
    }

    /// On the mock's tracker a chunked segment holds less at its peak than the whole run (the
    /// first layer's output never whole), with the same values.
    func testChunksLowerThePeak() throws {
        let steps = Self.segment(c: 1, h: 10, f: 16, k: 3, padding: 1, f2: 4, k2: 3, padding2: 1, seed: 13)
        let tiling = InterleavedTiling(t0: 1, t1: 1, tX: 1, tY: 1, tB: 512)
        let shape = try tiling.inputShape(channels: 1, height: 10, width: 10, batch: 2)
        var rng = SplitMix(seed: 3)
        let input = try ChainExecution.inputTensor((0..<2).map { _ in (0..<100).map { _ in rng.nextUnit() } }, shape: [1, 10, 10])
        var peaks: [Int: Int] = [:]
        var results: [Int: TileTensors.Tensor] = [:]
        for chunks in [1, 4, 16] {
            let mock = MockBackend(slotCount: Self.parameters.slotCount, parameters: Self.parameters)
            let memory = MemoryTracker()
            mock.memoryTracker = memory
            let x = try TileTensor(encrypting: input, shape: shape, backend: mock)
            memory.resetPeak()
            results[chunks] = try ChainExecution.run(steps, input: x, tilings: Array(repeating: tiling, count: 4),
                                                     chunks: Self.plan(chunks, 4)).decrypt()
            peaks[chunks] = memory.peak
        }
        // The mock adds doubles in the chunks' order: equal up to rounding.
        for chunks in [4, 16] {
            let worst = zip(results[chunks]!.values, results[1]!.values).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThan(worst, 1e-9, "\(chunks) chunks against whole")
        }
        // Whole: input + the 16-channel output (141.8 MB at these levels). In chunks: input, one
        // chunk of that output, and the second layer's sums (its 4 channels).
        XCTAssertLessThan(Double(peaks[4]!), 0.7 * Double(peaks[1]!), "peaks \(peaks)")
        XCTAssertLessThan(peaks[16]!, peaks[4]!, "peaks \(peaks)")
    }

    /// A plan asking for chunks where no segment starts, or for more chunks than channel tiles,
    /// is refused by name.
    func testInconsistentChunksAreRefused() throws {
        let steps = Self.segment(c: 2, h: 8, f: 6, k: 3, padding: 1, f2: 3, k2: 3, padding2: 1, seed: 11)
        let tiling = InterleavedTiling(t0: 2, t1: 2, tX: 4, tY: 4, tB: 8)
        let shape = try tiling.inputShape(channels: 2, height: 8, width: 8, batch: 1)
        let mock = MockBackend(slotCount: Self.parameters.slotCount, parameters: Self.parameters)
        let input = try ChainExecution.inputTensor([(0..<128).map { Double($0) / 128 }], shape: [2, 8, 8])
        let tilings = Array(repeating: tiling, count: 4)
        for (chunks, message) in [([1, 2, 1, 1], "does not start"), ([4, 1, 1, 1], "2 … 3"), ([2, 1], "chunk counts")] {
            let x = try TileTensor(encrypting: input, shape: shape, backend: mock)
            XCTAssertThrowsError(try ChainExecution.run(steps, input: x, tilings: tilings, chunks: chunks)) { error in
                XCTAssertTrue("\(error)".contains(message), "\(chunks): \(error)")
            }
        }
        // A first layer of one channel tile (2 channels in tiles of 2) cannot be cut at all: an
        // error, not a trap (a model file may ask for 2 chunks of its 2 channels).
        let narrow = Self.segment(c: 2, h: 8, f: 2, k: 3, padding: 1, f2: 3, k2: 3, padding2: 1, seed: 11)
        let x = try TileTensor(encrypting: input, shape: shape, backend: mock)
        XCTAssertThrowsError(try ChainExecution.run(narrow, input: x, tilings: tilings, chunks: [2, 1, 1, 1])) { error in
            XCTAssertTrue("\(error)".contains("2 … 1 at most"), "\(error)")
        }
    }
}
