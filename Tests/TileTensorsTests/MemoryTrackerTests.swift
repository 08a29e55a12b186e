import XCTest
import CKKS
@testable import TileTensors

/// The mock's memory tracker counts what the real objects would occupy, while the mock holds
/// them: the compiler's peak-memory estimate is made of it.
final class MemoryTrackerTests: XCTestCase {
    func testLiveObjectsAreCountedAtTheirLevelAndReleased() throws {
        let mock = Fixtures.mock(slots: 8)
        let tracker = MemoryTracker()
        mock.memoryTracker = tracker
        let n = mock.degree
        func ciphertextBytes(level: Int, components: Int = 2) -> Int { components * (level + 1) * n * 8 }
        var plain: MockBackend.Plaintext? = try mock.encode([1, 2], scale: mock.defaultScale, level: 4)
        XCTAssertEqual(tracker.current, 5 * n * 8, "a plaintext is one polynomial over the level's primes")
        var a: MockBackend.Ciphertext? = try mock.encrypt(plain!)
        plain = nil
        XCTAssertEqual(tracker.current, ciphertextBytes(level: 4))
        // A copy shares the object (as CKKS values share storage); an operation makes a new one.
        let copy = a!
        XCTAssertEqual(tracker.current, ciphertextBytes(level: 4))
        var rotated: [Int: MockBackend.Ciphertext]? = try mock.rotations(of: copy, by: [0, 1, 2, 3])
        XCTAssertEqual(tracker.current, 4 * ciphertextBytes(level: 4), "three new rotations; step 0 is the input itself")
        var product: MockBackend.Ciphertext? = try mock.multiplyWithoutRelinearization(copy, rotated![1]!)
        XCTAssertEqual(tracker.peak, 4 * ciphertextBytes(level: 4) + ciphertextBytes(level: 4, components: 3))
        let peak = tracker.peak   // (the optimizer may end `rotated`'s life early: read the peak, not what is alive)
        rotated = nil
        product = try mock.rescale(mock.relinearize(product!))
        XCTAssertEqual(tracker.current, ciphertextBytes(level: 4) + ciphertextBytes(level: 3))
        // The relinearized and rescaled products were alive beside the 3-component one for a
        // moment, but with the rotations gone that stayed below the earlier peak.
        XCTAssertEqual(tracker.peak, peak)
        XCTAssertEqual(tracker.peakPolynomials, 4 * 2 + 3, "the polynomials alive at the peak")
        tracker.resetPeak()
        XCTAssertEqual(tracker.peak, tracker.current)
        a = nil
        product = nil
        _ = copy
        XCTAssertEqual(tracker.current, ciphertextBytes(level: 4), "only the copy is left")
    }

    /// A convolution's peak holds its input, the hoisted rotations of one source tile, the
    /// plaintexts in flight and the accumulators, and every one of them is released after.
    func testAConvolutionsPeakCoversItsTransients() throws {
        var rng = TestRNG(seed: 7)
        let mock = Fixtures.mock(slots: 512)
        let tracker = MemoryTracker()
        mock.memoryTracker = tracker
        let shape = try TileShape(parsing: "[4/4, */8, 8~/4, 8~/4, 1/1]")
        var x: TileTensor<MockBackend>? = try TileTensor(encrypting: Fixtures.random([4, 1, 8, 8, 1], &rng), shape: shape, backend: mock)
        let input = tracker.current
        XCTAssertEqual(input, x!.memory)
        tracker.resetPeak()
        var y: TileTensor<MockBackend>? = try x!.conv2dInterleaved(filters: Fixtures.random([8, 4, 3, 3], &rng), stride: 1, padding: 1)
        XCTAssertGreaterThan(tracker.peak, input + y!.memory, "rotations, plaintexts and accumulators were alive at once")
        XCTAssertEqual(tracker.current, input + y!.memory, "and nothing but the input and the output is left")
        x = nil
        y = nil
        XCTAssertEqual(tracker.current, 0)
    }
}
