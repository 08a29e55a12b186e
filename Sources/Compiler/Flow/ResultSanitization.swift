import CKKS
import Foundation
import TileTensors

extension EvaluationSession {
    /// The result tensor sanitized as the plan's `CircuitPrivacy` says (`ResultSanitizer`): each
    /// tile keeps exactly the slots the client reads — the first location of every output of the
    /// `images` images it sent, not replicas, not garbage, not the padded images' outputs (which
    /// are the network's answer to zeros) — and is re-randomized and flooded.
    /// - Throws: `mismatch` when the keys have no public key; `infeasible` when the result's
    ///   scale is not what the flooding was sized for (a plan inconsistent with its parameters).
    static func sanitized(_ x: TileTensor<CKKSBackend>, privacy: CircuitPrivacy, images: Int,
                          keys: EvaluationKeys, modelName: String) throws -> TileTensor<CKKSBackend> {
        guard let publicKey = keys.publicKey else {
            throw CompilerError.mismatch("model '\(modelName)' sanitizes its results (compiled with --circuit-privacy), so the evaluation keys must hold the client's public key; make them again with `he-tool keygen --profile` and this model's client profile")
        }
        let context = keys.context
        let logScale = context.parameters.logScale
        // The sizing assumed the chain's output scale within a factor 2 of 2^logScale.
        guard (Double(logScale - 1)...Double(logScale + 1)).contains(log2(x.scale)) else {
            throw CompilerError.infeasible("the result's scale 2^\(String(format: "%.2f", log2(x.scale))) is not the 2^\(logScale) the circuit-privacy flooding of model '\(modelName)' was sized for (the model file is inconsistent)")
        }
        let reads = readSlots(x.shape, images: images)
        let encoder = x.backend.encoder
        let sanitizer = ResultSanitizer(publicKey: publicKey)
        let level = x.level
        // The mask to ~2^-104 (double-double), not `encode`'s 2^-52: see `encodeMaskPrecisely`.
        let tiles = try zip(x.tiles, reads).map { ct, slots in
            try sanitizer.sanitize(ct, mask: encoder.encodeMaskPrecisely(slots, logScale: privacy.maskLogScale, level: level),
                                   floodBits: privacy.floodBits)
        }
        return try TileTensor(wrapping: tiles, shape: x.shape, backend: x.backend)
    }

    /// Per tile, the slots the client reads for the first `images` images (batch is the last dimension).
    static func readSlots(_ shape: TileShape, images: Int) -> [Set<Int>] {
        shape.readSlots { $0[$0.count - 1] < images }
    }
}
