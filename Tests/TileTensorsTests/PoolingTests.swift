import XCTest
import CKKS
@testable import TileTensors

/// Average pooling on an interleaved layout with image tiles of 2×2 pixels (runs as a conv).
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
        XCTAssertEqual(m.shape.description, "[*/4, 3/2, 4~/2, 3~/2, 2/16]")
        let c = try run(Fixtures.ckks(rotations: mock.rotationSteps))
        assertAgree("avgpool on interleaved 2×2 tiles", reference: want, mock: ConvTests.fromTiles(try m.decrypt(), channelsIn: 1),
                    ckks: ConvTests.fromTiles(try c.decrypt(), channelsIn: 1))
    }
}
