import XCTest
import CKKS
@testable import TileTensors

/// Issue 17's "intermediates freed early" inside a step: an elementwise step handed its input
/// (`consume`) releases each input tile once used, so it never holds its input and its output
/// whole at once; a convolution never holds its output beside the biased copy. Measured on the
/// mock's memory tracker, which counts what the CKKS objects would occupy (the compiler's
/// peak-memory estimate is made of it); the values and counts are those of the kept-input run.
final class TileReleaseTests: XCTestCase {
    private let shape = "[4/1, */1, 4~/1, 4~/1, 8/8]"   // 64 one-pixel tiles of 8 images

    private func input(_ mock: MockBackend) throws -> TileTensor<MockBackend> {
        var rng = TestRNG(seed: 11)
        return try TileTensor(encrypting: Fixtures.random([4, 1, 4, 4, 8], &rng), shape: TileShape(parsing: shape), backend: mock)
    }

    /// The peak of `body` over what is alive before it, and its result's bytes.
    private func peak(_ tracker: MemoryTracker, _ body: () throws -> TileTensor<MockBackend>) rethrows -> (peak: Int, output: TileTensor<MockBackend>) {
        tracker.resetPeak()
        let before = tracker.current
        let y = try body()
        return (tracker.peak - before, y)
    }

    func testASquareReleasesItsInputTileByTile() throws {
        let mock = Fixtures.mock(slots: 8)
        let tracker = MemoryTracker()
        mock.memoryTracker = tracker
        // Kept: the caller still holds x, so input and output are alive together.
        let kept = try input(mock)
        let inputBytes = kept.memory
        let (keptPeak, keptOutput) = try peak(tracker) { try kept.squared() }
        XCTAssertGreaterThanOrEqual(keptPeak, keptOutput.memory, "the kept input stays; the whole output is made beside it")
        let keptValues = try keptOutput.decrypt()
        let keptCounts = mock.counts
        _ = consume keptOutput
        _ = consume kept
        XCTAssertEqual(tracker.current, 0)

        mock.resetCounts()
        let handed = try input(mock)
        let before = tracker.current
        XCTAssertEqual(before, inputBytes)
        tracker.resetPeak()
        let output = try (consume handed).squared()
        // At most the input plus one tile's product (3 components) and its relinearized copy.
        let tile = inputBytes / 64
        XCTAssertLessThanOrEqual(tracker.peak, inputBytes + 3 * tile, "the input was released tile by tile")
        XCTAssertEqual(tracker.current, output.memory, "only the output is left")
        XCTAssertEqual(try output.decrypt().values, keptValues.values)
        XCTAssertEqual(mock.counts, keptCounts)
    }

    /// x ⊙ (x + β) tile by tile: x + β never exists whole, the input is released as it is used,
    /// and the values and operation totals are those of the addition and product made apart.
    func testAShiftedProductMakesNoWholeSumAndReleasesItsInput() throws {
        let mock = Fixtures.mock(slots: 8)
        let tracker = MemoryTracker()
        mock.memoryTracker = tracker
        var rng = TestRNG(seed: 12)
        let beta = Fixtures.random([4, 1, 1, 1, 1], &rng)
        let betaShape = try TileShape(parsing: "[4/1, */1, */1, */1, */8]")
        let apart: Tensor, apartCounts: OperationCounts
        do {
            let x = try input(mock)
            apart = try x.multiplied(by: x.adding(plain: beta, shape: betaShape)).decrypt()
            apartCounts = mock.counts
        }
        mock.resetCounts()
        let x = try input(mock)
        let inputBytes = x.memory
        tracker.resetPeak()
        let y = try (consume x).multipliedByShifted(beta, coefficientShape: betaShape)
        // One tile's sum, its product (3 components) and the relinearized copy at a time, and
        // β's 4 plaintexts (half a tile each): 4.5 + 2 tiles, where the whole x + β is 64.
        let tile = inputBytes / 64
        XCTAssertLessThanOrEqual(tracker.peak, inputBytes + 4 * tile + tile / 2 + 4 * tile / 2, "one tile's sum and product at a time")
        XCTAssertEqual(tracker.current, y.memory)
        XCTAssertEqual(try y.decrypt().values, apart.values)
        let fused = mock.counts
        for counter in [\OperationCounts.encodes, \.additions, \.multiplications, \.relinearizations, \.rescales] {
            XCTAssertEqual(fused[keyPath: counter], apartCounts[keyPath: counter])
        }
    }

    /// A one-pixel convolution with a bias (constants added tile by tile) holds its input and
    /// its output, never the output beside the biased copy.
    func testAConvolutionsBiasReplacesItsOutputTileByTile() throws {
        let mock = Fixtures.mock(slots: 8)
        let tracker = MemoryTracker()
        mock.memoryTracker = tracker
        var rng = TestRNG(seed: 13)
        let x = try TileTensor(encrypting: Fixtures.random([1, 1, 4, 4, 8], &rng), shape: TileShape(parsing: "[1/1, */1, 4~/1, 4~/1, 8/8]"), backend: mock)
        let inputBytes = x.memory
        tracker.resetPeak()
        let y = try x.conv2dInterleaved(filters: Fixtures.random([6, 1, 3, 3], &rng), bias: (0..<6).map(Double.init), stride: 1, padding: 1)
        let outputBytes = y.memory
        XCTAssertEqual(y.tiles.count, 6 * 16)
        XCTAssertLessThan(tracker.peak, inputBytes + outputBytes + outputBytes / 8, "input, output and a few sums in flight; not two outputs")
        XCTAssertEqual(tracker.current, inputBytes + outputBytes)
    }
}
