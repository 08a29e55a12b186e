/// Packing a logical tensor into the slot vectors of its tiles and back, without any backend.
extension TileShape {
    /// Calls `body(tile, slot, index)` for every slot of every tile, with the logical index the
    /// slot holds, or nil for a padding slot. Replicated dimensions report index 0.
    func forEachSlot(_ body: (_ tile: Int, _ slot: Int, _ index: [Int]?) -> Void) {
        let counts = tileCounts, sizes = tileSizes
        let slots = slotsPerTile
        var index = [Int](repeating: 0, count: rank)
        var position = [Int](repeating: 0, count: rank)
        for tile in 0..<tileCount {
            let tileIndex = Tensor.unflatten(tile, counts)
            // Per dimension, the element each in-tile position holds (nil: padding), looked up
            // once per tile rather than once per slot: packing a weight tensor walks every slot
            // of every tile (65,536 per tile at N = 2^17), and this runs on the evaluation path.
            let elements = (0..<rank).map { d in (0..<sizes[d]).map { dimensions[d].element(tile: tileIndex[d], position: $0) } }
            for d in 0..<rank { position[d] = 0 }
            for slot in 0..<slots {
                var valid = true
                for d in 0..<rank {
                    guard let j = elements[d][position[d]] else { valid = false; break }
                    index[d] = j
                }
                body(tile, slot, valid ? index : nil)
                // The next slot's position: the last dimension fastest, as `unflatten` orders them.
                var d = rank - 1
                while d >= 0 {
                    position[d] += 1
                    if position[d] < sizes[d] { break }
                    position[d] = 0
                    d -= 1
                }
            }
        }
    }

    /// The slot vectors of the tiles holding `tensor` (padding zero).
    /// - Throws: `shapeMismatch` when the tensor's shape is not the logical shape.
    /// `pack(tensor)` for a backend that computes values; for a counting-only one (`values`
    /// false) the shape check alone and one empty vector per tile (nothing reads the slots).
    public func pack(_ tensor: Tensor, values: Bool) throws -> [[Double]] {
        if values { return try pack(tensor) }
        guard tensor.shape == logicalShape else {
            throw TileTensorError.shapeMismatch("tensor of shape \(tensor.shape) does not fit the tile shape \(self) (logical \(logicalShape))")
        }
        return [[Double]](repeating: [], count: tileCount)
    }

    public func pack(_ tensor: Tensor) throws -> [[Double]] {
        guard tensor.shape == logicalShape else {
            throw TileTensorError.shapeMismatch("tensor of shape \(tensor.shape) does not fit the tile shape \(self) (logical \(logicalShape))")
        }
        var tiles = [[Double]](repeating: [Double](repeating: 0, count: slotsPerTile), count: tileCount)
        forEachSlot { tile, slot, index in
            if let index { tiles[tile][slot] = tensor[index] }
        }
        return tiles
    }

    /// The logical tensor held by the slot vectors of the tiles (each element read at its first
    /// location; garbage in unknown slots is ignored).
    /// - Throws: `sizeMismatch` for the wrong number of tiles or slots.
    public func unpack(_ tiles: [[Double]]) throws -> Tensor {
        guard tiles.count == tileCount else { throw TileTensorError.sizeMismatch(expected: tileCount, actual: tiles.count) }
        var result = try Tensor(zeros: logicalShape)
        for (k, tile) in tiles.enumerated() where tile.count < slotsPerTile {
            throw TileTensorError.invalidArgument("tile \(k) has \(tile.count) slots, the shape needs \(slotsPerTile)")
        }
        for offset in 0..<result.values.count {
            let (tile, slot) = try location(of: result.index(ofOffset: offset))
            result.values[offset] = tiles[tile][slot]
        }
        return result
    }

    /// Per tile, the slots `unpack` reads (each element's first location) for the elements whose
    /// logical index `keep` accepts: what a client reads of a result, nothing else.
    public func readSlots(where keep: ([Int]) -> Bool) -> [Set<Int>] {
        var slots = [Set<Int>](repeating: [], count: tileCount)
        let sizes = logicalShape
        for offset in 0..<sizes.reduce(1, *) {
            let index = Tensor.unflatten(offset, sizes)
            guard keep(index), let (tile, slot) = try? location(of: index) else { continue }
            slots[tile].insert(slot)
        }
        return slots
    }

    /// 1 at every slot that holds an element (or a replica), 0 at padding: the mask that clears unknowns.
    public func validityMasks() -> [[Double]] {
        var masks = [[Double]](repeating: [Double](repeating: 0, count: slotsPerTile), count: tileCount)
        forEachSlot { tile, slot, index in if index != nil { masks[tile][slot] = 1 } }
        return masks
    }
}

extension Tensor {
    /// The row-major multi-index of `flat` in a grid of `sizes`.
    static func unflatten(_ flat: Int, _ sizes: [Int]) -> [Int] {
        var rest = flat
        var index = [Int](repeating: 0, count: sizes.count)
        for d in sizes.indices.reversed() {
            index[d] = rest % sizes[d]
            rest /= sizes[d]
        }
        return index
    }
}
