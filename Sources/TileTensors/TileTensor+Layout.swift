import CKKS

/// Moving elements between slots: shifts and cyclic rotations along a dimension, layout
/// conversion, and reshapes that need no data movement.
extension TileTensor {
    /// result[…, j, …] = self[…, j + k, …], zero where j + k falls outside 0..<n_d.
    ///
    /// On an interleaved dimension a shift by k < e moves whole tiles: the tiles that do not wrap
    /// need no rotation, and the ones that wrap one slot rotation by s_d. See `remapped` for the
    /// counts (one level when masks are needed, which they are whenever zeros must enter).
    public func shifted(along d: Int, by k: Int) throws -> TileTensor {
        try checkDimension(d)
        let n = shape.dimensions[d].size
        return try remapped(to: shape.clearingUnknowns) { index in
            var source = index
            source[d] += k
            return (0..<n).contains(source[d]) ? source : nil
        }
    }

    /// result[…, j, …] = self[…, (j + k) mod n_d, …]: the logical cyclic rotation of dimension d.
    public func rotated(along d: Int, by k: Int) throws -> TileTensor {
        try checkDimension(d)
        let n = shape.dimensions[d].size
        return try remapped(to: shape.clearingUnknowns) { index in
            var source = index
            source[d] = ((index[d] + k) % n + n) % n
            return source
        }
    }

    /// The same logical tensor in another layout (explicit conversion: masked rotations, one level
    /// unless every tile maps whole onto one tile).
    /// - Throws: `shapeMismatch` when the logical shapes differ.
    public func converted(to target: TileShape) throws -> TileTensor {
        guard target.logicalShape == shape.logicalShape else {
            throw TileTensorError.shapeMismatch("cannot convert \(shape) to \(target): the logical shapes differ")
        }
        return try remapped(to: target) { $0 }
    }

    /// A new logical shape over the same slots, when every element keeps its (tile, slot) and the
    /// padding slots are the same: a change of metadata only, no operation.
    /// - Throws: `shapeMismatch` when the element counts differ or the layout would move data
    ///   (convert explicitly with `converted(to:)` first).
    public func reshaped(to target: TileShape) throws -> TileTensor {
        let count = shape.logicalShape.reduce(1, *)
        guard target.logicalShape.reduce(1, *) == count, target.tileCount == shape.tileCount,
              target.slotsPerTile == shape.slotsPerTile, !target.dimensions.contains(where: \.isReplicated),
              !shape.dimensions.contains(where: \.isReplicated) else {
            throw TileTensorError.shapeMismatch("cannot reshape \(shape) to \(target) without moving data")
        }
        let source = try Tensor(zeros: shape.logicalShape), goal = try Tensor(zeros: target.logicalShape)
        for offset in 0..<count {
            let a = try shape.location(of: source.index(ofOffset: offset))
            let b = try target.location(of: goal.index(ofOffset: offset))
            guard a == b else {
                throw TileTensorError.shapeMismatch("cannot reshape \(shape) to \(target) without moving data (element \(offset) changes slot); use converted(to:)")
            }
        }
        // Same elements at the same slots, so the same padding slots: garbage stays in padding.
        let marked = shape.hasUnknowns
            ? try TileShape(target.dimensions.map { $0.hasPadding ? $0.withUnknowns(true) : $0 }) : target
        return with(shape: marked)
    }

    /// Flattens to one dimension when the layout allows (see `reshaped(to:)`).
    public func flattened() throws -> TileTensor {
        let n = shape.logicalShape.reduce(1, *)
        return try reshaped(to: TileShape([.plain(n, tile: shape.slotsPerTile)]))
    }

