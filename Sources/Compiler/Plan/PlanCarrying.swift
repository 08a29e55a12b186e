import CKKS
import TileTensors

/// A file that holds a plan (the server's model, the client's profile): the plan's fields, for
/// the many readers that want one of them.
public protocol PlanCarrying {
    var plan: Plan { get }
}

extension PlanCarrying {
    public var parameters: CKKSParameters { plan.header.parameters }
    public var planFingerprint: [UInt8] { plan.fingerprint }
    public var modelName: String { plan.header.modelName }
    public var engineVersion: String { plan.header.engineVersion }
    /// [C, H, W] of one sample as images and tensors are read.
    public var inputShape: [Int] { plan.header.inputShape }
    /// How each sample is packed before encryption (space-to-depth), if the plan says so.
    public var inputPacking: SpaceToDepth? { plan.header.inputPacking }
    /// [C, H, W] of what is encrypted per sample.
    public var packedShape: [Int] { plan.header.packedShape }
    /// The layouts' batch (images per slot set; see `PlanHeader.batch`).
    public var batch: Int { plan.header.batch }
    /// Images one evaluation carries (twice the batch under complex packing).
    public var imagesPerEvaluation: Int { plan.header.imagesPerEvaluation }
    /// Two images per slot (`PlanHeader.complexPacking`).
    public var complexPacking: Bool { plan.header.complexPacking }
    public var inputLayout: TileShape { plan.header.inputLayout }
    public var outputLayout: TileShape { plan.header.outputLayout }
    /// The Galois rotations the evaluation keys must hold, exactly.
    public var rotationSteps: [Int] { plan.header.rotationSteps }
    /// The Galois keys the evaluation keys hold: one per rotation step, and the conjugation
    /// under complex packing.
    public var galoisKeyCount: Int { plan.header.galoisKeyCount }
}
