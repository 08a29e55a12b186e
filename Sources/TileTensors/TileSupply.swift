import CKKS

/// The tiles of an operand handed over to an elementwise kernel: each tile is released once its
/// last read is done, so a step that consumes its input (a square, x ⊙ (x + β), a plaintext
/// addition) holds input and output together only tile by tile, not whole. The batch-4096
/// MNIST plan's first activation held 1,568 input tiles beside 1,568 outputs (6.2 GB) before.
///
/// Safe to read from several product workers (the state is locked). When the operand is still
/// referenced elsewhere (a caller that keeps its tensor), releasing here frees nothing and
/// changes nothing: the results are the same either way.
final class TileSupply<Ciphertext> {
    private let state: Locked<(tiles: [Ciphertext?], readsLeft: [Int])>

    /// The tiles, and for each result tile the operand tile it reads (`reads[r]`): a tile is
    /// released after as many reads as results read it.
    init(_ tiles: [Ciphertext], reads: [Int]) {
        var count = [Int](repeating: 0, count: tiles.count)
        for t in reads { count[t] += 1 }
        state = Locked((tiles.map(Optional.some), count))
    }

    /// Tile `t`, released here if this was its last read. A programmer error after its last read.
    func read(_ t: Int) -> Ciphertext {
        state.withLock { s in
            guard let tile = s.tiles[t] else { preconditionFailure("tile \(t) read after its last read") }
            s.readsLeft[t] -= 1
            if s.readsLeft[t] == 0 { s.tiles[t] = nil }
            return tile
        }
    }
}
