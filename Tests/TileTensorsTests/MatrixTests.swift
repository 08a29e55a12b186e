import XCTest
import CKKS
@testable import TileTensors

/// Dense layers (both orientations, stacked), matrix products and the diagonal method: mock =
/// naive = CKKS, and the mock's counts equal the closed forms of the doc comments.
final class MatrixTests: XCTestCase {
    private func matvec(_ w: Tensor, _ x: [Double], _ bias: [Double]?) -> [Double] {
        let m = w.shape[0], n = w.shape[1]
        var y = [Double](repeating: 0, count: m)
        for i in 0..<m {
            var acc: Double = bias?[i] ?? 0
            for j in 0..<n { acc += w.values[i * n + j] * x[j] }
            y[i] = acc
        }
        return y
    }

    private func log2(_ t: Int) -> Int { t.trailingZeroBitCount }
    private func ceil(_ a: Int, _ b: Int) -> Int { (a + b - 1) / b }

    /// Three stacked layers: row → column (clear + duplicate first) → row, with biases.
    func testStackedDenseLayers() throws {
        var rng = TestRNG(seed: 21)
        for trial in 0..<8 {
            let slots = trial < 6 ? 64 : 512
            let t0 = 1 << Int.random(in: 1...(slots.trailingZeroBitCount - 1), using: &rng), t1 = slots / t0
            let n = Int.random(in: 1...(2 * t1 + 3), using: &rng), m1 = Int.random(in: 1...(2 * t0 + 1), using: &rng)
            let m2 = Int.random(in: 1...(2 * t1 + 1), using: &rng), m3 = Int.random(in: 1...(2 * t0 + 1), using: &rng)
            let w1 = Fixtures.random([m1, n], &rng), w2 = Fixtures.random([m2, m1], &rng), w3 = Fixtures.random([m3, m2], &rng)
            let b1 = Fixtures.random([m1], &rng).values, b3 = Fixtures.random([m3], &rng).values
            let x = Fixtures.random([1, n], &rng)
            let inShape = try TileShape([.replicated(tile: t0), .plain(n, tile: t1)])
            func run<B: TensorBackend>(_ backend: B) throws -> [TileTensor<B>] {
                let tx = try TileTensor(encrypting: x, shape: inShape, backend: backend)
                let y1 = try tx.dense(weights: w1, bias: b1)
                let y2 = try y1.dense(weights: w2)
                let y3 = try y2.dense(weights: w3, bias: b3)
                return [y1, y2, y3]
            }
            let mock = Fixtures.mock(slots: slots)
            let m = try run(mock)
            XCTAssertEqual(m[0].shape.description, "[\(m1)/\(t0), \(t1 > 1 ? "1?" : "1")/\(t1)]")
            XCTAssertEqual(m[1].shape.description, "[*/\(t0), \(m2)/\(t1)]")
            let want1 = matvec(w1, x.values, b1), want2 = matvec(w2, want1, nil), want3 = matvec(w3, want2, b3)
            let c = slots == 512 ? try run(Fixtures.ckks(rotations: mock.rotationSteps)).map { try $0.decrypt() } : nil
            assertAgree("dense 1 (\(m1)×\(n), t = \(t0)×\(t1))", reference: try Tensor(shape: [m1, 1], values: want1), mock: try m[0].decrypt(), ckks: c?[0])
            assertAgree("dense 2 (\(m2)×\(m1))", reference: try Tensor(shape: [1, m2], values: want2), mock: try m[1].decrypt(), ckks: c?[1])
            assertAgree("dense 3 (\(m3)×\(m2))", reference: try Tensor(shape: [m3, 1], values: want3), mock: try m[2].decrypt(), ckks: c?[2], bits: 15)
        }
    }

    func testDenseCountsMatchClosedForms() throws {
        let slots = 256, t0 = 8, t1 = 32, m = 19, n = 70
        var rng = TestRNG(seed: 22)
        let w = Fixtures.random([m, n], &rng), bias = Fixtures.random([m], &rng).values
        let mock = Fixtures.mock(slots: slots)
        // Row orientation.
        let row = try TileTensor(encrypting: Fixtures.random([1, n], &rng), shape: TileShape([.replicated(tile: t0), .plain(n, tile: t1)]), backend: mock)
        mock.resetCounts()
        _ = try row.dense(weights: w, bias: bias)
        var e0 = ceil(m, t0), e1 = ceil(n, t1)
        var want = OperationCounts()
        want.encodes = e0 * e1 + e0
        want.plainMultiplications = e0 * e1
        want.additions = e0 * (e1 - 1) + e0 * log2(t1) + e0
        want.rescales = e0
        want.rotations = e0 * log2(t1)
        // Each result tile's sum (its tiles added, rescaled, rotated and added) on a worker.
        want.concurrentAdditions = e0 * (e1 - 1) + e0 * log2(t1)
        want.concurrentRescales = e0
        want.concurrentRotations = e0 * log2(t1)
        XCTAssertEqual(mock.counts.closedForm, want)
        XCTAssertEqual(mock.counts.plainAdditions, e0, "the bias's additions, one a result tile, outside the workers")
        // Column orientation.
        let column = try TileTensor(encrypting: Fixtures.random([n, 1], &rng), shape: TileShape([.plain(n, tile: t0), .replicated(tile: t1)]), backend: mock)
        mock.resetCounts()
        _ = try column.dense(weights: w, bias: bias)
        e0 = ceil(n, t0); e1 = ceil(m, t1)
        want = OperationCounts()
        want.encodes = e0 * e1 + e1
        want.plainMultiplications = e0 * e1
        want.additions = e1 * (e0 - 1) + e1 * log2(t0) + e1
        want.rescales = e1
        want.rotations = e1 * log2(t0)
        XCTAssertEqual(mock.counts.closedForm, want)
        XCTAssertEqual(mock.counts.plainAdditions, e1, "the bias's additions, one a result tile")
    }

