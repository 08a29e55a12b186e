import XCTest
import CKKS
@testable import TileTensors

/// Packing, elementwise operators, sums, duplication and clearing: mock = naive loop, and CKKS =
/// naive loop to a stated precision, on randomized shapes (sizes that do not divide the tiles,
/// interleaved and replicated dimensions).
final class TileTensorOperatorTests: XCTestCase {
    /// A random shape of `rank` dimensions whose tile sizes multiply to `slots` (a power of two).
    private func randomShape(rank: Int, slots: Int, _ rng: inout TestRNG, replicated: Bool = false) throws -> TileShape {
        var exponents = [Int](repeating: 0, count: rank)
        for _ in 0..<(slots.trailingZeroBitCount) { exponents[Int.random(in: 0..<rank, using: &rng)] += 1 }
        return try TileShape(exponents.map { e in
            let t = 1 << e
            if replicated && Bool.random(using: &rng) { return try .replicated(tile: t) }
            let n = Int.random(in: 1...(2 * t + 1), using: &rng)
            return Bool.random(using: &rng) ? try .interleaved(n, tile: t) : try .plain(n, tile: t)
        })
    }

    func testPackUnpackRoundTrip() throws {
        var rng = TestRNG(seed: 2)
        for slots in [1, 2, 8, 32] {
            let mock = Fixtures.mock(slots: slots)
            for _ in 0..<20 {
                let shape = try randomShape(rank: 3, slots: slots, &rng, replicated: true)
                let x = Fixtures.random(shape.logicalShape, &rng)
                let t = try TileTensor(encrypting: x, shape: shape, backend: mock)
                XCTAssertEqual(try t.decrypt(), x, "\(shape)")
                XCTAssertEqual(t.level, mock.maxLevel)
                XCTAssertEqual(t.memory, shape.tileCount * 2 * (mock.maxLevel + 1) * 2 * slots * 8)
            }
        }
        let ckks = try Fixtures.ckks(rotations: [])
        let shape = try TileShape(parsing: "[5~/8, 3/4, 20/16]")
        let x = Fixtures.random(shape.logicalShape, &rng)
        let t = try TileTensor(encrypting: x, shape: shape, backend: ckks)
        XCTAssertEqual(t.tiles.count, 2)
        assertAgree("pack/unpack", reference: x, mock: x, ckks: try t.decrypt(), bits: 25)
        XCTAssertThrowsError(try TileTensor(encrypting: x, shape: try TileShape(parsing: "[5/8, 3/4, 20/8]"), backend: ckks)) {
            XCTAssertEqual($0 as? TileTensorError, .slotMismatch(tileSlots: 256, backendSlots: 512))
        }
        XCTAssertThrowsError(try TileTensor(encrypting: Fixtures.random([5, 3, 19], &rng), shape: shape, backend: ckks)) {
            guard case TileTensorError.shapeMismatch = $0 else { return XCTFail("\($0)") }
        }
    }

    /// a + b, a − b, a ⊙ b (ciphertexts) and a ⊙ w (plaintext), with b and w replicating random dimensions.
    func testElementwiseWithBroadcasting() throws {
        var rng = TestRNG(seed: 3)
        for trial in 0..<12 {
            let slots = trial < 9 ? 16 : 512
            let a = try randomShape(rank: 3, slots: slots, &rng)
            let b = try TileShape(a.dimensions.map { Bool.random(using: &rng) ? try .replicated(tile: $0.tileSize) : $0 })
            let x = Fixtures.random(a.logicalShape, &rng), y = Fixtures.random(b.logicalShape, &rng)
            func run<B: TensorBackend>(_ backend: B) throws -> [Tensor] {
                let tx = try TileTensor(encrypting: x, shape: a, backend: backend)
                let ty = try TileTensor(encrypting: y, shape: b, backend: backend)
                let sum = try tx.adding(ty), difference = try ty.subtracting(tx)
                let product = try tx.multiplied(by: ty), plain = try tx.multiplied(byPlain: y, shape: b)
                // Garbage from broadcasting is cleared by a later sum: exercise it.
                let summed = try sum.summed(over: 2)
                return try [sum, difference, product, plain, summed].map { try $0.decrypt() }
            }
            let want = [Naive.broadcast(x, y, +), Naive.broadcast(y, x, -), Naive.broadcast(x, y, *),
                        Naive.broadcast(x, y, *), Naive.sum(Naive.broadcast(x, y, +), over: 2)]
            let mock = Fixtures.mock(slots: slots)
            let m = try run(mock)
            let c = slots == 512 ? try run(Fixtures.ckks(rotations: mock.rotationSteps)) : nil
            for (k, name) in ["add", "subtract", "multiply", "multiply plain", "add then sum"].enumerated() {
                assertAgree("\(name) \(a) ∘ \(b)", reference: want[k], mock: m[k], ckks: c?[k])
            }
        }
    }

