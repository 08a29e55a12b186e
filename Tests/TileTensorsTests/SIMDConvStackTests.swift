import XCTest
import CKKS
@testable import TileTensors

/// SIMD conv (stride 2, polyphase) → x² → mirrored SIMD conv → SIMD conv (stride 1): no repacking.
final class StackedSIMDConvTests: XCTestCase {
    func testStackedSIMDConvs() throws {
        var rng = TestRNG(seed: 71)
        let h = 12
        let x = Fixtures.random([1, 2, h, h], &rng)
        let w1 = Fixtures.random([3, 2, 3, 3], &rng), w2 = Fixtures.random([4, 3, 3, 3], &rng), b2 = Fixtures.random([4], &rng).values
        let w3 = Fixtures.random([2, 4, 3, 3], &rng)
        let shape = try TileShape(parsing: "[2/2, 2/2, 2/2, 6/8, 6/8]")
        func run<B: TensorBackend>(_ backend: B) throws -> [TileTensor<B>] {
            let poly = try Tensor.polyphase(Tensor(shape: [2, h, h], values: x.values), stride: 2)
            let t = try TileTensor(encrypting: poly, shape: shape, backend: backend)
            let c1 = try t.conv2dSIMD(filters: w1, stride: 2, padding: 1)
            if let mock = backend as? MockBackend { mock.resetCounts() }
            let c2 = try c1.squared().conv2dSIMDMirrored(filters: w2, bias: b2, padding: 1)
            let c3 = try c2.conv2dSIMD(filters: w3, stride: 1, padding: 0)
            return [c1, c2, c3]
        }
        let mock = Fixtures.mock()
        let m = try run(mock)
        XCTAssertEqual(m[0].shape.description, "[3/1, */2, */2, */2, 6/8, 6/8]")
        XCTAssertEqual(m[1].shape.description, "[4/8, 1/1, 1/1, 6/8, 6/8]")
        var want = ConvTests.naiveConv(x, w1, nil, stride: 2, padding: 1)
        want.values = want.values.map { $0 * $0 }
        let want2 = ConvTests.naiveConv(want, w2, b2, stride: 1, padding: 1)
        let want3 = ConvTests.naiveConv(want2, w3, nil, stride: 1, padding: 0)
        let c = try run(Fixtures.ckks(rotations: mock.rotationSteps)).map { try $0.decrypt() }
        func flat(_ t: Tensor, _ shape: [Int]) -> Tensor { try! Tensor(shape: shape, values: t.values) }
        assertAgree("SIMD stack: mirrored conv", reference: want2, mock: flat(try m[1].decrypt(), want2.shape), ckks: flat(c[1], want2.shape), bits: 15)
        assertAgree("SIMD stack: third conv", reference: want3, mock: flat(try m[2].decrypt(), want3.shape), ckks: flat(c[2], want3.shape), bits: 12)
    }

    func testMirroredCounts() throws {
        var rng = TestRNG(seed: 72)
        let c = 3, f = 5, k = 3, p = 1
        let shape = try TileShape(parsing: "[3/1, */4, */2, */1, 7/8, 7/8]")
        let mock = Fixtures.mock()
        let t = try TileTensor(encrypting: Fixtures.random([3, 1, 1, 1, 7, 7], &rng), shape: shape, backend: mock)
        mock.resetCounts()
        _ = try t.conv2dSIMDMirrored(filters: Fixtures.random([f, c, k, k], &rng), bias: Fixtures.random([f], &rng).values, padding: p)
        var counts = OperationCounts()
        counts.hoistedRotationSets = c
        counts.hoistedRotations = c * (k * k - 1)
        counts.encodes = c * k * k + 1
        counts.plainMultiplications = c * k * k
        counts.additions = c * k * k - 1 + 1
        counts.rescales = 1
        XCTAssertEqual(mock.counts.closedForm, counts)
    }
}

/// SIMD conv on a batch packed in front of the image: mock = naive = CKKS, counts.
final class BatchedSIMDConvTests: XCTestCase {
    func testBatchedSIMDConv() throws {
        var rng = TestRNG(seed: 73)
        for (nb, tb, c, f, k, s, p, h) in [(3, 2, 2, 3, 3, 1, 1, 6), (2, 2, 1, 2, 5, 2, 1, 9), (5, 4, 1, 1, 2, 2, 0, 4)] {
            let u = (h + s - 1) / s
            let tu = tb * s * s * 64 <= 512 ? 8 : 4, tc = 512 / (tb * s * s * tu * tu)
            let shape = try TileShape([.plain(nb, tile: tb), .plain(c, tile: tc), .plain(s, tile: s), .plain(s, tile: s), .plain(u, tile: tu), .plain(u, tile: tu)])
            let x = Fixtures.random([nb, c, h, h], &rng), filters = Fixtures.random([f, c, k, k], &rng), bias = Fixtures.random([f], &rng).values
            var poly = try Tensor(zeros: shape.logicalShape)
            for b in 0..<nb {
                let one = try Tensor.polyphase(Tensor(shape: [c, h, h], values: Array(x.values[(b * c * h * h)..<((b + 1) * c * h * h)])), stride: s)
                for o in 0..<one.values.count { poly.values[b * one.values.count + o] = one.values[o] }
            }
            func run<B: TensorBackend>(_ backend: B) throws -> Tensor {
                let t = try TileTensor(encrypting: poly, shape: shape, backend: backend)
                if let mock = backend as? MockBackend { mock.resetCounts() }
                let out = try t.conv2dSIMD(filters: filters, bias: bias, stride: s, padding: p, height: h, width: h).decrypt()
                // [F, B, 1, 1, 1, H′, W′] → [B, F, H′, W′]
                let oh = out.shape[5]
                var r = try Tensor(zeros: [nb, f, oh, oh])
                for o in 0..<r.values.count {
                    let i = r.index(ofOffset: o)
                    r.values[o] = out[[i[1], i[0], 0, 0, 0, i[2], i[3]]]
                }
                return r
            }
            let mock = Fixtures.mock()
            let m = try run(mock)
            let q = Set((0..<k).map { Int((Double($0 - p) / Double(s)).rounded(.down)) })
            let d = q.count * q.count, dNonzero = d - (q.contains(0) ? 1 : 0), log = (tc * s * s).trailingZeroBitCount
            let eB = (nb + tb - 1) / tb
            var counts = OperationCounts()
            counts.hoistedRotationSets = dNonzero > 0 ? eB : 0
            counts.hoistedRotations = eB * dNonzero
            counts.encodes = f * d + f
            counts.plainMultiplications = f * d * eB
            counts.additions = f * eB * (d - 1) + f * eB * log + f * eB
            counts.rescales = f * eB
            counts.rotations = f * eB * log
            XCTAssertEqual(mock.counts.closedForm, counts, "batch \(nb) in \(tb)")
            let want = ConvTests.naiveConv(x, filters, bias, stride: s, padding: p)
            let ck = try run(Fixtures.ckks(rotations: mock.rotationSteps))
            assertAgree("batched SIMD conv B\(nb) C\(c) F\(f) K\(k) s\(s) p\(p)", reference: want, mock: m, ckks: ck)
        }
    }
}
