import TileTensors

/// Packing a plan's samples into its input and reading them back from its output, with one
/// image per slot or, under complex packing (`PlanHeader.complexPacking`), two: the first
/// `batch` samples in the slots' real parts, the next `batch` in their imaginary parts.
extension ChainExecution {
    /// `samples` (the plan's images per evaluation, zero images included) packed in `layout`
    /// and encrypted on `backend`.
    public static func inputTiles<B: TensorBackend>(_ samples: [[Double]], shape: [Int], layout: TileShape,
                                                    complexPacking: Bool, backend: B) throws -> TileTensor<B> {
        guard complexPacking else {
            return try TileTensor(encrypting: inputTensor(samples, shape: shape), shape: layout, backend: backend)
        }
        guard samples.count % 2 == 0 else {
            throw CompilerError.mismatch("\(samples.count) samples for a complex-packed plan, which carries an even number")
        }
        let half = samples.count / 2
        return try TileTensor(encryptingParts: inputTensor(Array(samples[..<half]), shape: shape),
                              inputTensor(Array(samples[half...]), shape: shape), shape: layout, backend: backend)
    }

    /// The first `images` samples of a decrypted output, in input order: `rows(tensor, k)`
    /// gives the first k samples of one decrypted tensor (one per slot set).
    public static func outputSamples<B: TensorBackend>(_ output: TileTensor<B>, complexPacking: Bool, images: Int,
                                                       _ rows: (TileTensors.Tensor, Int) throws -> [[Double]]) throws -> [[Double]] {
        guard complexPacking else { return try rows(output.decrypt(), images) }
        let (real, imaginary) = try output.decryptParts()
        let batch = output.shape.logicalShape[output.shape.logicalShape.count - 1]
        let first = try rows(real, min(images, batch))
        return images > batch ? first + (try rows(imaginary, images - batch)) : first
    }
}
