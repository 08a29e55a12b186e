/// Elementwise addition, subtraction and products, broadcasting over replicated dimensions.
///
/// Operation counts for a result of T tiles: add/subtract T additions; `multiplied(by:)` T
/// multiplications, T relinearizations, T rescales; `multiplied(byPlain:)` T encodes (one per
/// distinct plaintext tile actually used), T plaintext products, T rescales; `adding(plain:)`
/// the encodes of the plaintext's tiles and T additions.
extension TileTensor {
    /// self + other.
    public func adding(_ other: TileTensor) throws -> TileTensor {
        try combine(other) { try backend.add($0, $1) }
    }

    /// self − other.
    public func subtracting(_ other: TileTensor) throws -> TileTensor {
        try combine(other) { try backend.subtract($0, $1) }
    }

    private func combine(_ other: TileTensor, _ op: (Backend.Ciphertext, Backend.Ciphertext) throws -> Backend.Ciphertext) throws -> TileTensor {
        let b = try Broadcast(shape, other.shape, .addition)
        let result = try (0..<b.shape.tileCount).map { try op(tiles[b.leftTile[$0]], other.tiles[b.rightTile[$0]]) }
        return TileTensor(backend: backend, shape: b.shape, tiles: result)
    }

    /// self ⊙ other (ciphertext products, relinearized; rescaled unless `rescale` is false).
    public func multiplied(by other: TileTensor, rescale: Bool = true) throws -> TileTensor {
        let b = try Broadcast(shape, other.shape, .multiplication)
        let result = try backend.mapTiles(b.shape.tileCount) { t in
            let p = try backend.multiply(tiles[b.leftTile[t]], other.tiles[b.rightTile[t]])
            return rescale ? try backend.rescale(p) : p
        }
        return TileTensor(backend: backend, shape: b.shape, tiles: result)
    }

    /// self ⊙ w for a plaintext tensor packed in `shape` (which may replicate dimensions). Each
    /// plaintext tile is encoded once at the ciphertext level with scale q_level, so that the
    /// rescale returns exactly to the input scale.
    public func multiplied(byPlain w: Tensor, shape wShape: TileShape, rescale: Bool = true) throws -> TileTensor {
        let b = try Broadcast(shape, wShape, .multiplication)
        let slots = try wShape.pack(w, values: backend.computesValues)
        let l = level
        let q = restoringScale(atLevel: l)
        var encoded: [Int: Backend.Plaintext] = [:]
        let result = try (0..<b.shape.tileCount).map { t -> Backend.Ciphertext in
            let k = b.rightTile[t]
            if encoded[k] == nil { encoded[k] = try backend.encode(slots[k], scale: q, level: l) }
            let p = try backend.multiply(tiles[b.leftTile[t]], encoded[k]!)
            return rescale ? try backend.rescale(p) : p
        }
        return TileTensor(backend: backend, shape: b.shape, tiles: result)
    }

    /// self + w for a plaintext tensor packed in `shape`, encoded at the tensor's level and scale.
    /// Consuming: each input tile is released after its last use when the caller hands its
    /// tensor over (`consume x`).
    public consuming func adding(plain w: Tensor, shape wShape: TileShape) throws -> TileTensor {
        let b = try Broadcast(shape, wShape, .addition)
        let slots = try wShape.pack(w, values: backend.computesValues)
        let backend = self.backend
        let input = TileSupply(tiles, reads: b.leftTile)
        _ = consume self
        var encoded: [Int: Backend.Plaintext] = [:]
        let result = try (0..<b.shape.tileCount).map { t -> Backend.Ciphertext in
            let k = b.rightTile[t]
            let ct = input.read(b.leftTile[t])
            if encoded[k] == nil { encoded[k] = try backend.encodeAddend(slots[k], scale: backend.scale(of: ct), level: backend.level(of: ct)) }
            return try backend.add(ct, addend: encoded[k]!)
        }
        return TileTensor(backend: backend, shape: b.shape, tiles: result)
    }

    /// self · c for a real constant (encoded at q_level; rescaled unless `rescale` is false).
    public func multiplied(byConstant c: Double, rescale: Bool = true) throws -> TileTensor {
        with(shape: shape, tiles: try tiles.map { ct in
            let p = try backend.multiply(ct, constant: c, scale: backend.rescalePrime(atLevel: backend.level(of: ct)))
            return rescale ? try backend.rescale(p) : p
        })
    }

    /// self + c in every element. Padding slots receive c too, so padded dimensions become unknown.
    public func adding(constant c: Double) throws -> TileTensor {
        let newShape = try TileShape(shape.dimensions.map { $0.hasPadding ? $0.withUnknowns(true) : $0 })
        return with(shape: newShape, tiles: try tiles.map { try backend.add($0, constant: c) })
    }
}