    /// The general data movement: target element I takes source element `source(I)` (nil: zero).
    ///
    /// Each target slot σ reads source tile S at slot σ′; slots are grouped by (S, δ = σ′ − σ)
    /// (`RemapGroups`). Target tile R = Σ_groups mask_group ⊙ rot(tile S, δ), the rotations of one
    /// source tile hoisted together; the masked products are added and rescaled once. When every
    /// target tile is one whole source tile rotated by one δ (a whole-tile move, or a cyclic
    /// rotation of the outermost dimension) no mask or level is spent: only the rotations with
    /// δ ≠ 0. Otherwise the cheapest (`RemapCost.score`) of four ways is taken: the groups as
    /// they are or in baby-step giant-step form (`RemapGroups.babyGiantSplit`), each either
    /// into the target itself or, when the target has replicated dimensions, into its first
    /// copy alone followed by log2(t) rotate-and-add steps per replicated dimension (every copy
    /// read by its own masks multiplies the steps by the copies). AlexNet's 6×6×256 pool output
    /// from 8×8×16×16 into 64×4×8×8 tiles: 49,120 rotations by 1,535 steps directly, 1,888 by
    /// 30 steps as one copy in baby-step giant-step form, then replicated.
    ///
    /// Counts, direct (G groups, R target tiles, H source tiles with a nonzero δ, D distinct
    /// nonzero (S, δ)): G encodes, G plaintext products, G − R additions, R rescales, H hoisted
    /// sets of D rotations in all; without masks only the H hoisted sets of D rotations. Baby-step
    /// giant-step: the same products, a rescale and (for g ≠ 0) a rotation per (target, g), the
    /// babies' hoisted sets (made again for a source whose targets fall in two chunks of
    /// `splitSumsAtOnce` sums). One level either way.
    /// (`sumsAtOnce`: the chunk of `maskedSums`, smaller in tests.) With masks, each moved
    /// element is multiplied by `weight` (a pool's 1/k²), the masks encoded at `maskScale`
    /// (default q_level: the scale kept); a whole-tile move with either is made with masks too.
    /// `groups`: `source`'s groups into `target` when the caller has already made them (to price
    /// this remap), so that the slots are not grouped twice.
    func remapped(to target: TileShape, sumsAtOnce: Int = splitSumsAtOnce, weight: Double = 1, maskScale: Double? = nil,
                  groups known: RemapGroups? = nil, source: ([Int]) -> [Int]?) throws -> TileTensor {
        guard target.slotsPerTile == backend.slotCount else {
            throw TileTensorError.slotMismatch(tileSlots: target.slotsPerTile, backendSlots: backend.slotCount)
        }
        let slots = backend.slotCount
        let groups = try known ?? RemapGroups(from: shape, to: target, slots: slots, source: source)
        if groups.wholeTiles && weight == 1 && maskScale == nil { return try movedWhole(groups, to: target) }
        let masks = Masks(weight: weight, scale: maskScale ?? backend.rescalePrime(atLevel: level))

        // The target's replicated dimensions as one copy (the rest of the tile zero), then copied.
        let copies = target.dimensions.indices.filter { target.dimensions[$0].isReplicated && target.dimensions[$0].tileSize > 1 }
        var best: (cost: RemapCost, firstCopy: Bool, split: RemapSplit?) = (groups.direct, false, nil)
        func offer(_ cost: RemapCost, firstCopy: Bool, split: RemapSplit?) {
            if cost.score < best.cost.score { best = (cost, firstCopy, split) }
        }
        let split = groups.cheapestSplit(slots: slots, moduli: target.slotStrides)
        offer(split.cost, firstCopy: false, split: split)
        var firstCopyShape: TileShape?, firstCopyGroups: RemapGroups?
        if !copies.isEmpty {
            var dims = target.dimensions
            for d in copies { dims[d] = try .plain(1, tile: dims[d].tileSize) }
            let one = try TileShape(dims)
            let oneGroups = try RemapGroups(from: shape, to: one, slots: slots, source: source)
            // Each replicated dimension: log2(t) rotations per tile by multiples of its stride.
            var copying = RemapCost(rotations: 0, steps: [])
            for d in copies {
                var k = 1
                while k < target.dimensions[d].tileSize {
                    copying.rotations += target.tileCount
                    copying.steps.insert(((-k * one.slotStrides[d]) % slots + slots) % slots)
                    k <<= 1
                }
            }
            firstCopyShape = one
            firstCopyGroups = oneGroups
            let oneSplit = oneGroups.cheapestSplit(slots: slots, moduli: one.slotStrides)
            offer(oneGroups.direct.then(copying), firstCopy: true, split: nil)
            offer(oneSplit.cost.then(copying), firstCopy: true, split: oneSplit)
        }
        guard best.firstCopy, let one = firstCopyShape, let oneGroups = firstCopyGroups else {
            return try maskedSums(groups, to: target, split: best.split, sumsAtOnce: sumsAtOnce, masks: masks)
        }
        var result = try maskedSums(oneGroups, to: one, split: best.split, sumsAtOnce: sumsAtOnce, masks: masks)
        for d in copies { result = try result.duplicated(along: d) }
        return result
    }

    /// A remap in which every target tile is one whole source tile rotated by one step: the
    /// sources' hoisted sets at once, their steps dealt to the threads; no mask, no level.
    private func movedWhole(_ groups: RemapGroups, to target: TileShape) throws -> TileTensor {
        let keys = (0..<target.tileCount).map { r in groups.order[groups.ofTarget[r][0]] }
        let sources = Set(keys.map(\.source)).sorted()
        let sets = try backend.rotations(ofEach: sources.map { tiles[$0] },
                                         by: sources.map { s in Array(Set(keys.filter { $0.source == s }.map(\.delta))) })
        let rotated = Dictionary(uniqueKeysWithValues: zip(sources, sets))
        let moved = keys.map { rotated[$0.source]![$0.delta]! }
        // Target padding holds what the source tile has there: zero only when nothing moved
        // within the tile, the source is known and its valid slots are exactly the target's.
        let sourceValid = shape.validityMasks().map { $0.reduce(0, +) }
        let garbage = shape.hasUnknowns || keys.contains { $0.delta != 0 }
            || (0..<target.tileCount).contains { r in Int(sourceValid[keys[r].source]) != groups.validPerTile[r] }
        let marked = try TileShape(target.dimensions.map { garbage && $0.hasPadding ? $0.withUnknowns(true) : $0 })
        return TileTensor(backend: backend, shape: marked, tiles: moved)
    }

