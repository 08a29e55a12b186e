import XCTest
import CKKS
@testable import TileTensors

/// Average pooling on an interleaved layout with image tiles of 2×2 pixels: each channel slot
/// pooled in place (the layout of the channels kept), masked tap products and no channel sum.
final class InterleavedPoolingTests: XCTestCase {
    func testAveragePoolingOnInterleavedTiles() throws {
        var rng = TestRNG(seed: 61)
        let x = Fixtures.random([2, 3, 8, 6], &rng)   // B, C, H, W
        let shape = try TileShape(parsing: "[3/4, */2, 8~/2, 6~/2, 2/16]")
        func run<B: TensorBackend>(_ backend: B) throws -> TileTensor<B> {
            try TileTensor(encrypting: ConvTests.toTiles(x, channelsIn: 0), shape: shape, backend: backend)
                .averagePooled(window: 2, stride: 2, dimensions: 2, 3)
        }
        var want = try Tensor(zeros: [2, 3, 4, 3])
        for o in 0..<want.values.count {
            let i = want.index(ofOffset: o)
            for dy in 0..<2 { for dx in 0..<2 { want.values[o] += x[[i[0], i[1], 2 * i[2] + dy, 2 * i[3] + dx]] / 4 } }
        }
        let mock = Fixtures.mock()
        let m = try run(mock)
        XCTAssertEqual(m.shape.description, "[3/4, */2, 4~/2, 3~/2, 2/16]", "the channels stay where they were")
        // 4 output tiles × 4 taps, one group each where the tiles align (rows), up to two where
        // they do not (columns: 6 pixels in 3 tiles pooled into 3 in 2): no channel-sum rotation.
        XCTAssertEqual(mock.counts.rotations, 0)
        XCTAssertEqual(mock.counts.rescales, 4)
        XCTAssertLessThanOrEqual(mock.counts.plainMultiplications, 32)
        let c = try run(Fixtures.ckks(rotations: mock.rotationSteps))
        assertAgree("avgpool on interleaved 2×2 tiles", reference: want, mock: ConvTests.fromTiles(try m.decrypt(), channelsIn: 0),
                    ckks: ConvTests.fromTiles(try c.decrypt(), channelsIn: 0))
    }

    /// A window over the whole image (a global pool as the lowering emits it): rotate-and-add
    /// sums, no product and no level.
    func testWholeImageWindowSumsWithoutProducts() throws {
        var rng = TestRNG(seed: 62)
        let x = Fixtures.random([2, 3, 4, 4], &rng)   // B, C, H, W
        let shape = try TileShape(parsing: "[3/4, */2, 4~/4, 4~/4, 2/4]")
        func run<B: TensorBackend>(_ backend: B) throws -> TileTensor<B> {
            try TileTensor(encrypting: ConvTests.toTiles(x, channelsIn: 0), shape: shape, backend: backend)
                .averagePooled(window: 4, stride: 4, dimensions: 2, 3)
        }
        var want = try Tensor(zeros: [2, 3, 1, 1])
        for b in 0..<2 { for c in 0..<3 { for y in 0..<4 { for xx in 0..<4 { want[[b, c, 0, 0]] += x[[b, c, y, xx]] / 16 } } } }
        let mock = Fixtures.mock()
        let m = try run(mock)
        XCTAssertEqual(mock.counts.plainMultiplications, 1, "only the 1/16 (a constant product)")
        XCTAssertEqual(mock.counts.rotations, 4, "log2(4) rotate-and-add steps per image dimension")
        let c = try run(Fixtures.ckks(rotations: mock.rotationSteps))
        assertAgree("whole-image window", reference: want, mock: ConvTests.fromTiles(try m.decrypt(), channelsIn: 0),
                    ckks: ConvTests.fromTiles(try c.decrypt(), channelsIn: 0))
    }

    /// A strided pool of an image inside one tile (AlexNet's last pool, 13×13 → 6×6 in 16×16
    /// tiles, in small): window sums in place, then the compaction by the stride as a remap.
    /// 3×3 stride 2 on 7×7 in 8×8 tiles: 9 one-pixel products where the tap products were 81,
    /// by at most 5 rotation steps where the taps used 24; window 2 stride 2 on 8×8: 16
    /// products (64) by at most 7 steps (24).
    func testStridedPoolInOneTileCompactsWindowSums() throws {
        var rng = TestRNG(seed: 63)
        for (size, k) in [(7, 3), (8, 2)] {
            let x = Fixtures.random([1, 3, size, size], &rng)   // B, C, H, W
            let shape = try TileShape(parsing: "[3/4, */2, \(size)~/8, \(size)~/8, 1/1]")
            func run<B: TensorBackend>(_ backend: B) throws -> TileTensor<B> {
                try TileTensor(encrypting: ConvTests.toTiles(x, channelsIn: 0), shape: shape, backend: backend)
                    .averagePooled(window: k, stride: 2, dimensions: 2, 3)
            }
            let o = (size - k) / 2 + 1
            var want = try Tensor(zeros: [1, 3, o, o])
            for w in 0..<want.values.count {
                let i = want.index(ofOffset: w)
                for dy in 0..<k { for dx in 0..<k { want.values[w] += x[[i[0], i[1], 2 * i[2] + dy, 2 * i[3] + dx]] / Double(k * k) } }
            }
            let mock = Fixtures.mock()
            let m = try run(mock)
            XCTAssertEqual(m.shape.dimensions[2].size, o)
            XCTAssertEqual(mock.counts.plainMultiplications, o * o, "window \(k): one masked product per output pixel")
            // Baby steps: the o − 1 column offsets, giant steps: the o − 1 row offsets (the window
            // sums' steps among them), and one step copying the replicated dimension.
            XCTAssertLessThanOrEqual(mock.rotationSteps.count, 2 * (o - 1) + 1, "window \(k)")
            XCTAssertLessThanOrEqual(mock.counts.rescales, o, "one rescale per giant step's sum")
            let c = try run(Fixtures.ckks(rotations: mock.rotationSteps))
            assertAgree("strided pool \(k)×\(k) in one tile", reference: want, mock: ConvTests.fromTiles(try m.decrypt(), channelsIn: 0),
                        ckks: ConvTests.fromTiles(try c.decrypt(), channelsIn: 0))
        }
    }
}
