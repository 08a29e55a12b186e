import XCTest
import CKKS
import HEMath
@testable import TileTensors

/// Product workers (several output sums made at once, one thread each) change nothing but the
/// time: the same ciphertexts, bit for bit, as one worker; the mock counts their work as
/// concurrent; a worker's error reaches the caller.
final class ProductWorkersTests: XCTestCase {
    /// A tap convolution (hoisted rotations, products into many output tiles), an interleaved
    /// pooling and a full-image convolution on CKKS, from one encrypted input, under 1 and under
    /// 2 threads: every output ciphertext identical (each sum adds the same products in the
    /// same order whichever worker makes it).
    func testTwoWorkersGiveTheSameCiphertextsAsOne() throws {
        var rng = TestRNG(seed: 71)
        let nb = 2, c = 3, f = 6, h = 6
        let x = Fixtures.random([nb, c, h, h], &rng)
        let w1 = Fixtures.random([f, c, 3, 3], &rng), b1 = Fixtures.random([f], &rng).values
        let w2 = Fixtures.random([6, f, 3, 3], &rng)
        // Four filters per tile over six filters: two output tiles per pixel, so both workers sum.
        let shape = try TileShape(parsing: "[3/4, */4, 6/1, 6/1, 2/32]")
        func run<B: TensorBackend>(_ input: TileTensor<B>) throws -> [TileTensor<B>] {
            let conv = try input.conv2dInterleaved(filters: w1, bias: b1, stride: 1, padding: 1)
            let pooled = try conv.averagePooled(window: 2, stride: 2, dimensions: 2, 3, divide: false)
            let dense = try pooled.conv2dInterleaved(filters: w2, stride: 1, padding: 0)
            return [conv, pooled, dense]
        }
        let mock = Fixtures.mock()
        let mockOut = try run(TileTensor(encrypting: ConvTests.toTiles(x, channelsIn: 0), shape: shape, backend: mock))
        let ckks = try Fixtures.ckks(rotations: mock.rotationSteps)
        let input = try TileTensor(encrypting: ConvTests.toTiles(x, channelsIn: 0), shape: shape, backend: ckks)
        XCTAssertEqual(ExecutionPolicy(threads: 2).run { ckks.productWorkerCount }, 2)
        XCTAssertEqual(ExecutionPolicy(threads: 1).run { ckks.productWorkerCount }, 1)
        XCTAssertEqual(ExecutionPolicy(threads: 2).run { mock.productWorkerCount }, 1, "the mock counts: one worker")
        let one = try ExecutionPolicy(threads: 1).run { try run(input) }
        let two = try ExecutionPolicy(threads: 2).run { try run(input) }
        for (step, (a, b)) in zip(one, two).enumerated() {
            XCTAssertEqual(a.shape, b.shape)
            XCTAssertGreaterThan(a.tiles.count, 1, "step \(step) has several output tiles")
            for (i, (p, q)) in zip(a.tiles, b.tiles).enumerated() {
                XCTAssertEqual(p.components, q.components, "step \(step) tile \(i): 2 workers differ from 1")
                XCTAssertEqual(p.scale, q.scale)
                XCTAssertEqual(p.level, q.level)
            }
        }
        // And the result is the network's: the mock's values, within CKKS's precision.
        let m = try mockOut[2].decrypt(), e = try two[2].decrypt()
        XCTAssertGreaterThan(precisionBits(e, m), 12)

        // The full-image path (a kernel covering 2×2-pixel tiles): output tiles in rounds of two.
        let image = Fixtures.random([1, 2, 4, 4], &rng), filters = Fixtures.random([10, 2, 4, 4], &rng)
        let fullShape = try TileShape([.plain(2, tile: 2), .replicated(tile: 8), TileDimension(size: 4, tileSize: 2, interleaved: true),
                                       TileDimension(size: 4, tileSize: 2, interleaved: true), .plain(1, tile: 8)])
        let fullMock = Fixtures.mock()
        let counted = try TileTensor(encrypting: ConvTests.toTiles(image, channelsIn: 0), shape: fullShape, backend: fullMock)
        fullMock.resetCounts()
        _ = try counted.conv2dInterleaved(filters: filters, stride: 1, padding: 0)
        XCTAssertEqual(fullMock.counts.hoistedRotations, 0, "the full-image path (no tap rotations)")
        let fullCKKS = try Fixtures.ckks(rotations: fullMock.rotationSteps)
        let fullInput = try TileTensor(encrypting: ConvTests.toTiles(image, channelsIn: 0), shape: fullShape, backend: fullCKKS)
        let a = try ExecutionPolicy(threads: 1).run { try fullInput.conv2dInterleaved(filters: filters, stride: 1, padding: 0) }
        let b = try ExecutionPolicy(threads: 2).run { try fullInput.conv2dInterleaved(filters: filters, stride: 1, padding: 0) }
        XCTAssertEqual(a.tiles.count, 2)
        XCTAssertEqual(a.tiles.map(\.components), b.tiles.map(\.components), "full-image conv: 2 workers differ from 1")
        XCTAssertGreaterThan(precisionBits(ConvTests.fromTiles(try b.decrypt(), channelsIn: 1),
                                           ConvTests.naiveConv(image, filters, nil, stride: 1, padding: 0)), 12)
    }