    /// What a remap's masks hold: the weight at the slots they keep, at this scale.
    struct Masks {
        let weight: Double
        let scale: Double
    }

    /// The masked products of `groups` summed into the target's tiles and rescaled: directly
    /// (`split` nil), or in baby-step giant-step form. One level.
    private func maskedSums(_ groups: RemapGroups, to target: TileShape, split: RemapSplit?, sumsAtOnce: Int,
                            masks: Masks) throws -> TileTensor {
        let slots = backend.slotCount
        let l = level
        let q = masks.scale
        // A group's mask, its slots moved by `offset` (rot(mask, −g) for a giant step g); a mask
        // over every slot is the weight alone: a scalar product.
        func mask(_ g: Int, offset: Int) throws -> TermWeight<Backend.Plaintext> {
            let members = groups.members[g]
            if members.count == slots { return .scalar(masks.weight, scale: q) }
            var values = [Double](repeating: 0, count: backend.computesValues ? slots : 0)
            if backend.computesValues { for slot in members { values[(slot + offset) % slots] = masks.weight } }
            return .plaintext(try backend.encode(values, scale: q, level: l))
        }
        guard let split else {
            // One source tile at a time (its rotations hoisted, its masked products added into
            // the targets, then dropped): holding every source's rotations at once took 20 GB
            // for the conversion of AlexNet's 512-tile dense output into one-pixel tiles.
            // An all-zero tile: any tile times the zero mask.
            let terms = groups.order.enumerated().map { g, key in
                RemapTerm(output: key.target, source: key.source, delta: key.delta, group: g)
            }
            let result = try rescaledSums(terms, outputs: target.tileCount, zeroScale: q) { term in
                try mask(term.group, offset: 0)
            }
            return TileTensor(backend: backend, shape: target.clearingUnknowns, tiles: result)
        }
        // Baby steps: each group's masked product of rot(S, b) into its (target, g) sum; giant
        // steps: each sum rotated by g and added into its target. Targets in chunks of at most
        // `sumsAtOnce` sums (consecutive targets, which mostly share their sources): every
        // target's sums alive at once were about 1,500 ciphertexts (5.5 GB) in AlexNet's
        // conversion into 64×4×8×8 tiles. A source read by two chunks has its babies made twice.
        var pairGiants: [Int] = []
        var pairOf = PairTable(capacity: groups.order.count)
        var pairOfGroup = [Int](repeating: 0, count: groups.order.count)
        var pairsOfTarget = [[Int]](repeating: [], count: target.tileCount)
        for (g, key) in groups.order.enumerated() {
            let (p, inserted) = pairOf.value(key.target, split.giant[g], orInsert: pairGiants.count)
            if inserted { pairGiants.append(split.giant[g]); pairsOfTarget[key.target].append(p) }
            pairOfGroup[g] = p
        }
        let zero = pairsOfTarget.contains { $0.isEmpty }
            ? try backend.rescale(backend.multiply(tiles[0], backend.encode([], scale: q, level: l))) : nil
        var chunks: [[Int]] = [[]]
        var inChunk = 0
        for r in 0..<target.tileCount where !pairsOfTarget[r].isEmpty {
            if inChunk > 0 && inChunk + pairsOfTarget[r].count > sumsAtOnce { chunks.append([]); inChunk = 0 }
            chunks[chunks.count - 1].append(r)
            inChunk += pairsOfTarget[r].count
        }
        var result = [Backend.Ciphertext?](repeating: zero, count: target.tileCount)
        for chunk in chunks where !chunk.isEmpty {
            var local: [Int: Int] = [:]
            for r in chunk { for p in pairsOfTarget[r] { local[p] = local.count } }
            let terms = chunk.flatMap { r in
                groups.ofTarget[r].map { g in
                    RemapTerm(output: local[pairOfGroup[g]]!, source: groups.order[g].source, delta: split.baby[g], group: g)
                }
            }
            let sums = try rescaledSums(terms, outputs: local.count, zeroScale: q) { term in
                try mask(term.group, offset: split.giant[term.group])
            }
            // A target per product worker, each sum released once added.
            let pending = Locked(sums.map { Optional($0) })
            _ = consume sums
            let made = try backend.mapTiles(chunk.count) { k in
                var acc: Backend.Ciphertext?
                for p in pairsOfTarget[chunk[k]] {
                    let i = local[p]!
                    let sum = pending.withLock { all -> Backend.Ciphertext in
                        defer { all[i] = nil }
                        return all[i]!
                    }
                    try backend.accumulate(&acc, pairGiants[p] == 0 ? sum : try backend.rotate(sum, by: pairGiants[p]))
                }
                return acc!
            }
            for (k, r) in chunk.enumerated() { result[r] = made[k] }
        }
        return TileTensor(backend: backend, shape: target.clearingUnknowns, tiles: result.map { $0! })
    }

    /// The most (target, giant step) sums a baby-step giant-step remap holds at once.
    static var splitSumsAtOnce: Int { 64 }
}
