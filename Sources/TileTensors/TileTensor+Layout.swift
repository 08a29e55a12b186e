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
    /// Each target slot σ reads source tile S at slot σ′; slots are grouped by (S, δ = σ′ − σ).
    /// Target tile R = Σ_groups mask_group ⊙ rot(tile S, δ), the rotations of one source tile
    /// hoisted together; the masked products are added and rescaled once. When every target tile
    /// is one whole source tile rotated by one δ (a whole-tile move, or a cyclic rotation of the
    /// outermost dimension) no mask or level is spent: only the rotations with δ ≠ 0.
    ///
    /// Counts (G groups, R target tiles, H source tiles with a nonzero δ, D distinct nonzero
    /// (S, δ)): G encodes, G plaintext products, G − R additions, R rescales, H hoisted sets of
    /// D rotations in all; without masks only the H hoisted sets of D rotations.
    func remapped(to target: TileShape, source: ([Int]) -> [Int]?) throws -> TileTensor {
        guard target.slotsPerTile == backend.slotCount else {
            throw TileTensorError.slotMismatch(tileSlots: target.slotsPerTile, backendSlots: backend.slotCount)
        }
        let slots = backend.slotCount
        // Each group's slots, numbered in order of appearance. Neighbouring slots mostly fall in
        // one group, so the last group is tried before the dictionary: hashing every slot's key
        // was a quarter of AlexNet's compile (the optimizer prices hundreds of conversions).
        var groupSlots: [[Int]] = []
        var groupOf: [RemapKey: Int] = [:]
        var order: [RemapKey] = []
        var last: (key: RemapKey, group: Int)?
        var validPerTile = [Int](repeating: 0, count: target.tileCount)
        var failure: Error?
        target.forEachSlot { tile, slot, index in
            guard failure == nil, let index else { return }
            validPerTile[tile] += 1
            guard let j = source(index) else { return }
            do {
                let (s, sigma) = try shape.location(of: j)
                let key = RemapKey(target: tile, source: s, delta: ((sigma - slot) % slots + slots) % slots)
                let g: Int
                if let last, last.key == key {
                    g = last.group
                } else if let found = groupOf[key] {
                    g = found
                } else {
                    g = order.count
                    groupOf[key] = g
                    order.append(key)
                    groupSlots.append([])
                }
                last = (key, g)
                groupSlots[g].append(slot)
            } catch { failure = error }
        }
        if let failure { throw failure }

        // Every target tile is one source tile rotated by one step, covering all its elements:
        // no masks, no level (a cyclic rotation of the outermost dimension, a whole-tile move).
        var groupsOfTarget = [[Int]](repeating: [], count: target.tileCount)
        for (g, key) in order.enumerated() { groupsOfTarget[key.target].append(g) }
        let wholeTiles = (0..<target.tileCount).allSatisfy { r in
            groupsOfTarget[r].count == 1 && groupSlots[groupsOfTarget[r][0]].count == validPerTile[r]
        }
        if wholeTiles {
            let keys = (0..<target.tileCount).map { r in order[groupsOfTarget[r][0]] }
            // The sources' hoisted sets at once, their steps dealt to the threads.
            let sources = Set(keys.map(\.source)).sorted()
            let sets = try backend.rotations(ofEach: sources.map { tiles[$0] },
                                             by: sources.map { s in Array(Set(keys.filter { $0.source == s }.map(\.delta))) })
            let rotated = Dictionary(uniqueKeysWithValues: zip(sources, sets))
            let moved = keys.map { rotated[$0.source]![$0.delta]! }
            // Target padding holds what the source tile has there: zero only when nothing moved
            // within the tile, the source is known and its valid slots are exactly the target's.
            let sourceValid = shape.validityMasks().map { $0.reduce(0, +) }
            let garbage = shape.hasUnknowns || keys.contains { $0.delta != 0 }
                || (0..<target.tileCount).contains { r in Int(sourceValid[keys[r].source]) != validPerTile[r] }
            let marked = try TileShape(target.dimensions.map { garbage && $0.hasPadding ? $0.withUnknowns(true) : $0 })
            return TileTensor(backend: backend, shape: marked, tiles: moved)
        }

        let l = level
        let q = backend.rescalePrime(atLevel: l)
        // One source tile at a time (its rotations hoisted, its masked products added into the
        // targets, then dropped): holding every source's rotations at once took 20 GB for the
        // conversion of AlexNet's 512-tile dense output into one-pixel tiles.
        // An all-zero tile: any tile times the zero mask.
        let result = try rescaledSums(order, outputs: target.tileCount, zeroScale: q) { key in
            // A mask over every slot is the weight 1 alone: a scalar product.
            let members = groupSlots[groupOf[key]!]
            if members.count == slots { return .scalar(1, scale: q) }
            var mask = [Double](repeating: 0, count: backend.computesValues ? slots : 0)
            if backend.computesValues { for slot in members { mask[slot] = 1 } }
            return .plaintext(try backend.encode(mask, scale: q, level: l))
        }
        return TileTensor(backend: backend, shape: target.clearingUnknowns, tiles: result)
    }
}

/// A group of target slots that read one source tile rotated by one step.
struct RemapKey: Hashable, HoistedTerm {
    let target: Int
    let source: Int
    let delta: Int
    var output: Int { target }
}
