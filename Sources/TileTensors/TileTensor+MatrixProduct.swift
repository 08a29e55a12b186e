/// Matrix × matrix by tile shapes.
extension TileTensor {
    /// C = A·B for A of logical shape [a, b, 1] in `[a/t0, b/t1, */t2]` and B of logical shape
    /// [1, b, c] in `[*/t0, b/t1, c/t2]`: elementwise products summed over dimension 1, giving
    /// [a, 1, c] in `[a/t0, 1?/t1, c/t2]`.
    ///
    /// Relinearization is lazy: the e1 three-component products of an output tile are added
    /// first and relinearized once. Counts (e_i tiles along i, O = e0·e2 output tiles,
    /// L = log2 t1): O·e1 multiplications, O·(e1 − 1) + O·L additions, O relinearizations,
    /// O rescales, O·L rotations. One level.
    /// - Throws: `shapeMismatch` when the shapes do not have that form.
    public static func matrixProduct(_ a: TileTensor, _ b: TileTensor) throws -> TileTensor {
        let sa = a.shape, sb = b.shape
        guard sa.rank == 3, sb.rank == 3, sa.dimensions[2].isReplicated, sb.dimensions[0].isReplicated,
              !sa.dimensions[0].isReplicated, !sb.dimensions[2].isReplicated,
              sa.dimensions[1] == sb.dimensions[1], !sa.dimensions[1].hasUnknowns, !sa.dimensions[1].isReplicated,
              sa.tileSizes == sb.tileSizes else {
            throw TileTensorError.shapeMismatch("matrix product needs [a/t0, b/t1, */t2] × [*/t0, b/t1, c/t2], got \(sa) × \(sb)")
        }
        let backend = a.backend
        let e0 = sa.tileCounts[0], e1 = sa.tileCounts[1], e2 = sb.tileCounts[2]
        let t1 = sa.tileSizes[1]
        guard t1 & (t1 - 1) == 0 else { throw TileTensorError.invalidArgument("tile size \(t1) of the summed dimension must be a power of two") }
        let product = try Broadcast(sa, sb, .multiplication)
        let resultShape = product.shape.replacing(1, with: try TileDimension(size: 1, tileSize: t1, unknowns: t1 > 1))
        var tiles: [Backend.Ciphertext] = []
        for i in 0..<e0 {
            for k in 0..<e2 {
                var acc: Backend.Ciphertext?
                for j in 0..<e1 {
                    let term = try backend.multiplyWithoutRelinearization(a.tiles[i * e1 + j], b.tiles[j * e2 + k])
                    try backend.accumulate(&acc, term)
                }
                let summed = try backend.relinearizeAndRescale(acc!)
                tiles.append(try a.rotateAndAdd(summed, span: t1, stride: sa.slotStrides[1]))
            }
        }
        return TileTensor(backend: backend, shape: resultShape, tiles: tiles)
    }
}
