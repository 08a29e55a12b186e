import XCTest
import CKKS
@testable import TileTensors

/// The mock tracks level, scale and component count exactly as CKKS does, and counts operations.
final class MockBackendTests: XCTestCase {
    func testLevelAndScaleTrackCKKSExactly() throws {
        var rng = TestRNG(seed: 41)
        let shape = try TileShape(parsing: "[3/8, 20/64]")
        let x = Fixtures.random([3, 20], &rng), y = Fixtures.random([3, 20], &rng)
        func run<B: TensorBackend>(_ backend: B) throws -> [(Int, Double)] {
            let a = try TileTensor(encrypting: x, shape: shape, backend: backend)
            let b = try TileTensor(encrypting: y, shape: shape, backend: backend)
            let p = try a.multiplied(by: b)
            let q = try p.multiplied(byPlain: y, shape: shape)
            let r = try q.squared()
            let s = try r.summed(over: 1)
            return [a, p, q, r, s].map { ($0.level, $0.scale) }
        }
        let mock = Fixtures.mock()
        let m = try run(mock)
        let c = try run(Fixtures.ckks(rotations: mock.rotationSteps))
        for (u, v) in zip(m, c) {
            XCTAssertEqual(u.0, v.0)
            XCTAssertEqual(u.1, v.1, "scales must be bit-identical")
        }
        XCTAssertEqual(m.map(\.0), [4, 3, 2, 1, 1])
        XCTAssertNotEqual(m[3].1, Fixtures.parameters.scale, "the scale drifts by the actual primes")
    }

    func testCountsAndErrorsOfSingleOperations() throws {
        let mock = Fixtures.mock(slots: 4)
        let p = try mock.encode([1, 2, 3], scale: mock.defaultScale, level: 2)
        let a = try mock.encrypt(p)
        XCTAssertEqual(a.values, [1, 2, 3, 0])
        let r = try mock.rotations(of: a, by: [0, 1, -1, 5])
        XCTAssertEqual(r[-1]!.values, [0, 1, 2, 3])
        XCTAssertEqual(r[5]!.values, [2, 3, 0, 1])
        XCTAssertEqual(mock.counts.hoistedRotations, 2)   // 1 ≡ 5, −1; 0 is free
        XCTAssertEqual(mock.rotationSteps, [1, 3])
        let product = try mock.multiplyWithoutRelinearization(a, a)
        XCTAssertThrowsError(try mock.rotate(product, by: 1))
        XCTAssertThrowsError(try mock.add(a, product)) { XCTAssertTrue($0 is CKKSError) }   // scales differ
        let rescaled = try mock.rescale(mock.relinearize(product))
        XCTAssertEqual(rescaled.level, 1)
        XCTAssertEqual(rescaled.scale, mock.defaultScale * mock.defaultScale / mock.primes[2])
        XCTAssertThrowsError(try mock.multiply(a, mock.encode([1], scale: 1, level: 0)))   // plaintext below the ciphertext
        let low = try mock.rescale(mock.rescale(mock.multiply(mock.multiply(a, a), a)))
        XCTAssertThrowsError(try mock.rescale(low))
        XCTAssertEqual(mock.counts.multiplications, 3)
        XCTAssertEqual(mock.counts.relinearizations, 3)
        XCTAssertEqual(mock.counts.rescales, 3)
    }

    /// A plaintext's or a constant's addition is a plain one outside product workers (priced
    /// at half an addition); a ciphertext's is not, nor is any addition inside workers (their
    /// additions are the workers' accumulation, not priced).
    func testPlainAdditionsAreCountedApart() throws {
        let mock = Fixtures.mock()
        let a = try mock.encrypt(mock.encode([1, 2], scale: mock.defaultScale, level: 3))
        let p = try mock.encode([3], scale: mock.defaultScale, level: 3)
        let q = try mock.encodeAddend([4], scale: mock.defaultScale, level: 3)
        mock.resetCounts()
        _ = try mock.add(a, addend: p)
        _ = try mock.add(a, constant: 1)
        _ = try mock.add(a, addend: q)
        _ = try mock.add(a, a)
        XCTAssertEqual(mock.counts.additions, 4)
        XCTAssertEqual(mock.counts.plainAdditions, 3)
        mock.resetCounts()
        try mock.runProductWorkers(2, outputs: 2) { _ in _ = try mock.add(a, addend: p) }
        XCTAssertEqual(mock.counts.additions, 2)
        XCTAssertEqual(mock.counts.concurrentAdditions, 2)
        XCTAssertEqual(mock.counts.plainAdditions, 0)
    }
}