    func testMatrixProduct() throws {
        var rng = TestRNG(seed: 23)
        for trial in 0..<6 {
            let slots = trial < 4 ? 64 : 512
            let t1 = 1 << Int.random(in: 0...3, using: &rng), t0 = 1 << Int.random(in: 0...2, using: &rng), t2 = slots / t0 / t1
            let a = Int.random(in: 1...9, using: &rng), b = Int.random(in: 1...(2 * t1 + 1), using: &rng), c = Int.random(in: 1...(t2 + 3), using: &rng)
            let x = Fixtures.random([a, b], &rng), y = Fixtures.random([b, c], &rng)
            let sa = try TileShape([.plain(a, tile: t0), .plain(b, tile: t1), .replicated(tile: t2)])
            let sb = try TileShape([.replicated(tile: t0), .plain(b, tile: t1), .plain(c, tile: t2)])
            func run<B: TensorBackend>(_ backend: B) throws -> Tensor {
                let ta = try TileTensor(encrypting: Tensor(shape: [a, b, 1], values: x.values), shape: sa, backend: backend)
                let tb = try TileTensor(encrypting: Tensor(shape: [1, b, c], values: y.values), shape: sb, backend: backend)
                if let mock = backend as? MockBackend { mock.resetCounts() }
                return try TileTensor.matrixProduct(ta, tb).decrypt()
            }
            var want = try Tensor(zeros: [a, 1, c])
            for i in 0..<a { for k in 0..<c { for j in 0..<b { want[[i, 0, k]] += x[[i, j]] * y[[j, k]] } } }
            let mock = Fixtures.mock(slots: slots)
            let m = try run(mock)
            let outTiles = ceil(a, t0) * ceil(c, t2), e1 = ceil(b, t1)
            var counts = OperationCounts()
            counts.multiplications = outTiles * e1
            counts.additions = outTiles * (e1 - 1) + outTiles * log2(t1)
            counts.relinearizations = outTiles
            counts.rescales = outTiles
            counts.fusedRescales = outTiles   // each relinearized and rescaled at once
            counts.rotations = outTiles * log2(t1)
            XCTAssertEqual(mock.counts.closedForm, counts, "\(sa) × \(sb)")
            let ck = slots == 512 ? try run(Fixtures.ckks(rotations: mock.rotationSteps)) : nil
            assertAgree("matrix product \(sa) × \(sb)", reference: want, mock: m, ckks: ck)
        }
    }

    func testDiagonalMethod() throws {
        var rng = TestRNG(seed: 24)
        for (slots, d, m, n, babies) in [(64, 16, 16, 16, nil), (64, 8, 5, 7, 2), (512, 32, 32, 20, nil), (512, 64, 10, 64, 16)] as [(Int, Int, Int, Int, Int?)] {
            let w = Fixtures.random([m, n], &rng), bias = Fixtures.random([m], &rng).values
            let x = Fixtures.random([1, n], &rng)
            let shape = try TileShape([.replicated(tile: slots / d), .plain(n, tile: d)])
            func run<B: TensorBackend>(_ backend: B) throws -> TileTensor<B> {
                let t = try TileTensor(encrypting: x, shape: shape, backend: backend)
                if let mock = backend as? MockBackend { mock.resetCounts() }
                return try t.diagonalMatrixVectorProduct(weights: w, bias: bias, babySteps: babies)
            }
            let mock = Fixtures.mock(slots: slots)
            let result = try run(mock)
            XCTAssertEqual(result.shape.description, "[*/\(slots / d), \(m)/\(d)]")
            let want = try Tensor(shape: [1, m], values: matvec(w, x.values, bias))
            if m == d && n == d {   // dense W: the closed form of the doc comment
                let n1 = babies ?? (1 << ((log2(d) + 1) / 2)), n2 = d / n1
                var counts = OperationCounts()
                counts.encodes = d + 1
                counts.plainMultiplications = d
                counts.hoistedRotationSets = 1
                counts.hoistedRotations = n1 - 1
                counts.rotations = n2 - 1
                counts.rescales = n2
                counts.additions = d - 1 + 1
                XCTAssertEqual(mock.counts.closedForm, counts)
            }
            let ck = slots == 512 ? try run(Fixtures.ckks(rotations: mock.rotationSteps)).decrypt() : nil
            assertAgree("diagonal \(m)×\(n) in d = \(d)", reference: want, mock: try result.decrypt(), ckks: ck)
            // Chains: the output has the input's form.
            if m == n { XCTAssertNoThrow(try result.diagonalMatrixVectorProduct(weights: w)) }
        }
    }

    func testBadMatrixInputsThrow() throws {
        let mock = Fixtures.mock(slots: 16)
        let x = try TileTensor(encrypting: Tensor(zeros: [1, 5]), shape: TileShape(parsing: "[*/2, 5/8]"), backend: mock)
        XCTAssertThrowsError(try x.dense(weights: Tensor(zeros: [3, 4]))) { guard case TileTensorError.shapeMismatch = $0 else { return XCTFail("\($0)") } }
        XCTAssertThrowsError(try x.dense(weights: Tensor(zeros: [3, 5]), bias: [1])) { guard case TileTensorError.shapeMismatch = $0 else { return XCTFail("\($0)") } }
        XCTAssertThrowsError(try x.diagonalMatrixVectorProduct(weights: Tensor(zeros: [9, 5])))
        XCTAssertThrowsError(try TileTensor.matrixProduct(x, x))
    }
}
