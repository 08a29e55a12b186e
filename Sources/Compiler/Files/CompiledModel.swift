import CKKS
import Crypto
import Foundation
import TileTensors

/// The server's file (`model.hemodel`): the plan and the weights of its steps. It never holds
/// a key.
public struct CompiledModel: PlanCarrying, Sendable {
    /// What the compiler planned (the client's profile holds the same plan).
    public var plan: Plan
    /// The executable steps: the plan's steps with their weights.
    public var steps: [LoweredStep]

    public static let magic = "he-tool-model"
    /// Version 3 was version 2 inside an integrity frame; version 4 made the steps a graph;
    /// version 5 holds the plan as one message (shared with the profile), layouts typed, and the
    /// weights beside it.
    public static let formatVersion = 5

    /// A model of `plan` and `steps` (one per planned step, the same structure and shapes).
    public init(plan: Plan, steps: [LoweredStep]) {
        precondition(steps.count == plan.steps.count && zip(steps, plan.steps).allSatisfy {
            $0.operation.structure == $1.structure && $0.inputs == $1.inputs && $0.outputShape == $1.outputShape
        }, "one executable step per planned step")
        self.plan = plan
        self.steps = steps
    }

    /// The plan fingerprint of `plan` with `steps`' weights: SHA-256 of their encodings.
    public static func fingerprint(plan: Plan, steps: [LoweredStep]) throws -> [UInt8] {
        var hash = SHA256()
        hash.update(data: try PlanCoding.plan(plan).serializedBytes() as [UInt8])
        for step in steps { hash.update(data: try PlanCoding.weights(step.operation).serializedBytes() as [UInt8]) }
        return Array(hash.finalize())
    }

    // The plan's fields: `PlanCarrying`; these are the model's own.
    /// The input's tiling (the first step's).
    public var tiling: InterleavedTiling { plan.steps[0].tiling }
    public var stepTilings: [InterleavedTiling] { plan.steps.map(\.tiling) }
    /// Each step's chunks (`PlannedStep.chunks`; 1: whole).
    public var stepChunks: [Int] { plan.steps.map(\.chunks) }
    /// The optimizer's estimate per step (µs) and the level each step reads at.
    public var estimatedMicroseconds: [Double] { plan.steps.map(\.estimatedMicroseconds) }
    public var inputLevels: [Int] { plan.steps.map(\.inputLevel) }
    public var circuitPrivacy: CircuitPrivacy? { plan.header.circuitPrivacy }

    /// The server's peak resident memory for this model, with every key read whole (nil) or
    /// `residentKeyBytes` of them held (a key file read on demand).
    public func memoryEstimate(residentKeyBytes: Int? = nil) -> MemoryEstimate {
        MemoryEstimate.server(plan: plan, weightCount: steps.reduce(0) { $0 + $1.weightCount }, residentKeyBytes: residentKeyBytes)
    }

    /// The file's bytes.
    public func serialized() throws -> [UInt8] {
        var m = Hetool_Plan_V1_CompiledModel()
        m.magic = Self.magic
        m.formatVersion = UInt32(Self.formatVersion)
        m.planFingerprint = Data(plan.fingerprint)
        m.plan = try PlanCoding.plan(plan)
        m.weights = steps.map { PlanCoding.weights($0.operation) }
        return IntegrityFrame.seal(try m.serializedBytes(), tag: .compiledModel)
    }

    /// Reads and validates a compiled model: every field, every step's sizes against its
    /// neighbours and its weights against its structure, the layouts against the parameters.
    /// - Throws: `CompilerError.invalidFile` naming what is wrong.
    public static func read(_ bytes: [UInt8], source: String = "the compiled model") throws -> CompiledModel {
        let m = try PlanCoding.framed(bytes, tag: .compiledModel, source: source,
                                      remake: "compile the model again with `he-tool compile`",
                                      as: Hetool_Plan_V1_CompiledModel.self)
        guard m.magic == magic else {
            throw CompilerError.invalidFile("\(source) is not a compiled he-tool model (magic '\(m.magic.prefix(20))'); compile one with `he-tool compile`")
        }
        guard m.formatVersion == formatVersion else {
            let older = m.formatVersion < formatVersion
            throw CompilerError.invalidFile("\(source) has format version \(m.formatVersion); this he-tool reads version \(formatVersion) (\(older ? "version 5 holds the plan as one message, shared with the client profile" : "written by a newer he-tool")): compile the model again with this he-tool's `he-tool compile`, and make its client profile and keys anew")
        }
        try PlanCoding.rejectUnknown(m, source)
        let plan = try PlanCoding.plan(m.plan, present: m.hasPlan, fingerprint: m.planFingerprint, source: source)
        guard m.weights.count == plan.steps.count else {
            throw CompilerError.invalidFile("\(source): \(m.weights.count) weight entries for \(plan.steps.count) steps")
        }
        let steps = try plan.steps.indices.map { i in
            try PlanCoding.loweredStep(plan.steps[i], weights: m.weights[i], index: i, source: source)
        }
        return CompiledModel(plan: plan, steps: steps)
    }
}
