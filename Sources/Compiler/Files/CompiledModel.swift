import CKKS
import Foundation
import TileTensors

/// The server's file (`model.hemodel`): the parameter set, the plan (tiling, layouts, rotation
/// steps) and the lowered steps with their weights. It never holds a key.
public struct CompiledModel: Sendable {
    public var parameters: CKKSParameters
    public var planFingerprint: [UInt8]
    public var modelName: String
    public var engineVersion: String
    /// The input's tiling (the first step's).
    public var tiling: InterleavedTiling
    /// The tiling of each step: the tensor is converted when it changes.
    public var stepTilings: [InterleavedTiling]
    /// [C, H, W] of one input sample.
    public var inputShape: [Int]
    /// The client's space-to-depth packing of each sample, if the plan reads one.
    public var inputPacking: SpaceToDepth?
    /// [C, H, W] of what the first step reads.
    public var packedShape: [Int] { inputPacking?.packedShape ?? inputShape }
    /// Images one evaluation carries.
    public var batch: Int
    public var inputLayout: TileShape
    public var outputLayout: TileShape
    public var rotationSteps: [Int]
    public var steps: [LoweredStep]
    /// The optimizer's estimate per step (µs) and the level each step reads at.
    public var estimatedMicroseconds: [Double]
    public var inputLevels: [Int]
    /// How results are sanitized before they leave the server (compile --circuit-privacy); nil
    /// when they are not.
    public var circuitPrivacy: CircuitPrivacy? = nil

    public static let magic = "he-tool-model"
    /// Version 3 is version 2 inside an integrity frame (SHA-256 checked before parsing);
    /// version 4 makes the steps a graph (each names the values it reads).
    public static let formatVersion = 4

    /// The file's bytes.
    public func serialized() throws -> [UInt8] {
        var m = Hetool_Plan_V1_CompiledModel()
        m.magic = Self.magic
        m.formatVersion = UInt32(Self.formatVersion)
        m.parametersFingerprint = Data(parameters.fingerprint)
        m.planFingerprint = Data(planFingerprint)
        m.parameters = Data(try CKKSFile.serialize(parameters))
        m.modelName = modelName
        m.engineVersion = engineVersion
        m.tiling = PlanCoding.tiling(tiling)
        m.inputShape = inputShape.map { UInt32($0) }
        if let inputPacking { m.inputPacking = PlanCoding.packing(inputPacking) }
        m.batch = UInt32(batch)
        m.inputLayout = inputLayout.description
        m.outputLayout = outputLayout.description
        m.rotationSteps = rotationSteps.map { Int64($0) }
        m.steps = steps.indices.map { i in
            PlanCoding.step(steps[i], tiling: stepTilings[i], estimate: estimatedMicroseconds[i], level: inputLevels[i])
        }
        if let circuitPrivacy {
            var c = Hetool_Plan_V1_CircuitPrivacy()
            c.maskLogScale = UInt32(circuitPrivacy.maskLogScale)
            c.floodBits = UInt32(circuitPrivacy.floodBits)
            c.slotBits = UInt32(circuitPrivacy.slotBits)
            c.statisticalBits = UInt32(circuitPrivacy.statisticalBits)
            c.precisionBits = UInt32(circuitPrivacy.precisionBits)
            m.circuitPrivacy = c
        }
        return IntegrityFrame.seal(try m.serializedBytes(), tag: .compiledModel)
    }

