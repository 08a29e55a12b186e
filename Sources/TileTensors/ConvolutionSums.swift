/// A convolution's products summed per output tile but not yet rescaled, summed over channel
/// positions or biased: what a convolution over some of its input channels contributes
/// (`TileTensor.convolutionSums`). Sums over disjoint channel sets add (`adding`), exactly:
/// modular additions of the same products in another grouping give the same residues. So a layer
/// fed in chunks of channels (chunked execution: the previous layer produced a few channel
/// tiles at a time) finishes (`finished`) to the same ciphertexts as the whole convolution.
public struct ConvolutionSums<Backend: TensorBackend> {
    let backend: Backend
    /// The output's layout.
    public let shape: TileShape
    /// The input's channel dimension (0 or 1), its tile size and slot stride (the channel
    /// positions summed after the rescale), and its batch dimension (the bias's layout).
    let channelDimension: Int
    let channelSpan: Int
    let channelStride: Int
    let inputBatch: TileDimension
    /// The level of the sums (the input's), and the scale of a zero sum's plaintext.
    public let level: Int
    let zeroScale: Double
    /// An input tile, to make the zero sum of an output no product reaches (as the whole
    /// convolution does: a product by the zero plaintext).
    let zeroSource: Backend.Ciphertext
    /// One sum per output tile (nil: no product reached it yet).
    var sums: [Backend.Ciphertext?]

    /// These sums plus `other`'s (the same convolution over other input channels).
    /// - Throws: `shapeMismatch` when the two are of different outputs or levels.
    public consuming func adding(_ other: consuming ConvolutionSums) throws -> ConvolutionSums {
        guard other.shape == shape, other.level == level, other.channelSpan == channelSpan,
              other.channelStride == channelStride, other.channelDimension == channelDimension else {
            throw TileTensorError.shapeMismatch("convolution sums into \(other.shape) at level \(other.level) cannot add to sums into \(shape) at level \(level)")
        }
        var result = self
        let backend = result.backend
        for t in result.sums.indices {
            guard let term = other.sums[t] else { continue }
            other.sums[t] = nil
            var acc = result.sums[t]
            result.sums[t] = nil
            try backend.accumulate(&acc, term)
            result.sums[t] = acc
        }
        return result
    }

    /// The convolution's output: each sum rescaled, its channel positions summed, the bias
    /// added, as `conv2dInterleaved` finishes its own sums. Each sum is released once used.
    public consuming func finished(bias: [Double]?) throws -> TileTensor<Backend> {
        var outTiles: [Backend.Ciphertext] = []
        outTiles.reserveCapacity(sums.count)
        for t in sums.indices {
            let sum = try sums[t] ?? backend.multiply(zeroSource, backend.encode([], scale: zeroScale, level: level))
            sums[t] = nil
            outTiles.append(try backend.rotatedSum(backend.rescale(sum), span: channelSpan, stride: channelStride))
        }
        return try TileTensor(backend: backend, shape: shape, tiles: consume outTiles)
            .addingConvolutionBias(bias, channelDimension: channelDimension, inputBatch: inputBatch)
    }
}

extension TileTensor {
    /// The open sums of `conv2dInterleaved(filters:stride:padding:)` (no bias, no rescale): the
    /// same terms and plaintexts, so that sums of the input's channel chunks, each convolved
    /// with its filters' columns and added (`ConvolutionSums.adding`), finish to the whole
    /// convolution's output. Takes the tap path always; a caller splitting a kernel that covers
    /// the whole image must make sure the whole convolution takes it too (one-pixel tiles do).
    public func convolutionSums(filters: Tensor, stride s: Int, padding p: Int) throws -> ConvolutionSums<Backend> {
        switch try interleavedConvolution(filters: filters, bias: nil, stride: s, padding: p, open: true) {
        case .open(let sums): return sums
        case .output: preconditionFailure("an open convolution returns its sums")
        }
    }
}
