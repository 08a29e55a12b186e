import XCTest
import CKKS
@testable import TileTensors

/// Shifts, cyclic rotations, layout conversion and free reshapes against naive index loops.
final class LayoutTests: XCTestCase {
    private func naiveShift(_ x: Tensor, _ d: Int, _ k: Int, cyclic: Bool) -> Tensor {
        var r = x
        let n = x.shape[d]
        for o in 0..<x.values.count {
            var i = x.index(ofOffset: o)
            let j = i[d] + k
            if cyclic { i[d] = ((j % n) + n) % n; r.values[o] = x[i] } else if (0..<n).contains(j) { i[d] = j; r.values[o] = x[i] } else { r.values[o] = 0 }
        }
        return r
    }

    func testShiftAndRotateOnRandomShapes() throws {
        var rng = TestRNG(seed: 11)
        let layouts = ["[7~/4, 5/4]", "[9/4, 6~/4]", "[3/2, 13~/8]", "[16~/4, 4/4]", "[5/8, 3/2]"]
        for text in layouts {
            let shape = try TileShape(parsing: text)
            let x = Fixtures.random(shape.logicalShape, &rng)
            for d in 0..<2 {
                for k in [1, -1, 2, shape.dimensions[d].size] {
                    let mock = Fixtures.mock(slots: 16)
                    let t = try TileTensor(encrypting: x, shape: shape, backend: mock)
                    XCTAssertEqual(try t.shifted(along: d, by: k).decrypt(), naiveShift(x, d, k, cyclic: false), "\(text) shift \(d) by \(k)")
                    XCTAssertEqual(try t.rotated(along: d, by: k).decrypt(), naiveShift(x, d, k, cyclic: true), "\(text) rotate \(d) by \(k)")
                }
            }
        }
        // On CKKS.
        let shape = try TileShape(parsing: "[13~/8, 7/64]")
        let x = Fixtures.random(shape.logicalShape, &rng)
        func run<B: TensorBackend>(_ b: B) throws -> [Tensor] {
            let t = try TileTensor(encrypting: x, shape: shape, backend: b)
            return try [t.shifted(along: 0, by: 1).decrypt(), t.rotated(along: 1, by: -3).decrypt()]
        }
        let mock = Fixtures.mock()
        let m = try run(mock)
        let c = try run(Fixtures.ckks(rotations: mock.rotationSteps))
        assertAgree("shift interleaved", reference: naiveShift(x, 0, 1, cyclic: false), mock: m[0], ckks: c[0])
        assertAgree("rotate plain", reference: naiveShift(x, 1, -3, cyclic: true), mock: m[1], ckks: c[1])
    }

    /// Shifting an interleaved dimension by one moves whole tiles: only the wrapping tile rotates.
    func testInterleavedShiftRotatesOnlyWrappingTiles() throws {
        let shape = try TileShape(parsing: "[16~/4, 4/4]")   // e = 4 tiles along dimension 0
        let mock = Fixtures.mock(slots: 16)
        var rng = TestRNG(seed: 12)
        let x = Fixtures.random(shape.logicalShape, &rng)
        let t = try TileTensor(encrypting: x, shape: shape, backend: mock)
        mock.resetCounts()
        let s = try t.shifted(along: 0, by: 1)
        XCTAssertEqual(try s.decrypt(), naiveShift(x, 0, 1, cyclic: false))
        XCTAssertEqual(mock.counts.hoistedRotations, 1)
        XCTAssertEqual(mock.counts.hoistedRotationSets, 1)
        XCTAssertEqual(mock.counts.rotations, 0)
        // The wrapping tile's mask keeps part of it; the other three keep every slot: the
        // weight 1 as a scalar product, nothing encoded.
        XCTAssertEqual(mock.counts.plainMultiplications, 1)
        XCTAssertEqual(mock.counts.scalarMultiplications, 3)
        XCTAssertEqual(mock.counts.encodes, 1)
        XCTAssertEqual(mock.counts.rescales, 4)
    }

    func testConvertReshapeFlatten() throws {
        var rng = TestRNG(seed: 13)
        let mock = Fixtures.mock(slots: 32)
        let a = try TileShape(parsing: "[3/4, 8/8]")
        let x = Fixtures.random([3, 8], &rng)
        let t = try TileTensor(encrypting: x, shape: a, backend: mock)
        mock.resetCounts()
        let flat = try t.flattened()
        XCTAssertEqual(flat.shape.description, "[24/32]")
        XCTAssertEqual(try flat.decrypt().values, x.values)
        XCTAssertEqual(mock.counts, OperationCounts(), "a free reshape performs no operation")
        XCTAssertEqual(try flat.reshaped(to: a).decrypt(), x)

        let b = try TileShape(parsing: "[3/4, 5/8]")
        let y = Fixtures.random([3, 5], &rng)
        let u = try TileTensor(encrypting: y, shape: b, backend: mock)
        XCTAssertThrowsError(try u.flattened()) { guard case TileTensorError.shapeMismatch = $0 else { return XCTFail("\($0)") } }
        for target in ["[3~/2, 5/16]", "[3/8, 5/4]", "[3/1, 5/32]", "[3~/32, 5/1]"] {
            let converted = try u.converted(to: TileShape(parsing: target))
            XCTAssertEqual(converted.shape.clearingUnknowns.description, target)
            XCTAssertEqual(try converted.decrypt(), y, target)
        }
        XCTAssertThrowsError(try u.converted(to: TileShape(parsing: "[5/4, 3/8]")))
    }
}