    /// Reads and validates a compiled model: every field, every step's sizes against its
    /// neighbours, the layouts against the parameters' slot count.
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
            throw CompilerError.invalidFile("\(source) has format version \(m.formatVersion); this he-tool reads version \(formatVersion) (\(older ? "plans became graphs of steps in version 4" : "written by a newer he-tool")): compile the model again with this he-tool's `he-tool compile`, and make its client profile and keys anew")
        }
        try PlanCoding.rejectUnknown(m, source)
        let parameters = try PlanCoding.parameters(m.parameters, fingerprint: m.parametersFingerprint, source: source)
        guard m.planFingerprint.count == 32 else { throw CompilerError.invalidFile("\(source): the plan fingerprint is not 32 bytes") }
        guard m.hasTiling else { throw CompilerError.invalidFile("\(source) has no tiling") }
        let tiling = try PlanCoding.tiling(m.tiling, slots: parameters.slotCount, source: source)
        let inputShape = try PlanCoding.shape(m.inputShape, "input shape", source)
        let packing = try PlanCoding.packing(m.inputPacking, present: m.hasInputPacking, sampleShape: inputShape, source: source)
        let packedShape = packing?.packedShape ?? inputShape
        guard m.batch >= 1, m.batch <= parameters.slotCount else { throw CompilerError.invalidFile("\(source): batch \(m.batch) is out of range") }
        let inputLayout = try PlanCoding.layout(m.inputLayout, slots: parameters.slotCount, "input layout", source)
        let outputLayout = try PlanCoding.layout(m.outputLayout, slots: parameters.slotCount, "output layout", source)
        let rotations = try PlanCoding.rotations(m.rotationSteps, slots: parameters.slotCount, source)
        guard !m.steps.isEmpty else { throw CompilerError.invalidFile("\(source) has no steps") }
        var steps: [LoweredStep] = [], estimates: [Double] = [], levels: [Int] = [], tilings: [InterleavedTiling] = []
        guard m.steps.count <= 1 << 16 else { throw CompilerError.invalidFile("\(source) has \(m.steps.count) steps (at most 65,536)") }
        var shapes = [packedShape]
        var read = [Bool](repeating: false, count: m.steps.count + 1)
        for (i, s) in m.steps.enumerated() {
            let step = try PlanCoding.step(s, index: i, shapes: shapes, source: source)
            shapes.append(step.outputShape)
            for v in step.inputs { read[v] = true }
            guard s.estimatedMicroseconds.isFinite, s.estimatedMicroseconds >= 0, s.inputLevel <= UInt32(parameters.maxLevel) else {
                throw CompilerError.invalidFile("\(source): step \(i) has an invalid estimate or level")
            }
            guard s.hasTiling else { throw CompilerError.invalidFile("\(source): step \(i) has no tiling") }
            tilings.append(try PlanCoding.tiling(s.tiling, slots: parameters.slotCount, source: "\(source), step \(i)"))
            steps.append(step)
            estimates.append(s.estimatedMicroseconds)
            levels.append(Int(s.inputLevel))
        }
        if let unread = read.dropLast().firstIndex(of: false) {
            throw CompilerError.invalidFile("\(source): \(unread == 0 ? "the input" : "the output of step \(unread - 1)") is read by no step (a plan's values all lead to its result)")
        }
        guard tilings[0] == tiling else {
            throw CompilerError.invalidFile("\(source): the first step's tiling \(tilings[0]) is not the input's \(tiling)")
        }
        guard inputLayout.logicalShape == [packedShape[0], 1, packedShape[1], packedShape[2], Int(m.batch)] else {
            throw CompilerError.invalidFile("\(source): the input layout \(inputLayout) does not hold \(m.batch) samples of \(packedShape)")
        }
        var privacy: CircuitPrivacy? = nil
        if m.hasCircuitPrivacy {
            let c = m.circuitPrivacy
            try PlanCoding.rejectUnknown(c, source)
            // Whether mask and flooding fit the output level is checked where they are applied.
            guard (1...400).contains(c.maskLogScale), (1...400).contains(c.floodBits), c.slotBits <= 400,
                  (1...256).contains(c.statisticalBits), c.precisionBits <= 64 else {
                throw CompilerError.invalidFile("\(source): the circuit-privacy sizes (mask 2^\(c.maskLogScale), flooding 2^\(c.floodBits)) are out of range")
            }
            privacy = CircuitPrivacy(maskLogScale: Int(c.maskLogScale), floodBits: Int(c.floodBits), slotBits: Int(c.slotBits),
                                     statisticalBits: Int(c.statisticalBits), precisionBits: Int(c.precisionBits))
        }
        return CompiledModel(parameters: parameters, planFingerprint: Array(m.planFingerprint), modelName: m.modelName,
                             engineVersion: m.engineVersion, tiling: tiling, stepTilings: tilings, inputShape: inputShape, inputPacking: packing, batch: Int(m.batch),
                             inputLayout: inputLayout, outputLayout: outputLayout, rotationSteps: rotations, steps: steps,
                             estimatedMicroseconds: estimates, inputLevels: levels, circuitPrivacy: privacy)
    }
}
