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
}