    /// The mock counts the products, encodes and additions made in workers as concurrent too
    /// (the cost model prices them at the concurrent rates), and so the rotations of sources
    /// whose hoisted sets are made two at a time and the channel sums' rotate-and-add chains
    /// made a round of tiles at a time; the bias stays outside.
    func testMockCountsWorkersAsConcurrent() throws {
        var rng = TestRNG(seed: 73)
        let x = Fixtures.random([2, 3, 6, 6], &rng), w = Fixtures.random([6, 3, 3, 3], &rng)
        let mock = Fixtures.mock()
        let bias = Fixtures.random([6], &rng).values
        let t = try TileTensor(encrypting: ConvTests.toTiles(x, channelsIn: 0), shape: TileShape(parsing: "[3/4, */4, 6~/2, 6~/2, 2/8]"), backend: mock)
        mock.resetCounts()
        // Two pieces at once, as a 2-core server runs them (nine sources: four pairs and one alone).
        _ = try ExecutionPolicy(threads: 2).run { try t.conv2dInterleaved(filters: w, bias: bias, stride: 1, padding: 1) }
        let counts = mock.counts
        XCTAssertGreaterThan(counts.hoistedRotations, 0, "multi-pixel tiles: taps rotate, products source by source")
        XCTAssertEqual(counts.concurrentPlainMultiplications, counts.plainMultiplications)
        XCTAssertEqual(counts.lazyPlainProducts, 0)
        XCTAssertGreaterThan(counts.concurrentEncodes, 0)
        XCTAssertEqual(counts.concurrentEncodes, counts.encodes - 2, "all but the bias's two encodes (filter tiles)")
        XCTAssertGreaterThanOrEqual(counts.hoistedRotationSets, 8, "a set per source tile that a tap rotates")
        XCTAssertEqual(counts.concurrentHoistedRotationSets, counts.hoistedRotationSets - 2,
                       "sources in pairs, each pair's sets made two at once; the ninth source's set and the one of a pair with one moving source alone")
        XCTAssertLessThan(counts.concurrentHoistedRotationSets, counts.hoistedRotationSets)
        XCTAssertGreaterThan(counts.rotations, 0, "the channel positions' rotate-and-add")
        XCTAssertEqual(counts.concurrentRotations, counts.rotations, "rotate-and-add chains a round of tiles at a time")
        XCTAssertEqual(counts.concurrentAdditions, counts.plainMultiplications - counts.rescales + counts.rotations,
                       "each sum's first product adds nothing; each rotate-and-add step adds once")

        // One-pixel tiles: no tap rotates, so every output is a lazy sum made by a worker; its
        // products are lazy ones (their own rate), not concurrent ones.
        let onePixel = try TileTensor(encrypting: ConvTests.toTiles(x, channelsIn: 0), shape: TileShape(parsing: "[3/4, */4, 6/1, 6/1, 2/32]"), backend: mock)
        mock.resetCounts()
        _ = try onePixel.conv2dInterleaved(filters: w, bias: bias, stride: 1, padding: 1)
        let lazy = mock.counts
        XCTAssertEqual(lazy.lazyPlainProducts, lazy.plainMultiplications)
        XCTAssertEqual(lazy.concurrentPlainMultiplications, 0)
        XCTAssertEqual(lazy.concurrentEncodes, lazy.encodes - 2)
    }

    /// Hoisted sets are counted as the CKKS backend runs them on 2 threads: decompositions and
    /// then key switches two at a time (concurrent), a round's odd last one split by limbs (one
    /// at a time); a set carries its decomposition and first key switch, further steps one each.
    func testMockCountsALoneRoundItemAsOneAtATime() throws {
        let mock = Fixtures.mock()
        let a = try mock.encrypt(mock.encode([Double](repeating: 1, count: 512), scale: Fixtures.parameters.scale, level: 3))
        func counted(_ steps: [[Int]]) throws -> OperationCounts {
            mock.resetCounts()
            _ = try ExecutionPolicy(threads: 2).run { try mock.rotations(ofEach: steps.map { _ in a }, by: steps) }
            return mock.counts
        }
        // (steps lists, concurrent sets, concurrent steps)
        let cases: [([[Int]], Int, Int)] = [
            ([[1], [0]], 0, 0),          // one key switch in all: alone, split by limbs
            ([[1], [2]], 2, 2),          // two sources, one step each: both at once
            ([[1, 2], [3]], 2, 2),       // three key switches: two at once, the third alone
            ([[1, 2, 3]], 0, 2),         // one source: its decomposition alone, two of its three steps at once
            ([[1, 2, 3, 4]], 0, 3),      // four steps: all at once (the set's first carries the lone decomposition)
            ([[1], [2], [3]], 2, 2),     // three sources: the third's decomposition and step alone
        ]
        for (steps, sets, concurrentSteps) in cases {
            let c = try counted(steps)
            let moving = steps.filter { $0.contains { $0 != 0 } }
            XCTAssertEqual(c.hoistedRotationSets, moving.count, "\(steps)")
            XCTAssertEqual(c.hoistedRotations, moving.reduce(0) { $0 + $1.filter { $0 != 0 }.count }, "\(steps)")
            XCTAssertEqual(c.concurrentHoistedRotationSets, sets, "\(steps): concurrent sets")
            XCTAssertEqual(c.concurrentHoistedRotations, concurrentSteps, "\(steps): concurrent steps")
        }
        // Inside a product worker every set is one of the workers' at once.
        mock.resetCounts()
        try mock.runProductWorkers(1, outputs: 2) { _ in _ = try mock.rotations(of: a, by: [1, 2]) }
        XCTAssertEqual(mock.counts.concurrentHoistedRotationSets, 1)
        XCTAssertEqual(mock.counts.concurrentHoistedRotations, 2)
    }

