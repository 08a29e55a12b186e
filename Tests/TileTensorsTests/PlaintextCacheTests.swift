import XCTest
import CKKS
@testable import TileTensors

/// The plaintext cache (`TensorBackend.plaintextCacheBytes`, `eval --plaintext-cache-mb`) trades
/// memory for encodes and nothing else: without it a convolution encodes each re-used tap
/// plaintext again, and its ciphertexts are the same bits.
final class PlaintextCacheTests: XCTestCase {
    func testNoCacheEncodesAgainAndGivesTheSameCiphertexts() throws {
        var rng = TestRNG(seed: 79)
        let x = Fixtures.random([2, 3, 6, 6], &rng), w = Fixtures.random([4, 3, 3, 3], &rng)
        // One tile per pixel: each tap plaintext serves every output pixel it reaches.
        let shape = try TileShape(parsing: "[3/4, */4, 6/1, 6/1, 2/32]")
        func encodes(cache: Int) throws -> Int {
            let mock = Fixtures.mock()
            mock.plaintextCacheBytes = cache
            let t = try TileTensor(encrypting: ConvTests.toTiles(x, channelsIn: 0), shape: shape, backend: mock)
            mock.resetCounts()
            _ = try t.conv2dInterleaved(filters: w, stride: 1, padding: 1)
            return mock.counts.encodes
        }
        let cached = try encodes(cache: TensorBackendDefaults.plaintextCacheBytes), uncached = try encodes(cache: 0)
        XCTAssertEqual(cached, 9, "one encode per tap (3×3 taps, one channel and filter tile)")
        // One per product: along each image axis the 6 outputs read 2 + 3·4 + 2 = 16 taps inside the image.
        XCTAssertEqual(uncached, 16 * 16, "one encode per product")

        let mock = Fixtures.mock()
        let counted = try TileTensor(encrypting: ConvTests.toTiles(x, channelsIn: 0), shape: shape, backend: mock)
        _ = try counted.conv2dInterleaved(filters: w, stride: 1, padding: 1)
        let ckks = try Fixtures.ckks(rotations: mock.rotationSteps)
        let input = try TileTensor(encrypting: ConvTests.toTiles(x, channelsIn: 0), shape: shape, backend: ckks)
        let a = try input.conv2dInterleaved(filters: w, stride: 1, padding: 1)
        ckks.plaintextCacheBytes = 0
        let b = try input.conv2dInterleaved(filters: w, stride: 1, padding: 1)
        XCTAssertEqual(a.tiles.map(\.components), b.tiles.map(\.components), "the cache changed a result")
    }
}
