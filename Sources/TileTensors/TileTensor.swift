/// A tensor packed in tiles, one ciphertext per tile, computed on through a `TensorBackend`.
/// Every operator on it equals the same operator on the logical tensor (`decrypt()` returns it);
/// the shape records the layout, including replicated dimensions and slots holding garbage.
///
/// Tiles are numbered row-major over the tile grid (`shape.tileCounts`). All tiles share one
/// scale; operators keep them at one level.
public struct TileTensor<Backend: TensorBackend> {
    /// The backend the tiles live in.
    public let backend: Backend
    /// The layout.
    public let shape: TileShape
    /// One ciphertext per tile, row-major over the tile grid.
    public let tiles: [Backend.Ciphertext]

    /// Wraps tiles computed by a kernel (a programmer error when the count is wrong).
    init(backend: Backend, shape: TileShape, tiles: [Backend.Ciphertext]) {
        precondition(tiles.count == shape.tileCount, "\(tiles.count) tiles for \(shape) (\(shape.tileCount) expected)")
        precondition(shape.slotsPerTile == backend.slotCount)
        self.backend = backend
        self.shape = shape
        self.tiles = tiles
    }

    /// Packs, encodes and encrypts `tensor` in `shape` (at `level`, by default the top, and
    /// `scale`, by default Δ).
    /// - Throws: `slotMismatch` when the tile does not fill the backend's slots, `shapeMismatch`
    ///   when the tensor does not have the shape's logical sizes, or a backend error.
    public init(encrypting tensor: Tensor, shape: TileShape, backend: Backend, level: Int? = nil,
                scale: Double? = nil) throws {
        let encoded = try EncodedTileTensor(encoding: tensor, shape: shape, backend: backend, level: level, scale: scale)
        try self.init(encrypting: encoded)
    }

    /// Encrypts an encoded tile tensor.
    public init(encrypting encoded: EncodedTileTensor<Backend>) throws {
        self.init(backend: encoded.backend, shape: encoded.shape,
                  tiles: try encoded.plaintexts.map { try encoded.backend.encrypt($0) })
    }

    /// Decrypts and unpacks the logical tensor (needs a backend with the secret key).
    public func decrypt() throws -> Tensor {
        try shape.unpack(tiles.map { try backend.decryptAndDecode($0) })
    }

    /// Packs `real` and `imaginary` (the same logical shape) in `shape` as the two parts of the
    /// same slots, and encrypts them at the top level and Δ: a complex-packed tensor, twice the
    /// samples per ciphertext (`TensorBackend.complexPacking`).
    public init(encryptingParts real: Tensor, _ imaginary: Tensor, shape: TileShape, backend: Backend) throws {
        guard shape.slotsPerTile == backend.slotCount else {
            throw TileTensorError.slotMismatch(tileSlots: shape.slotsPerTile, backendSlots: backend.slotCount)
        }
        let re = try shape.pack(real, values: backend.computesValues)
        let im = try shape.pack(imaginary, values: backend.computesValues)
        self.init(backend: backend, shape: shape, tiles: try zip(re, im).map { r, i in
            try backend.encrypt(backend.encode(real: r, imaginary: i, scale: backend.defaultScale, level: backend.maxLevel))
        })
    }

    /// Both parts decrypted and unpacked (a complex-packed tensor's two sets of samples).
    public func decryptParts() throws -> (real: Tensor, imaginary: Tensor) {
        let parts = try tiles.map { try backend.decryptAndDecodeParts($0) }
        return (try shape.unpack(parts.map(\.real)), try shape.unpack(parts.map(\.imaginary)))
    }

    /// The lowest level of the tiles.
    public var level: Int { tiles.map { backend.level(of: $0) }.min()! }
    /// The scale of the tiles.
    public var scale: Double { backend.scale(of: tiles[0]) }
    /// The scale to encode a plaintext factor at so that the product, once rescaled at `l`, has
    /// exactly the default scale Δ: q_l · Δ / (this tensor's scale). Linear layers use it. A
    /// factor encoded at q_l alone keeps the input's scale, and then the drift of each
    /// ciphertext square (s² / q, off by the prime's distance from Δ) doubles at every square:
    /// a ResNet-20 with 19 squares reached a scale of 2^inf. Reset at every linear layer, the
    /// drift is only that of the squares since the last one. The factor's resolution is the
    /// same (its scale stays within a few parts in 10⁴ of q_l).
    func restoringScale(atLevel l: Int) -> Double {
        backend.rescalePrime(atLevel: l) * backend.defaultScale / scale
    }

    /// Bytes held by the ciphertexts.
    public var memory: Int { tiles.reduce(0) { $0 + backend.memory(of: $1) } }

    /// The same tiles under a new shape (a programmer error when the layout differs in tile count).
    func with(shape newShape: TileShape, tiles newTiles: [Backend.Ciphertext]? = nil) -> TileTensor {
        TileTensor(backend: backend, shape: newShape, tiles: newTiles ?? tiles)
    }

    /// Every tile rescaled (one level; the scale divided by the prime q_level).
    public func rescaled() throws -> TileTensor {
        with(shape: shape, tiles: try tiles.map { try backend.rescale($0) })
    }
}

/// A tensor packed in tiles and encoded, not encrypted: one plaintext per tile.
public struct EncodedTileTensor<Backend: TensorBackend> {
    public let backend: Backend
    public let shape: TileShape
    public let plaintexts: [Backend.Plaintext]

    /// Packs and encodes `tensor` in `shape` at `level` (default: top) and `scale` (default: Δ).
    public init(encoding tensor: Tensor, shape: TileShape, backend: Backend, level: Int? = nil,
                scale: Double? = nil) throws {
        guard shape.slotsPerTile == backend.slotCount else {
            throw TileTensorError.slotMismatch(tileSlots: shape.slotsPerTile, backendSlots: backend.slotCount)
        }
        // A counting-only backend reads no slot values: one (empty) encoding per tile is what counts.
        let slots = try shape.pack(tensor, values: backend.computesValues)
        let l = level ?? backend.maxLevel
        let s = scale ?? backend.defaultScale
        self.backend = backend
        self.shape = shape
        plaintexts = try slots.map { try backend.encode($0, scale: s, level: l) }
    }
}

extension TileTensor {
    /// Tiles read from a file, checked against the shape: one ciphertext per tile of the shape's
    /// slot count (the server's view of a client's encrypted tensor).
    /// - Throws: `shapeMismatch` when the counts disagree.
    public init(wrapping tiles: [Backend.Ciphertext], shape: TileShape, backend: Backend) throws {
        guard tiles.count == shape.tileCount, shape.slotsPerTile == backend.slotCount else {
            throw TileTensorError.shapeMismatch("\(tiles.count) ciphertexts of \(backend.slotCount) slots do not form \(shape) (\(shape.tileCount) tiles of \(shape.slotsPerTile))")
        }
        self.init(backend: backend, shape: shape, tiles: tiles)
    }
}