    /// Elementwise steps tile by tile (`mapTiles`): a square and a product of two tensors under
    /// 2 threads give the ciphertexts of 1 thread bit for bit, agree with the plain values, and
    /// the mock counts their products, relinearizations and rescales as concurrent.
    func testElementwiseStepsTileByTile() throws {
        var rng = TestRNG(seed: 74)
        let shape = try TileShape(parsing: "[3/1, 4/1, 2/2, 2/2, 8/128]")
        let x = Fixtures.random(shape.logicalShape, &rng), y = Fixtures.random(shape.logicalShape, &rng)
        let mock = Fixtures.mock()
        let mx = try TileTensor(encrypting: x, shape: shape, backend: mock), my = try TileTensor(encrypting: y, shape: shape, backend: mock)
        mock.resetCounts()
        let ms = try mx.squared(), mp = try mx.multiplied(by: my)
        let counts = mock.counts
        XCTAssertEqual(counts.multiplications, 2 * shape.tileCount)
        XCTAssertEqual(counts.concurrentMultiplications, counts.multiplications)
        XCTAssertEqual(counts.concurrentRelinearizations, counts.relinearizations)
        XCTAssertEqual(counts.concurrentRescales, counts.rescales)
        XCTAssertEqual(try ms.decrypt(), try Tensor(shape: x.shape, values: x.values.map { $0 * $0 }))
        let ckks = try Fixtures.ckks(rotations: [])
        let cx = try TileTensor(encrypting: x, shape: shape, backend: ckks), cy = try TileTensor(encrypting: y, shape: shape, backend: ckks)
        let one = try ExecutionPolicy(threads: 1).run { [try cx.squared(), try cx.multiplied(by: cy)] }
        let two = try ExecutionPolicy(threads: 2).run { [try cx.squared(), try cx.multiplied(by: cy)] }
        for (a, b) in zip(one, two) { XCTAssertEqual(a.tiles.map(\.components), b.tiles.map(\.components)) }
        assertAgree("squares tile by tile", reference: try ms.decrypt(), mock: try ms.decrypt(), ckks: try two[0].decrypt(), bits: 20)
        assertAgree("products tile by tile", reference: try mp.decrypt(), mock: try mp.decrypt(), ckks: try two[1].decrypt(), bits: 20)
    }

    /// An error in one worker is thrown to the caller, after every worker stopped.
    /// A round of a tap convolution's sources takes sources whose products fall to different
    /// workers (a strided convolution's source tile mostly feeds one output tile), every source
    /// once; one worker keeps the sources in order.
    func testRoundsMixTheWorkersSources() {
        // Sources 0–3 feed worker 0's outputs, 4–5 worker 1's, 6 both (more of worker 1's).
        let owners: [Int: [Int]] = [0: [0, 0], 1: [0], 2: [0, 0, 1], 3: [0], 4: [1, 1], 5: [1], 6: [0, 1, 1]]
        let order = TileTensor<MockBackend>.roundOrder(owners, workers: 2)
        XCTAssertEqual(order, [0, 4, 1, 5, 2, 6, 3])
        XCTAssertEqual(TileTensor<MockBackend>.roundOrder(owners, workers: 1), Array(0...6))
        XCTAssertEqual(Set(TileTensor<MockBackend>.roundOrder(owners, workers: 3)), Set(0...6))
        XCTAssertEqual(TileTensor<MockBackend>.roundOrder(owners, workers: 3).count, 7)
    }

    func testAWorkersErrorIsThrown() throws {
        struct Failure: Error, Equatable { let worker: Int }
        let ran = Locked<Set<Int>>([])
        XCTAssertThrowsError(try ProductWorkers.run(4) { w in
            ran.withLock { _ = $0.insert(w) }
            if w == 2 { throw Failure(worker: w) }
        }) { XCTAssertEqual($0 as? Failure, Failure(worker: 2)) }
        XCTAssertEqual(ran.withLock { $0 }, [0, 1, 2, 3])
    }
}
