import Compiler
import Foundation

/// What a served model takes as input, checked before the input reaches the evaluator.
extension ServedModel {
    /// The largest input file a client can send for this model: one fresh ciphertext (two
    /// polynomials of maxLevel + 1 limbs, not seeded: the larger form) per tile of the input
    /// layout, with room for the frame and the protobuf fields. A larger body is answered 413
    /// from its `Content-Length`, before it is read.
    var maxInputBytes: Int {
        let parameters = model.parameters
        let limbs = parameters.maxLevel + 1
        let (polynomials, o1) = (2 * limbs).multipliedReportingOverflow(by: parameters.degree)
        let (perTile, o2) = polynomials.multipliedReportingOverflow(by: MemoryLayout<UInt64>.size)
        let (tiles, o3) = (perTile + 4096).multipliedReportingOverflow(by: model.inputLayout.tileCount)
        guard !o1, !o2, !o3, tiles < Int.max - 65536 else { return Int.max }
        return tiles + 65536
    }

    /// Checks an input's header against the model before its tiles are parsed: parameters,
    /// stage, image count and layout (the tile shape and the number of tiles).
    /// - Throws: `ServeError` 422 `mismatch` (other parameters, a result sent as an input),
    ///   422 `wrong_layout` (another layout), 400 `invalid_file` (an image count out of range).
    func checkInput(_ input: EncryptedTensorFile) throws {
        guard input.parametersFingerprint == model.parameters.fingerprint else {
            throw ServeError(.unprocessableContent, "mismatch",
                             "the ciphertext was encrypted under other parameters than model '\(name)' uses; encrypt with this model's profile (GET /v1/models/\(name)/profile)")
        }
        guard input.stage == .input else {
            throw ServeError(.unprocessableContent, "mismatch", "the body is an evaluation result, not an encrypted input")
        }
        guard (1...model.imagesPerEvaluation).contains(input.images) else {
            throw ServeError(.badRequest, "invalid_file", "the ciphertext claims \(input.images) images; model '\(name)' carries 1 … \(model.imagesPerEvaluation)")
        }
        guard input.layout == model.inputLayout else {
            throw ServeError(.unprocessableContent, "wrong_layout",
                             "the ciphertext's layout is \(String(describing: input.layout).prefix(200)) (\(input.tiles.count) tiles); model '\(name)' reads \(model.inputLayout) (\(model.inputLayout.tileCount) tiles); encrypt with this model's profile")
        }
    }
}
