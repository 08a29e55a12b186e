import CKKS

/// Strided average pooling as window sums in place, then the stride's compaction as a remap.
extension TileTensor {
    /// A strided pool of an image that fits one tile per image dimension, when that is cheaper
    /// than the masked tap products of `averagePooledInterleaved` (`terms`, their rotations
    /// and steps): every slot first gets the sum of the k×k window starting at it (k − 1
    /// hoisted rotations and additions per image dimension and tile, no product and no level),
    /// then output pixel (y, x) takes the sum at (s·y, s·x), times `weight`, by a remap
    /// (`remapped`: masked products of rotations, directly or in baby-step giant-step form;
    /// one level, as before). AlexNet's last pool (13×13 → 6×6, 3×3 stride 2, in 16×16 tiles)
    /// multiplied each of its 32 tiles' 63 tap rotations by one-pixel masks, 10,368 products and
    /// 2,016 rotations (37.6 s against an estimate of 18.4 s); compacted, each output pixel is
    /// one masked product, by 10 rotations per tile in baby-step giant-step form (the babies
    /// the column offsets, the giants the row offsets: `RemapGroups.babyGiantSplit(slots:modulus:)`).
    /// nil when the image spans several tiles, the stride is 1 (the taps
    /// then shift by the window offset alone) or this is not cheaper in rotations, steps
    /// (`RemapCost.score`) and products alike.
    ///
    /// Correctness: a window sum at position p reads p + dy for dy < k, inside the image for
    /// every p = s·y the compaction reads (s·(oh − 1) + k − 1 ≤ h − 1 < the tile size), so the
    /// rotations carry no slot across another dimension there; what they carry into the other
    /// slots is never read, and the remap's masks clear it.
    func compactedPoolIfCheaper<Term: HoistedTerm>(window k: Int, stride s: Int, weight: Double, scale: Double,
                                                   terms: [Term], into outShape: TileShape) throws -> TileTensor? {
        let dims = shape.dimensions
        guard s > 1, dims[2].tileCount == 1, dims[3].tileCount == 1 else { return nil }
        let slots = backend.slotCount
        var tapSteps: [Int: Set<Int>] = [:]
        for term in terms {
            let step = backend.normalizedStep(term.delta)
            if step != 0 { tapSteps[term.source, default: []].insert(step) }
        }
        let taps = RemapCost(rotations: tapSteps.values.reduce(0) { $0 + $1.count }, steps: tapSteps.values.reduce(into: Set<Int>()) { $0.formUnion($1) })

        let rowSteps = (1..<max(k, 1)).map { $0 * shape.slotStrides[2] }
        let columnSteps = (1..<max(k, 1)).map { $0 * shape.slotStrides[3] }
        let summedShape = try TileShape(dims.map { $0.hasPadding ? $0.withUnknowns(true) : $0 })
        let compaction = { (i: [Int]) -> [Int]? in [i[0], i[1], s * i[2], s * i[3], i[4]] }
        let groups = try RemapGroups(from: summedShape, to: outShape, slots: slots, source: compaction)
        let sums = RemapCost(rotations: tiles.count * (rowSteps.count + columnSteps.count), steps: Set((rowSteps + columnSteps).map(backend.normalizedStep)))
        let direct = groups.direct, split = groups.cheapestSplit(slots: slots, moduli: outShape.slotStrides).cost
        let compacted = sums.then(direct.score <= split.score ? direct : split)
        guard compacted.score < taps.score, groups.order.count <= terms.count else { return nil }

        let summedTiles = try backend.mapTiles(tiles.count) { t in
            try windowSum(windowSum(tiles[t], steps: rowSteps), steps: columnSteps)
        }
        return try TileTensor(backend: backend, shape: summedShape, tiles: summedTiles)
            .remapped(to: outShape, weight: weight, maskScale: scale, groups: groups, source: compaction)
    }

    /// a + Σ rot(a, step) over `steps` (one hoisted set).
    private func windowSum(_ a: Backend.Ciphertext, steps: [Int]) throws -> Backend.Ciphertext {
        guard !steps.isEmpty else { return a }
        let rotated = try backend.rotations(of: a, by: steps)
        var acc = a
        for step in steps { try backend.addInPlace(&acc, rotated[step]!) }
        return acc
    }
}