    /// Under complex packing a plaintext tensor added (`adding(plain:shape:)`, the +γ of a
    /// quadratic) lands in both parts: encoded once as v + i·v (`encodeAddend`), then plain
    /// additions. Both parts agree with the naive loops, on the mock and on CKKS, and the
    /// mock counts one encode per distinct tile and one addition per tile.
    func testPlainAddendReachesBothPartsUnderComplexPacking() throws {
        var rng = TestRNG(seed: 31)
        let a = try TileShape(parsing: "[5~/8, 3/4, 20/16]"), w = try TileShape(parsing: "[*/8, 3/4, 20/16]")
        let x = Fixtures.random(a.logicalShape, &rng), y = Fixtures.random(a.logicalShape, &rng)
        let g = Fixtures.random(w.logicalShape, &rng)
        func run<B: TensorBackend>(_ backend: B) throws -> (real: Tensor, imaginary: Tensor) {
            XCTAssertTrue(backend.complexPacking)
            return try TileTensor(encryptingParts: x, y, shape: a, backend: backend).adding(plain: g, shape: w).decryptParts()
        }
        let mock = MockBackend(slotCount: 512, parameters: Fixtures.parameters, complexPacking: true)
        let m = try run(mock)
        XCTAssertEqual(mock.counts.encodes, 2 + 2, "two input tiles encrypted, γ's two tiles encoded once each")
        XCTAssertEqual(mock.counts.additions, 2)
        let keygen = KeyGenerator(context: Fixtures.context)
        let sk = keygen.secretKey()
        let ckks = CKKSBackend(context: Fixtures.context, keys: try keygen.evaluationKeys(for: sk, rotations: []),
                               encryptor: Encryptor(secretKey: sk), decryptor: Decryptor(secretKey: sk), complexPacking: true)
        let c = try run(ckks)
        assertAgree("+γ, real parts", reference: Naive.broadcast(x, g, +), mock: m.real, ckks: c.real, bits: 25)
        assertAgree("+γ, imaginary parts", reference: Naive.broadcast(y, g, +), mock: m.imaginary, ckks: c.imaginary, bits: 25)
    }

    func testBroadcastMismatchesThrow() throws {
        let mock = Fixtures.mock(slots: 8)
        let a = try TileTensor(encrypting: Tensor(zeros: [3, 5]), shape: TileShape(parsing: "[3/2, 5/4]"), backend: mock)
        for other in ["[3/2, 4/4]", "[3/4, 5/2]", "[3~/2, 5/4]"] {
            let s = try TileShape(parsing: other)
            let b = try TileTensor(encrypting: Tensor(zeros: s.logicalShape), shape: s, backend: mock)
            XCTAssertThrowsError(try a.adding(b), other) { guard case TileTensorError.shapeMismatch = $0 else { return XCTFail("\($0)") } }
        }
    }

    /// Σ over each dimension: outermost gives a replicated result, inner ones `1?/t`; duplicating
    /// then broadcasting against a full tensor checks that every position holds the sum.
    func testSumDuplicateAndCounts() throws {
        var rng = TestRNG(seed: 4)
        for trial in 0..<12 {
            let slots = trial < 9 ? 64 : 512
            let shape = try randomShape(rank: 3, slots: slots, &rng)
            let x = Fixtures.random(shape.logicalShape, &rng)
            for d in 0..<3 {
                let w = Fixtures.random(shape.logicalShape, &rng)
                func run<B: TensorBackend>(_ backend: B) throws -> (TileShape, Tensor, Tensor) {
                    let t = try TileTensor(encrypting: x, shape: shape, backend: backend)
                    let s = try t.summed(over: d)
                    let dup = try s.duplicated(along: d)
                    let wide = try dup.multiplied(byPlain: w, shape: shape)
                    return (s.shape, try s.decrypt(), try wide.decrypt())
                }
                let mock = Fixtures.mock(slots: slots)
                let (sumShape, m, mw) = try run(mock)
                let dim = shape.dimensions[d]
                XCTAssertEqual(sumShape.dimensions[d].isReplicated, d == 0, "\(shape) sum over \(d)")
                let want = Naive.sum(x, over: d)
                let c = slots == 512 ? try run(Fixtures.ckks(rotations: mock.rotationSteps)) : nil
                assertAgree("sum over \(d) of \(shape)", reference: want, mock: m, ckks: c?.1)
                assertAgree("duplicate along \(d) of \(shape)", reference: Naive.broadcast(want, w, *), mock: mw, ckks: c?.2)

                // Counts of the sum alone: E·(e_d − 1) + E·log2 t additions, E·log2 t rotations.
                let counter = Fixtures.mock(slots: slots)
                let t = try TileTensor(encrypting: x, shape: shape, backend: counter)
                counter.resetCounts()
                _ = try t.summed(over: d)
                let e = shape.tileCount / dim.tileCount, log = dim.tileSize.trailingZeroBitCount
                XCTAssertEqual(counter.counts.additions, e * (dim.tileCount - 1) + e * log)
                XCTAssertEqual(counter.counts.rotations, e * log)
                XCTAssertEqual(counter.counts.keySwitches, e * log)
            }
        }
    }

    /// After a broadcast add, padding holds garbage (`?`); clearing zeros it, so a sum is exact.
    func testClearUnknowns() throws {
        let shape = try TileShape(parsing: "[3/4, 5/128]")
        let rep = try TileShape(parsing: "[3/4, */128]")
        var rng = TestRNG(seed: 5)
        let x = Fixtures.random([3, 5], &rng), y = Fixtures.random([3, 1], &rng)
        func run<B: TensorBackend>(_ backend: B) throws -> (TileShape, TileShape, Tensor) {
            let s = try TileTensor(encrypting: x, shape: shape, backend: backend)
                .adding(TileTensor(encrypting: y, shape: rep, backend: backend))
            let cleared = try s.clearingUnknowns()
            return (s.shape, cleared.shape, try cleared.summed(over: 1).decrypt())
        }
        let mock = Fixtures.mock()
        let (garbled, clean, m) = try run(mock)
        XCTAssertEqual(garbled.description, "[3/4, 5?/128]")
        XCTAssertEqual(clean.description, "[3/4, 5/128]")
        XCTAssertEqual(mock.counts.rescales, 1)
        let c = try run(Fixtures.ckks(rotations: mock.rotationSteps)).2
        assertAgree("clear then sum", reference: Naive.sum(Naive.broadcast(x, y, +), over: 1), mock: m, ckks: c)
    }
}