/// A cyclic rotation of a full outermost interleaved dimension moves whole tiles; only the
/// wrapping tile rotates, and no mask or level is spent.
final class CyclicRotationTests: XCTestCase {
    func testCyclicRotationOfOutermostInterleavedDimensionIsFree() throws {
        let shape = try TileShape(parsing: "[16~/4, 4/4]")
        let mock = Fixtures.mock(slots: 16)
        var rng = TestRNG(seed: 14)
        let x = Fixtures.random(shape.logicalShape, &rng)
        let t = try TileTensor(encrypting: x, shape: shape, backend: mock)
        mock.resetCounts()
        for k in [1, -1, 5] {
            let r = try t.rotated(along: 0, by: k)
            var want = x
            for o in 0..<x.values.count {
                var i = x.index(ofOffset: o)
                i[0] = ((i[0] + k) % 16 + 16) % 16
                want.values[o] = x[i]
            }
            XCTAssertEqual(try r.decrypt(), want, "rotate by \(k)")
            XCTAssertEqual(r.level, t.level)
        }
        XCTAssertEqual(mock.counts.plainMultiplications, 0)
        XCTAssertEqual(mock.counts.rescales, 0)
        XCTAssertEqual(mock.counts.hoistedRotations, 1 + 1 + 4)   // k = ±1: only the wrapping tile; k = 5 = e + 1: every tile moves
    }
}

/// A conversion of a one-pixel image from multi-pixel tiles (a few channels per tile, the rest
/// of each tile the image's empty pixels) into one-pixel tiles, as AlexNet's dense output: the
/// sources differ by a shift, so the baby-step giant-step form and one copy then replicated
/// need far fewer rotations and steps than a masked rotation per (source, δ), with the same
/// values on the mock and on CKKS.
final class RegroupingConversionTests: XCTestCase {
    func testOnePixelRegroupingTakesFewRotationSteps() throws {
        var rng = TestRNG(seed: 15)
        let source = try TileShape(parsing: "[*/4, 32/4, 1~/4, 1~/8, 1/1]")   // 8 tiles of 4 channels
        let x = Fixtures.random(source.logicalShape, &rng)
        for text in ["[*/16, 32/32, 1~/1, 1~/1, 1/1]", "[*/32, 32/16, 1~/1, 1~/1, 1/1]"] {
            let target = try TileShape(parsing: text)
            let mock = Fixtures.mock(slots: 512)
            let t = try TileTensor(encrypting: x, shape: source, backend: mock)
            let direct = try RemapGroups(from: source, to: target, slots: 512) { $0 }.direct
            mock.resetCounts()
            let converted = try t.converted(to: target)
            XCTAssertEqual(converted.shape.description, text)
            XCTAssertEqual(try converted.decrypt(), x, text)
            XCTAssertEqual(converted.level, t.level - 1, "one level (the masks)")
            let rotations = mock.counts.rotations + mock.counts.hoistedRotations
            XCTAssertLessThan(rotations, direct.rotations / 2, "\(text): \(mock.counts)")
            XCTAssertLessThan(mock.rotationSteps.count, direct.steps.count / 2, "\(text): steps \(mock.rotationSteps.sorted())")
            let ckks = try Fixtures.ckks(rotations: mock.rotationSteps)
            let onCKKS = try TileTensor(encrypting: x, shape: source, backend: ckks).converted(to: target).decrypt()
            XCTAssertGreaterThan(precisionBits(onCKKS, x), 18, text)
            // Made one target at a time (the chunks of a large conversion): the same values on
            // the mock, the same residues' worth on CKKS.
            let chunked = try t.remapped(to: target, sumsAtOnce: 1) { $0 }
            XCTAssertEqual(try chunked.decrypt(), x, "\(text), one target at a time")
            let chunkedOnCKKS = try TileTensor(encrypting: x, shape: source, backend: ckks).remapped(to: target, sumsAtOnce: 1) { $0 }.decrypt()
            XCTAssertGreaterThan(precisionBits(chunkedOnCKKS, x), 18, text)
        }
    }

    /// The baby-step giant-step form alone (no replicated target dimension): the same values.
    func testBabyGiantSplitWithoutCopies() throws {
        var rng = TestRNG(seed: 16)
        let source = try TileShape(parsing: "[32/4, 1/4, 1~/4, 1~/8, 1/1]")
        let target = try TileShape(parsing: "[32/32, 1/16, 1~/1, 1~/1, 1/1]")
        let x = Fixtures.random(source.logicalShape, &rng)
        let groups = try RemapGroups(from: source, to: target, slots: 512) { $0 }
        let split = groups.babyGiantSplit(slots: 512)
        XCTAssertLessThan(split.cost.score, groups.direct.score)
        let mock = Fixtures.mock(slots: 512)
        let converted = try TileTensor(encrypting: x, shape: source, backend: mock).converted(to: target)
        XCTAssertEqual(try converted.decrypt(), x)
        XCTAssertEqual(mock.rotationSteps, split.cost.steps)
        let ckks = try Fixtures.ckks(rotations: mock.rotationSteps)
        let onCKKS = try TileTensor(encrypting: x, shape: source, backend: ckks).converted(to: target).decrypt()
        XCTAssertGreaterThan(precisionBits(onCKKS, x), 18)
        // One target at a time: the babies of a source read by two chunks made again, the
        // same values.
        let before = mock.counts.hoistedRotations
        let chunked = try TileTensor(encrypting: x, shape: source, backend: mock).remapped(to: target, sumsAtOnce: 1) { $0 }
        XCTAssertEqual(try chunked.decrypt(), x)
        XCTAssertGreaterThan(mock.counts.hoistedRotations - before, 0)
        let chunkedOnCKKS = try TileTensor(encrypting: x, shape: source, backend: ckks).remapped(to: target, sumsAtOnce: 1) { $0 }.decrypt()
        XCTAssertGreaterThan(precisionBits(chunkedOnCKKS, x), 18)
    }
}
