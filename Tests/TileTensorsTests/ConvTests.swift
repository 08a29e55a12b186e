import XCTest
import CKKS
@testable import TileTensors

/// Convolutions (interleaved and SIMD), pooling and activations against a naive loop, stacked
/// layers end to end, and the closed-form operation counts.
final class ConvTests: XCTestCase {
    /// Naive conv: images [B, C, H, W], filters [F, C, K, K] → [B, F, H′, W′].
    static func naiveConv(_ x: Tensor, _ w: Tensor, _ bias: [Double]?, stride s: Int, padding p: Int) -> Tensor {
        let (nb, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (f, k) = (w.shape[0], w.shape[2])
        let oh = (h + 2 * p - k) / s + 1, ow = (wd + 2 * p - k) / s + 1
        var out = try! Tensor(zeros: [nb, f, oh, ow])
        for b in 0..<nb { for fi in 0..<f { for y in 0..<oh { for xx in 0..<ow {
            var acc = bias?[fi] ?? 0
            for ci in 0..<c { for dy in 0..<k { for dx in 0..<k {
                let iy = y * s + dy - p, ix = xx * s + dx - p
                if (0..<h).contains(iy) && (0..<wd).contains(ix) { acc += w[[fi, ci, dy, dx]] * x[[b, ci, iy, ix]] }
            } } }
            out[[b, fi, y, xx]] = acc
        } } } }
        return out
    }

    /// [B, C, H, W] ↔ the interleaved conv's logical [c, f, H, W, B] with the channels in `dim`.
    static func toTiles(_ x: Tensor, channelsIn dim: Int) -> Tensor {
        let (nb, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        var shape = [1, 1, h, w, nb]
        shape[dim] = c
        var out = try! Tensor(zeros: shape)
        for o in 0..<x.values.count {
            let i = x.index(ofOffset: o)
            var j = [0, 0, i[2], i[3], i[0]]
            j[dim] = i[1]
            out[j] = x.values[o]
        }
        return out
    }

    static func fromTiles(_ t: Tensor, channelsIn dim: Int) -> Tensor {
        let c = t.shape[dim], h = t.shape[2], w = t.shape[3], nb = t.shape[4]
        var out = try! Tensor(zeros: [nb, c, h, w])
        for o in 0..<out.values.count {
            let i = out.index(ofOffset: o)
            var j = [0, 0, i[2], i[3], i[0]]
            j[dim] = i[1]
            out.values[o] = t[j]
        }
        return out
    }

    /// Taps of output row y inside an n-row image.
    private func validTaps(oneRow y: Int, _ n: Int, _ k: Int, _ s: Int, _ p: Int) -> Int {
        (0..<k).filter { (0..<n).contains(y * s + $0 - p) }.count
    }

    private func validTaps(_ n: Int, _ k: Int, _ s: Int, _ p: Int) -> Int {
        let out = (n + 2 * p - k) / s + 1
        return (0..<out).reduce(0) { acc, y in acc + (0..<k).filter { (0..<n).contains(y * s + $0 - p) }.count }
    }

    func testInterleavedConvOnRandomShapes() throws {
        var rng = TestRNG(seed: 31)
        for trial in 0..<24 {
            let slots = trial < 20 ? 64 : 512
            let nb = Int.random(in: 1...3, using: &rng), c = Int.random(in: 1...5, using: &rng), f = Int.random(in: 1...5, using: &rng)
            let k = Int.random(in: 1...3, using: &rng), s = Int.random(in: 1...2, using: &rng), p = Int.random(in: 0..<k, using: &rng)
            let h = Int.random(in: k...6, using: &rng), w = Int.random(in: k...6, using: &rng)
            let cd = trial % 2, fd = 1 - cd
            // Half the trials one tile per pixel (closed-form counts), half interleaved or plain image tiles.
            let onePerPixel = trial % 4 < 2
            let tx = onePerPixel ? 1 : 1 << Int.random(in: 0...2, using: &rng), ty = onePerPixel ? 1 : 1 << Int.random(in: 0...2, using: &rng)
            let interleaved = Bool.random(using: &rng)
            var t = [1, 1, 1]
            for _ in 0..<(slots / tx / ty).trailingZeroBitCount { t[Int.random(in: 0..<3, using: &rng)] *= 2 }
            var dims = [try TileDimension.replicated(tile: t[0]), try .replicated(tile: t[1]),
                        try TileDimension(size: h, tileSize: tx, interleaved: interleaved), try TileDimension(size: w, tileSize: ty, interleaved: interleaved),
                        try .plain(nb, tile: t[2])]
            dims[cd] = try .plain(c, tile: t[cd])
            let shape = try TileShape(dims)
            let x = Fixtures.random([nb, c, h, w], &rng), filters = Fixtures.random([f, c, k, k], &rng)
            let bias = Bool.random(using: &rng) ? Fixtures.random([f], &rng).values : nil
            func run<B: TensorBackend>(_ backend: B) throws -> TileTensor<B> {
                let tx = try TileTensor(encrypting: ConvTests.toTiles(x, channelsIn: cd), shape: shape, backend: backend)
                if let mock = backend as? MockBackend { mock.resetCounts() }
                return try tx.conv2dInterleaved(filters: filters, bias: bias, stride: s, padding: p)
            }
            let mock = Fixtures.mock(slots: slots)
            let out = try run(mock)
            XCTAssertEqual(out.shape.dimensions[cd].isReplicated, cd == 0, "\(shape) → \(out.shape)")

            // Closed-form counts.
            let oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1
            let eC = (c + t[cd] - 1) / t[cd], eF = (f + t[fd] - 1) / t[fd], eB = (nb + t[2] - 1) / t[2]
            let v = validTaps(h, k, s, p) * validTaps(w, k, s, p), o = oh * ow * eF * eB, l = t[cd].trailingZeroBitCount
            var counts = OperationCounts()
            if !onePerPixel { counts = mock.counts.closedForm }   // closed form below is for one tile per pixel
            counts.encodes = onePerPixel ? k * k * eC * eF + (bias == nil ? 0 : eF * eB) : counts.encodes
            if onePerPixel {
                // No tap rotates: each output tile is a lazy sum of its v(y)·v(x)·e_C products,
                // in runs of `lazySumTerms`, the runs added (no other addition before the sums).
                let runLength = TileTensor<MockBackend>.lazySumTerms
                var joins = 0
                for y in 0..<oh {
                    for xx in 0..<ow {
                        let g = validTaps(oneRow: y, h, k, s, p) * validTaps(oneRow: xx, w, k, s, p) * eC
                        joins += (g + runLength - 1) / runLength - 1
                    }
                }
                joins *= eF * eB
                counts.plainMultiplications = v * eC * eF * eB
                counts.lazyPlainProducts = v * eC * eF * eB
                counts.additions = joins + o * l + (bias == nil ? 0 : o)
                // With two output sums or more, the product workers make the sums, encode their
                // plaintexts and join the runs; the lazy products are priced at their own rate.
                // Each worker also rescales its sums the moment they are complete.
                if o > 1 {
                    counts.concurrentEncodes = k * k * eC * eF
                    counts.concurrentAdditions = joins
                    counts.concurrentRescales = o
                }
            }
            let outTiles = onePerPixel ? o : out.shape.tileCount
            counts.rescales = outTiles
            counts.rotations = outTiles * l
            if onePerPixel {
                // The channel sums' rotate-and-add chains, a round of tiles at a time (a tile alone
                // in the last round is not concurrent).
                let chained = Fixtures.inRounds(outTiles, mock.concurrentPieces)
                counts.concurrentRotations = chained * l
                counts.concurrentAdditions += chained * l
            }
            // A kernel covering a multi-pixel tile may take the full-image algorithm (sums over
            // the pixel positions too; checked in its own test).
            if h == k, w == k, p == 0, k > 1, tx * ty > 1, mock.counts.hoistedRotations == 0 {
                counts.rotations += outTiles * (tx * ty).trailingZeroBitCount
            }
            XCTAssertEqual(mock.counts.closedForm, counts, "\(shape) conv \(filters.shape) s\(s) p\(p)")

            let want = ConvTests.naiveConv(x, filters, bias, stride: s, padding: p)
            let m = ConvTests.fromTiles(try out.decrypt(), channelsIn: fd)
            let ck = slots == 512 ? ConvTests.fromTiles(try run(Fixtures.ckks(rotations: mock.rotationSteps)).decrypt(), channelsIn: fd) : nil
            assertAgree("interleaved conv \(shape) F\(f) K\(k) s\(s) p\(p)", reference: want, mock: m, ckks: ck)
        }
    }

    /// Pruned blocks (all-zero weights of one tap, channel tile and filter tile) are skipped:
    /// the result equals the naive convolution, and with one tile per pixel, no padding and
    /// stride 1 the products and encodes drop to the closed form (k²·eC·eF − Z)·oh·ow·eB and
    /// k²·eC·eF − Z for Z zero blocks. On multi-pixel tiles a tap zero in every block takes its
    /// rotations (and Galois keys) with it.
    func testZeroWeightBlocksAreSkipped() throws {
        var rng = TestRNG(seed: 19)
        let (c, f, k, h, w, nb) = (4, 4, 3, 5, 5, 1)
        let x = Fixtures.random([nb, c, h, w], &rng)
        var filters = Fixtures.random([f, c, k, k], &rng)
        // Channel and filter tiles of 2: zero (tap (0,0), channel tile 0, filter tile 1), and the
        // whole tap (1, 2) in every block.
        for fi in 2..<4 { for ci in 0..<2 { filters[[fi, ci, 0, 0]] = 0 } }
        for fi in 0..<f { for ci in 0..<c { filters[[fi, ci, 1, 2]] = 0 } }
        let zeroBlocks = 1 + 4
        for (tx, slots) in [(1, 4), (4, 64)] {
            let dims = [try TileDimension.plain(c, tile: 2), try .replicated(tile: 2), try TileDimension(size: h, tileSize: tx),
                        try TileDimension(size: w, tileSize: tx), try .plain(nb, tile: 1)]
            let shape = try TileShape(dims)
            func run(_ weights: Tensor) throws -> (Tensor, OperationCounts, Set<Int>) {
                let mock = Fixtures.mock(slots: slots)
                let t = try TileTensor(encrypting: ConvTests.toTiles(x, channelsIn: 0), shape: shape, backend: mock)
                mock.resetCounts()
                let out = try t.conv2dInterleaved(filters: weights, stride: 1, padding: 0)
                return (ConvTests.fromTiles(try out.decrypt(), channelsIn: 1), mock.counts, mock.rotationSteps)
            }
            let (pruned, counts, steps) = try run(filters)
            let want = ConvTests.naiveConv(x, filters, nil, stride: 1, padding: 0)
            for (a, b) in zip(pruned.values, want.values) { XCTAssertEqual(a, b, accuracy: 1e-9) }
            var dense = filters
            for i in dense.values.indices where dense.values[i] == 0 { dense.values[i] = 1e-3 }
            let (_, full, fullSteps) = try run(dense)
            let (oh, ow, eC, eF) = (h - k + 1, w - k + 1, 2, 2)
            if tx == 1 {
                XCTAssertEqual(full.plainMultiplications, k * k * eC * eF * oh * ow * nb)
                XCTAssertEqual(counts.plainMultiplications, (k * k * eC * eF - zeroBlocks) * oh * ow * nb)
                XCTAssertEqual(counts.encodes, k * k * eC * eF - zeroBlocks)
            } else {
                XCTAssertLessThan(counts.plainMultiplications, full.plainMultiplications)
                XCTAssertLessThan(counts.hoistedRotations, full.hoistedRotations, "the zero tap's rotations are not made")
                XCTAssertTrue(steps.isSubset(of: fullSteps))
            }
        }
    }

    /// A kernel covering the whole image on multi-pixel tiles: products, then rotate-and-add over
    /// pixels and channels — closed-form counts, mock = naive = CKKS, both orientations, image
    /// tiles interleaved and plain, several channel, filter, image and batch tiles.
    func testFullImageConvolution() throws {
        var rng = TestRNG(seed: 37)
        for (trial, (nb, c, f, k, tx, tc, tb, interleaved)) in [(1, 3, 2, 4, 2, 2, 1, true), (3, 2, 3, 4, 4, 1, 2, false),
                                                               (3, 5, 2, 5, 2, 4, 2, true), (1, 1, 1, 8, 4, 2, 2, false)].enumerated() {
            let cd = trial % 2, fd = 1 - cd
            let tf = 512 / (tc * tx * tx * tb)   // the filter tile fills the 512 slots
            var dims = [try TileDimension.replicated(tile: 1), try .replicated(tile: 1),
                        try TileDimension(size: k, tileSize: tx, interleaved: interleaved), try TileDimension(size: k, tileSize: tx, interleaved: interleaved),
                        try .plain(nb, tile: tb)]
            dims[cd] = try .plain(c, tile: tc)
            dims[fd] = try .replicated(tile: tf)
            let shape = try TileShape(dims)
            let slots = shape.slotsPerTile
            let x = Fixtures.random([nb, c, k, k], &rng), filters = Fixtures.random([f, c, k, k], &rng)
            let bias = trial % 3 == 0 ? nil : Fixtures.random([f], &rng).values
            func run<B: TensorBackend>(_ backend: B) throws -> TileTensor<B> {
                let t = try TileTensor(encrypting: ConvTests.toTiles(x, channelsIn: cd), shape: shape, backend: backend)
                if let mock = backend as? MockBackend { mock.resetCounts() }
                return try t.conv2dInterleaved(filters: filters, bias: bias, stride: 1, padding: 0)
            }
            let mock = Fixtures.mock(slots: slots)
            let out = try run(mock)
            let eC = (c + tc - 1) / tc, eF = (f + tf - 1) / tf, eB = (nb + tb - 1) / tb, e = (k + tx - 1) / tx
            let o = eF * eB, t = eC * e * e, logs = (tx * tx * tc).trailingZeroBitCount
            var counts = OperationCounts()
            counts.encodes = eF * t + (bias == nil ? 0 : eF * eB)
            counts.plainMultiplications = o * t
            counts.additions = o * (t - 1) + o * logs + (bias == nil ? 0 : o)
            counts.rescales = o
            counts.rotations = o * logs
            if o > 1 {   // two output sums or more: made by the product workers, rotations and all
                counts.concurrentEncodes = eF * t
                counts.concurrentPlainMultiplications = o * t
                counts.concurrentAdditions = o * (t - 1) + o * logs
                counts.concurrentRescales = o
                counts.concurrentRotations = o * logs
            }
            XCTAssertEqual(mock.counts.closedForm, counts, "\(shape) conv \(filters.shape)")
            XCTAssertEqual(out.shape.dimensions[2].size, 1)
            XCTAssertEqual(out.shape.dimensions[cd].isReplicated, cd == 0)
            let want = ConvTests.naiveConv(x, filters, bias, stride: 1, padding: 0)
            let m = ConvTests.fromTiles(try out.decrypt(), channelsIn: fd)
            let ck = ConvTests.fromTiles(try run(Fixtures.ckks(rotations: mock.rotationSteps)).decrypt(), channelsIn: fd)
            assertAgree("full-image conv \(shape) F\(f) K\(k)", reference: want, mock: m, ckks: ck)
        }
    }

    /// A full-image convolution (a dense layer after a flatten) whose middle filter tile is all
    /// zero (pruned output neurons): that tile makes no products and no rotate-and-add steps, and
    /// the result still equals the naive convolution on the mock and on CKKS.
    func testFullImageConvolutionSkipsZeroFilterTiles() throws {
        var rng = TestRNG(seed: 41)
        let (nb, c, k, tx, tc, tb) = (1, 2, 4, 4, 2, 1)
        let tf = 512 / (tc * tx * tx * tb), f = 2 * tf + 3   // three filter tiles
        let shape = try TileShape([try .plain(c, tile: tc), try .replicated(tile: tf), try TileDimension(size: k, tileSize: tx, interleaved: true),
                                   try TileDimension(size: k, tileSize: tx, interleaved: true), try .plain(nb, tile: tb)])
        let x = Fixtures.random([nb, c, k, k], &rng)
        var filters = Fixtures.random([f, c, k, k], &rng)
        for fi in tf..<(2 * tf) { for ci in 0..<c { for y in 0..<k { for xx in 0..<k { filters[[fi, ci, y, xx]] = 0 } } } }
        func run<B: TensorBackend>(_ backend: B) throws -> TileTensor<B> {
            let t = try TileTensor(encrypting: ConvTests.toTiles(x, channelsIn: 0), shape: shape, backend: backend)
            if let mock = backend as? MockBackend { mock.resetCounts() }
            return try t.conv2dInterleaved(filters: filters, bias: nil, stride: 1, padding: 0)
        }
        let mock = Fixtures.mock(slots: shape.slotsPerTile)
        let out = try run(mock)
        let logs = (tx * tx * tc).trailingZeroBitCount, inputTiles = 1
        XCTAssertEqual(mock.counts.rotations, 2 * logs, "two live filter tiles rotate, the zero one does not")
        XCTAssertEqual(mock.counts.plainMultiplications, 2 * inputTiles + 1, "the zero tile is one product by zero")
        let want = ConvTests.naiveConv(x, filters, nil, stride: 1, padding: 0)
        let m = ConvTests.fromTiles(try out.decrypt(), channelsIn: 1)
        let ck = ConvTests.fromTiles(try run(Fixtures.ckks(rotations: mock.rotationSteps)).decrypt(), channelsIn: 1)
        assertAgree("full-image conv with a zero filter tile", reference: want, mock: m, ckks: ck)
    }

    /// conv → x² → conv → avgpool → dense (as a full-size conv) on the interleaved layouts: the
    /// first conv's output is the second's input as it is (no repacking between them).
    func testStackedNetworkEndToEnd() throws {
        let parameters = try CKKSParameters(logDegree: 10, primeBits: [60] + Array(repeating: 40, count: 5), specialPrimeBits: [60],
                                            logScale: 40, security: .insecureTestingOnly)
        var rng = TestRNG(seed: 32)
        let nb = 2, h = 6
        let x = Fixtures.random([nb, 1, h, h], &rng)
        let w1 = Fixtures.random([3, 1, 3, 3], &rng), b1 = Fixtures.random([3], &rng).values
        let w2 = Fixtures.random([2, 3, 3, 3], &rng), w3 = Fixtures.random([4, 2, 1, 1], &rng)
        let shape = try TileShape(parsing: "[1/4, */4, 6/1, 6/1, 2/32]")
        func run<B: TensorBackend>(_ backend: B) throws -> (TileTensor<B>, TileTensor<B>) {
            let tx = try TileTensor(encrypting: ConvTests.toTiles(x, channelsIn: 0), shape: shape, backend: backend)
            let c1 = try tx.conv2dInterleaved(filters: w1, bias: b1, stride: 1, padding: 1)
            let a1 = try c1.squared()
            let c2 = try a1.conv2dInterleaved(filters: w2, stride: 2, padding: 0)
            let pooled = try c2.averagePooled(window: 2, stride: 2, dimensions: 2, 3, divide: false)
            // The pooling's 1/4 folds into the dense weights.
            let w3Folded = try Tensor(shape: w3.shape, values: w3.values.map { $0 / 4 })
            return (c1, try pooled.conv2dInterleaved(filters: w3Folded, stride: 1, padding: 0))
        }
        let mock = MockBackend(slotCount: 512, parameters: parameters)
        let (c1, m) = try run(mock)
        XCTAssertEqual(c1.shape.description, "[*/4, 3/4, 6/1, 6/1, 2/32]", "the second conv's input, no repacking")
        var want = ConvTests.naiveConv(x, w1, b1, stride: 1, padding: 1)
        want.values = want.values.map { $0 * $0 }
        want = ConvTests.naiveConv(want, w2, nil, stride: 2, padding: 0)
        var pooled = try Tensor(zeros: [nb, 2, 1, 1])
        for b in 0..<nb { for f in 0..<2 { for y in 0..<2 { for xx in 0..<2 { pooled[[b, f, 0, 0]] += want[[b, f, y, xx]] / 4 } } } }
        want = ConvTests.naiveConv(pooled, w3, nil, stride: 1, padding: 0)
        let keygen = KeyGenerator(context: try CKKSContext(parameters: parameters))
        let sk = keygen.secretKey()
        let ckks = CKKSBackend(context: keygen.context, keys: try keygen.evaluationKeys(for: sk, rotations: Array(mock.rotationSteps)),
                               encryptor: Encryptor(secretKey: sk), decryptor: Decryptor(secretKey: sk))
        let (_, c) = try run(ckks)
        XCTAssertEqual(c.level, 0)
        assertAgree("stack conv-x²-conv-pool-dense", reference: want, mock: ConvTests.fromTiles(try m.decrypt(), channelsIn: 1),
                    ckks: ConvTests.fromTiles(try c.decrypt(), channelsIn: 1), bits: 12)
    }

    func testSIMDConvOnRandomShapes() throws {
        var rng = TestRNG(seed: 33)
        var ran = 0
        for trial in 0..<16 {
            let slots = trial < 12 ? 1024 : 512
            let c = Int.random(in: 1...3, using: &rng), f = Int.random(in: 1...3, using: &rng)
            let k = Int.random(in: 1...4, using: &rng), s = Int.random(in: 1...2, using: &rng), p = Int.random(in: 0..<k, using: &rng)
            let h = Int.random(in: max(k, 2)...7, using: &rng), w = Int.random(in: max(k, 2)...7, using: &rng)
            let u = (h + s - 1) / s, v = (w + s - 1) / s
            let oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1
            func pow2(_ n: Int) -> Int { var t = 1; while t < n { t *= 2 }; return t }
            let tu = pow2(max(u, oh)), tv = pow2(max(v, ow))
            guard s * s * tu * tv <= slots else { continue }
            let tc = slots / (s * s * tu * tv)
            guard c <= tc else { continue }
            let shape = try TileShape([.plain(c, tile: tc), .plain(s, tile: s), .plain(s, tile: s), .plain(u, tile: tu), .plain(v, tile: tv)])
            let x = Fixtures.random([1, c, h, w], &rng), filters = Fixtures.random([f, c, k, k], &rng)
            let bias = Bool.random(using: &rng) ? Fixtures.random([f], &rng).values : nil
            let poly = try Tensor.polyphase(Tensor(shape: [c, h, w], values: x.values), stride: s)
            func run<B: TensorBackend>(_ backend: B) throws -> Tensor {
                let tx = try TileTensor(encrypting: poly, shape: shape, backend: backend)
                if let mock = backend as? MockBackend { mock.resetCounts() }
                let out = try tx.conv2dSIMD(filters: filters, bias: bias, stride: s, padding: p, height: h, width: w).decrypt()
                return try Tensor(shape: [1, f, out.shape[4], out.shape[5]], values: out.values)
            }
            let mock = Fixtures.mock(slots: slots)
            let m = try run(mock)
            // Closed form: D distinct rotations δ = q_y·t_V + q_x.
            let q = Set((0..<k).map { Int((Double($0 - p) / Double(s)).rounded(.down)) })
            let d = q.count * q.count, dNonzero = d - (q.contains(0) ? 1 : 0), l = (tc * s * s).trailingZeroBitCount
            var counts = OperationCounts()
            counts.hoistedRotationSets = dNonzero > 0 ? 1 : 0
            counts.hoistedRotations = dNonzero
            counts.encodes = f * d + (bias == nil ? 0 : f)
            counts.plainMultiplications = f * d
            counts.additions = f * (d - 1) + f * l + (bias == nil ? 0 : f)
            counts.rescales = f
            counts.rotations = f * l
            XCTAssertEqual(mock.counts.closedForm, counts, "SIMD C\(c) F\(f) \(h)×\(w) K\(k) s\(s) p\(p)")
            let want = ConvTests.naiveConv(x, filters, bias, stride: s, padding: p)
            let ck = slots == 512 ? try run(Fixtures.ckks(rotations: mock.rotationSteps)) : nil
            assertAgree("SIMD conv C\(c) F\(f) \(h)×\(w) K\(k) s\(s) p\(p)", reference: want, mock: m, ckks: ck)
            ran += ck == nil ? 1 : 100
        }
        XCTAssertGreaterThanOrEqual(ran % 100, 8, "most random shapes fit the tile")
        XCTAssertGreaterThanOrEqual(ran / 100, 1, "at least one shape ran on CKKS")
    }

    /// The first layer of CryptoNets (1×28×28 → 5 maps, 5×5, stride 2, padding 1) at N = 8192
    /// (4096 slots): the counts the optimizer prices, per algorithm.
    func testCryptoNetsFirstLayerCounts() throws {
        var rng = TestRNG(seed: 34)
        let filters = Fixtures.random([5, 1, 5, 5], &rng)
        let x = Fixtures.random([1, 1, 28, 28], &rng)
        let want = ConvTests.naiveConv(x, filters, nil, stride: 2, padding: 1)
        for batch in [1, 512] {
            let mock = Fixtures.mock(slots: 4096)
            let shape = try TileShape([.plain(1, tile: 1), .replicated(tile: 8), .plain(28, tile: 1), .plain(28, tile: 1), .plain(batch, tile: 512)])
            var images = try Tensor(zeros: [batch, 1, 28, 28])
            for b in 0..<batch { for o in 0..<784 { images.values[b * 784 + o] = x.values[o] } }
            let tx = try TileTensor(encrypting: ConvTests.toTiles(images, channelsIn: 0), shape: shape, backend: mock)
            mock.resetCounts()
            let out = try tx.conv2dInterleaved(filters: filters, stride: 2, padding: 1)
            XCTAssertEqual(mock.counts.keySwitches, 0, "the CryptoNets layout needs no rotation")
            XCTAssertEqual(mock.counts.plainMultiplications, validTaps(28, 5, 2, 1) * validTaps(28, 5, 2, 1))
            print("CryptoNets layer 1, interleaved t_X = t_Y = 1, batch \(batch): \(out.tiles.count) output ciphertexts; \(mock.counts)")
            let got = ConvTests.fromTiles(try out.decrypt(), channelsIn: 1)
            XCTAssertGreaterThan(precisionBits(try Tensor(shape: want.shape, values: Array(got.values.prefix(want.values.count))), want), 30)
        }
        let mock = Fixtures.mock(slots: 4096)
        let shape = try TileShape(parsing: "[1/1, 2/2, 2/2, 14/32, 14/32]")
        let poly = try Tensor.polyphase(Tensor(shape: [1, 28, 28], values: x.values), stride: 2)
        let tx = try TileTensor(encrypting: poly, shape: shape, backend: mock)
        mock.resetCounts()
        let out = try tx.conv2dSIMD(filters: filters, stride: 2, padding: 1)
        XCTAssertEqual(mock.counts.hoistedRotations, 8)
        XCTAssertEqual(mock.counts.rotations, 10)
        print("CryptoNets layer 1, SIMD (polyphase), batch 1: \(out.tiles.count) output ciphertexts; \(mock.counts)")
        let got = try out.decrypt()
        assertAgree("CryptoNets layer 1 SIMD", reference: want, mock: try Tensor(shape: want.shape, values: got.values), ckks: nil)
    }

    func testPoolingAndActivations() throws {
        var rng = TestRNG(seed: 35)
        let shape = try TileShape(parsing: "[3/8, */4, 5/1, 4/1, 2/16]")
        let x = Fixtures.random([3, 1, 5, 4, 2], &rng)
        let a = Fixtures.random([3, 1, 1, 1, 1], &rng), b = Fixtures.random([3, 1, 1, 1, 1], &rng), c = Fixtures.random([3, 1, 1, 1, 1], &rng)
        let coefficientShape = try TileShape(parsing: "[3/8, */4, */1, */1, */16]")
        func run<B: TensorBackend>(_ backend: B) throws -> [Tensor] {
            let t = try TileTensor(encrypting: x, shape: shape, backend: backend)
            return try [t.averagePooled(window: 2, stride: 2, dimensions: 2, 3).decrypt(),
                        t.averagePooled(window: 3, stride: 1, dimensions: 2, 3).decrypt(),
                        t.globalAveragePooled(dimensions: 2, 3).decrypt(),
                        t.squared().decrypt(),
                        t.quadratic(a: 0.5, b: -0.25, c: 0.125).decrypt(),
                        t.quadratic(a: a, b: b, c: c, coefficientShape: coefficientShape).decrypt(),
                        t.multipliedByShifted(b, coefficientShape: coefficientShape).decrypt()]
        }
        func pool(_ k: Int, _ s: Int) -> Tensor {
            let oh = (5 - k) / s + 1, ow = (4 - k) / s + 1
            var r = try! Tensor(zeros: [3, 1, oh, ow, 2])
            for o in 0..<r.values.count {
                let i = r.index(ofOffset: o)
                for dy in 0..<k { for dx in 0..<k { r.values[o] += x[[i[0], 0, i[2] * s + dy, i[3] * s + dx, i[4]]] / Double(k * k) } }
            }
            return r
        }
        var global = try Tensor(zeros: [3, 1, 1, 1, 2])
        for o in 0..<x.values.count { let i = x.index(ofOffset: o); global[[i[0], 0, 0, 0, i[4]]] += x.values[o] / 20 }
        let perChannel = try Tensor(shape: x.shape, values: (0..<x.values.count).map { o in
            let v = x.values[o], ch = x.index(ofOffset: o)[0]
            return a.values[ch] * v * v + b.values[ch] * v + c.values[ch]
        })
        let shifted = try Tensor(shape: x.shape, values: (0..<x.values.count).map { o in
            let v = x.values[o]
            return v * (v + b.values[x.index(ofOffset: o)[0]])
        })
        let want = [pool(2, 2), pool(3, 1), global, try Tensor(shape: x.shape, values: x.values.map { $0 * $0 }),
                    try Tensor(shape: x.shape, values: x.values.map { 0.5 * $0 * $0 - 0.25 * $0 + 0.125 }), perChannel, shifted]
        let mock = Fixtures.mock()
        let m = try run(mock)
        let ck = try run(Fixtures.ckks(rotations: mock.rotationSteps))
        for (i, name) in ["avgpool 2/2", "avgpool 3/1", "global avgpool", "x²", "ax²+bx+c shared", "ax²+bx+c per channel", "x(x+β), one level"].enumerated() {
            assertAgree(name, reference: want[i], mock: m[i], ckks: ck[i])
        }
    }

    /// Interleaved stride-1 "same" conv with H = e_X·t_X: only the tiles within p of either end
    /// rotate; the counts equal the closed form of the doc comment.
    func testInterleavedSameConvCountsAndWrappingTiles() throws {
        var rng = TestRNG(seed: 36)
        for (c, f, k, ex, ey, tx, ty, tc, tb) in [(2, 3, 3, 4, 3, 2, 4, 2, 2), (1, 2, 5, 5, 4, 2, 2, 1, 8), (3, 1, 3, 2, 2, 4, 2, 4, 1)] {
            let p = (k - 1) / 2, h = ex * tx, w = ey * ty, nb = 2
            let slots = tc * 2 * tx * ty * tb
            let shape = try TileShape([.plain(c, tile: tc), .replicated(tile: 2), .interleaved(h, tile: tx), .interleaved(w, tile: ty), .plain(nb, tile: tb)])
            let x = Fixtures.random([nb, c, h, w], &rng), filters = Fixtures.random([f, c, k, k], &rng)
            let mock = Fixtures.mock(slots: slots)
            let tx0 = try TileTensor(encrypting: ConvTests.toTiles(x, channelsIn: 0), shape: shape, backend: mock)
            mock.resetCounts()
            let out = try tx0.conv2dInterleaved(filters: filters, stride: 1, padding: p)
            let eC = (c + tc - 1) / tc, eF = (f + 1) / 2, eB = (nb + tb - 1) / tb, l = tc.trailingZeroBitCount
            let o = ex * ey * eF * eB, g = ex * ey * k * k * eC * eF * eB
            XCTAssertEqual(mock.counts.plainMultiplications, g)
            XCTAssertEqual(mock.counts.additions, g - o + o * l)
            XCTAssertEqual(mock.counts.rescales, o)
            XCTAssertEqual(mock.counts.rotations, o * l)
            XCTAssertEqual(mock.counts.hoistedRotations, eC * eB * ((ex + 2 * p) * (ey + 2 * p) - ex * ey))
            XCTAssertEqual(mock.counts.hoistedRotationSets, eC * eB * (ex * ey - max(ex - 2 * p, 0) * max(ey - 2 * p, 0)))
            XCTAssertEqual(out.shape.dimensions[2].description, "\(h)~/\(tx)")
            let want = ConvTests.naiveConv(x, filters, nil, stride: 1, padding: p)
            assertAgree("interleaved same conv", reference: want, mock: ConvTests.fromTiles(try out.decrypt(), channelsIn: 1), ckks: nil)
        }
    }

    /// Two stacked interleaved convs (t_X = t_Y = 2, stride 1 then 2) with x² between, on CKKS:
    /// the first output is the second's input as it is.
    func testStackedInterleavedConvsOnCKKS() throws {
        var rng = TestRNG(seed: 37)
        let nb = 1, h = 8
        let x = Fixtures.random([nb, 2, h, h], &rng)
        let w1 = Fixtures.random([3, 2, 3, 3], &rng), w2 = Fixtures.random([2, 3, 3, 3], &rng), b2 = Fixtures.random([2], &rng).values
        let shape = try TileShape(parsing: "[2/4, */4, 8~/2, 8~/2, 1/8]")
        func run<B: TensorBackend>(_ backend: B) throws -> (TileTensor<B>, TileTensor<B>) {
            let t = try TileTensor(encrypting: ConvTests.toTiles(x, channelsIn: 0), shape: shape, backend: backend)
            let c1 = try t.conv2dInterleaved(filters: w1, stride: 1, padding: 1)
            return (c1, try c1.squared().conv2dInterleaved(filters: w2, bias: b2, stride: 2, padding: 1))
        }
        let mock = Fixtures.mock()
        let (c1, m) = try run(mock)
        XCTAssertEqual(c1.shape.description, "[*/4, 3/4, 8~/2, 8~/2, 1/8]")
        XCTAssertEqual(m.shape.description, "[2/4, 1?/4, 4~/2, 4~/2, 1/8]")
        var want = ConvTests.naiveConv(x, w1, nil, stride: 1, padding: 1)
        want.values = want.values.map { $0 * $0 }
        want = ConvTests.naiveConv(want, w2, b2, stride: 2, padding: 1)
        let (_, c) = try run(Fixtures.ckks(rotations: mock.rotationSteps))
        assertAgree("interleaved conv-x²-conv (t = 2)", reference: want, mock: ConvTests.fromTiles(try m.decrypt(), channelsIn: 0),
                    ckks: ConvTests.fromTiles(try c.decrypt(), channelsIn: 0), bits: 15)
    }

    /// A scalar lazy sum is counted once per run of at most `scalarLazySumTerms` terms (each run
    /// clears, reduces and writes its accumulators: priced apart from its terms), and a sum of
    /// 150 terms split into runs of 128 and 22 agrees with the naive loops.
    func testScalarLazySumsAreCountedPerRun() throws {
        var rng = TestRNG(seed: 41)
        let nb = 512, cIn = 150, filters = 2
        XCTAssertLessThan(TileTensor<MockBackend>.scalarLazySumTerms, cIn)
        let x = Fixtures.random([nb, cIn, 1, 1], &rng)
        let w = Fixtures.random([filters, cIn, 1, 1], &rng)
        let shape = try TileShape([.plain(cIn, tile: 1), .replicated(tile: 1), .plain(1, tile: 1), .plain(1, tile: 1), .plain(nb, tile: 512)])
        let mock = Fixtures.mock()
        let t = try TileTensor(encrypting: ConvTests.toTiles(x, channelsIn: 0), shape: shape, backend: mock)
        mock.resetCounts()
        let y = try t.conv2dInterleaved(filters: w, stride: 1, padding: 0)
        let c = mock.counts
        XCTAssertEqual(c.lazyScalarProducts, filters * cIn)
        let runs = (cIn + TileTensor<MockBackend>.scalarLazySumTerms - 1) / TileTensor<MockBackend>.scalarLazySumTerms
        XCTAssertEqual(c.lazyScalarSums, filters * runs, "two runs per output: 128 terms and 22")
        XCTAssertEqual(c.plainMultiplications, 0)
        assertAgree("a 150-term scalar sum in two runs", reference: ConvTests.naiveConv(x, w, nil, stride: 1, padding: 0),
                    mock: ConvTests.fromTiles(try y.decrypt(), channelsIn: y.shape.dimensions[0].isReplicated ? 1 : 0), ckks: nil)
    }

    /// CryptoNets' layout with the batch filling the slots (one-pixel tiles, one channel and one
    /// filter per tile): every tap is a scalar product, nothing is encoded but the bias, the
    /// pooling masks are scalars too, and conv → x² → pool → full-image conv agrees with the
    /// naive loops on the mock and on CKKS.
    func testOnePixelTilesUseScalarProducts() throws {
        var rng = TestRNG(seed: 38)
        let nb = 512, h = 6
        let x = Fixtures.random([nb, 2, h, h], &rng)
        let w1 = Fixtures.random([3, 2, 3, 3], &rng), b1 = Fixtures.random([3], &rng).values
        let w2 = Fixtures.random([2, 3, 2, 2], &rng)
        let shape = try TileShape([.plain(2, tile: 1), .replicated(tile: 1), .plain(h, tile: 1), .plain(h, tile: 1), .plain(nb, tile: 512)])
        func run<B: TensorBackend>(_ backend: B, counted: MockBackend? = nil) throws -> TileTensor<B> {
            let t = try TileTensor(encrypting: ConvTests.toTiles(x, channelsIn: 0), shape: shape, backend: backend)
            counted?.resetCounts()
            let c1 = try t.conv2dInterleaved(filters: w1, bias: b1, stride: 1, padding: 1)
            if let counted {
                let c = counted.counts
                // Taps inside the image, per output pixel, times 2 channels and 3 filters.
                let taps = validTaps(h, 3, 1, 1) * validTaps(h, 3, 1, 1)
                XCTAssertEqual(c.scalarMultiplications, taps * 2 * 3)
                XCTAssertEqual(c.lazyScalarProducts, c.scalarMultiplications, "no rotation: summed lazily, output by output")
                XCTAssertEqual(c.lazyScalarSums, 3 * h * h, "one lazy sum per output pixel and filter (each under 128 terms)")
                XCTAssertEqual(c.plainMultiplications, 0)
                XCTAssertEqual(c.encodes, 0, "taps and bias are scalars: nothing encoded")
                XCTAssertEqual(c.keySwitches, 0)
            }
            let pooled = try c1.squared().averagePooledInterleaved(window: 2, stride: 2, divide: true)
            if let counted {
                XCTAssertEqual(counted.counts.plainMultiplications, 0, "pool masks over whole one-pixel tiles are scalars")
            }
            return try pooled.conv2dInterleaved(filters: w2, stride: 1, padding: 0)
        }
        let mock = Fixtures.mock()
        let m = try run(mock, counted: mock)
        var want = ConvTests.naiveConv(x, w1, b1, stride: 1, padding: 1)
        want.values = want.values.map { $0 * $0 }
        want = ConvTests.naiveConv(want, try Tensor(shape: [3, 3, 2, 2], values: (0..<36).map { i in
            i / 12 == (i / 4) % 3 ? 0.25 : 0 }), nil, stride: 2, padding: 0)
        want = ConvTests.naiveConv(want, w2, nil, stride: 1, padding: 0)
        let c = try run(Fixtures.ckks(rotations: mock.rotationSteps))
        assertAgree("one-pixel tiles: conv-x²-pool-conv", reference: want, mock: ConvTests.fromTiles(try m.decrypt(), channelsIn: m.shape.dimensions[0].isReplicated ? 1 : 0),
                    ckks: ConvTests.fromTiles(try c.decrypt(), channelsIn: c.shape.dimensions[0].isReplicated ? 1 : 0), bits: 15)
    }
}
