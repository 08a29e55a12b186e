/// A convolution's products summed per output tile but not yet rescaled, summed over channel
/// positions or biased: what a convolution over some of its input channels contributes
/// (`TileTensor.convolutionSums`). The products of further channels add into them
/// (`convolutionSums(…, adding:)`), exactly: modular additions of the same products in another
/// grouping give the same residues. So a layer fed in chunks of channels (chunked execution:
/// the previous layer produced a few channel tiles at a time) finishes (`finished`) to the same
/// ciphertexts as the whole convolution.
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

    /// Throws `shapeMismatch` unless `other` sums into the same output at the same level.
    func requireCompatible(with other: ConvolutionSums) throws {
        guard other.shape == shape, other.level == level, other.channelSpan == channelSpan,
              other.channelStride == channelStride, other.channelDimension == channelDimension else {
            throw TileTensorError.shapeMismatch("convolution sums into \(other.shape) at level \(other.level) cannot add to sums into \(shape) at level \(level)")
        }
    }

    /// The sums, handed over (this value keeps none).
    mutating func takeSums() -> [Backend.Ciphertext?] {
        let taken = sums
        sums = []
        return taken
    }

    /// The convolution's output: each sum rescaled, its channel positions summed, the bias
    /// added, as `conv2dInterleaved` finishes its own sums. Each sum is released once used.
    public consuming func finished(bias: [Double]?) throws -> TileTensor<Backend> {
        // A round of tiles at a time on the product workers.
        let backend = self.backend, zeroSource = self.zeroSource, zeroScale = self.zeroScale, level = self.level
        let channelSpan = self.channelSpan, channelStride = self.channelStride
        let outTiles = try backend.mapInRounds(&sums) { _, made in
            let sum = try made ?? backend.multiply(zeroSource, backend.encode([], scale: zeroScale, level: level))
            return try backend.rotatedSum(backend.rescale(sum), span: channelSpan, stride: channelStride)
        }
        return try TileTensor(backend: backend, shape: shape, tiles: consume outTiles)
            .addingConvolutionBias(bias, channelDimension: channelDimension, inputBatch: inputBatch)
    }
}

extension TileTensor {
    /// The open sums of `conv2dInterleaved(filters:stride:padding:)` (no bias, no rescale),
    /// added into `previous` (handed over) as they are made: the sums of earlier channel chunks
    /// of the same convolution. A chunk's own sums never exist beside them (they would double
    /// the segment's accumulators). The same terms and plaintexts as the whole convolution, and
    /// always its tap path: a caller splitting a kernel that covers the whole image must make
    /// sure the whole convolution takes it too (one-pixel tiles do).
    public func convolutionSums(filters: Tensor, stride s: Int, padding p: Int, adding previous: consuming ConvolutionSums<Backend>? = nil) throws -> ConvolutionSums<Backend> {
        switch try interleavedConvolution(filters: filters, bias: nil, stride: s, padding: p, open: true, adding: previous.take()) {
        case .open(let sums): return sums
        case .output: preconditionFailure("an open convolution returns its sums")
        }
    }
}
