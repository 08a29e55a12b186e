import CKKS
import Foundation
import TileTensors

/// The plan (header and planned steps) and the steps' weights as protobuf messages, with the
/// checks every reader applies: each step against the values before it (shapes, operands that
/// exist, a graph in topological order), and the header's layouts against the steps.
extension PlanCoding {
    // MARK: writing

    static func plan(_ p: Plan) throws -> Hetool_Plan_V1_Plan {
        var m = Hetool_Plan_V1_Plan()
        m.header = try header(p.header)
        m.steps = p.steps.map(plannedStep)
        return m
    }

    static func header(_ h: PlanHeader) throws -> Hetool_Plan_V1_PlanHeader {
        var m = Hetool_Plan_V1_PlanHeader()
        m.parametersFingerprint = Data(h.parameters.fingerprint)
        m.parameters = Data(try CKKSFile.serialize(h.parameters))
        m.modelName = h.modelName
        m.engineVersion = h.engineVersion
        m.inputShape = h.inputShape.map { UInt32($0) }
        m.batch = UInt32(h.batch)
        if let p = h.inputPacking { m.inputPacking = packing(p) }
        m.inputLayout = layout(h.inputLayout)
        m.outputLayout = layout(h.outputLayout)
        m.rotationSteps = h.rotationSteps.map { Int64($0) }
        m.complexPacking = h.complexPacking
        if let c = h.circuitPrivacy {
            var p = Hetool_Plan_V1_CircuitPrivacy()
            p.maskLogScale = UInt32(c.maskLogScale)
            p.floodBits = UInt32(c.floodBits)
            p.slotBits = UInt32(c.slotBits)
            p.statisticalBits = UInt32(c.statisticalBits)
            p.precisionBits = UInt32(c.precisionBits)
            m.circuitPrivacy = p
        }
        return m
    }

    static func plannedStep(_ s: PlannedStep) -> Hetool_Plan_V1_PlannedStep {
        var m = Hetool_Plan_V1_PlannedStep()
        switch s.structure {
        case let .convolution(shape, stride, padding):
            var c = Hetool_Plan_V1_ConvolutionShape()
            c.shape = shape.map { UInt32($0) }
            c.stride = UInt32(stride)
            c.padding = UInt32(padding)
            m.convolution = c
        case .square: m.square = Hetool_Plan_V1_Square()
        case .shiftedProduct: m.shiftedProduct = Hetool_Plan_V1_PerChannel()
        case .addChannelConstants: m.addChannelConstants = Hetool_Plan_V1_PerChannel()
        case .scaleChannels: m.scaleChannels = Hetool_Plan_V1_PerChannel()
        case let .polynomial(degree):
            var p = Hetool_Plan_V1_PolynomialShape()
            p.degree = UInt32(degree)
            m.polynomial = p
        case let .windowSum(k, st):
            var w = Hetool_Plan_V1_WindowSum()
            w.window = UInt32(k)
            w.stride = UInt32(st)
            m.windowSum = w
        case .add: m.add = Hetool_Plan_V1_Add()
        case .concat: m.concat = Hetool_Plan_V1_Concat()
        }
        m.inputs = s.inputs.map { UInt32($0) }
        m.inputShape = s.inputShape.map { UInt32($0) }
        m.outputShape = s.outputShape.map { UInt32($0) }
        m.sources = s.sources
        m.estimatedMicroseconds = s.estimatedMicroseconds
        m.estimatedPeakBytes = UInt64(s.estimatedPeakBytes)
        if s.chunks > 1 { m.chunks = UInt32(s.chunks) }
        m.estimatedKeyBytes = UInt64(s.estimatedKeyBytes)
        m.inputLevel = UInt32(s.inputLevel)
        m.tiling = tiling(s.tiling)
        m.outputLayout = layout(s.outputLayout)
        return m
    }

    static func weights(_ operation: LoweredOperation) -> Hetool_Plan_V1_StepWeights {
        var m = Hetool_Plan_V1_StepWeights()
        m.tensors = operation.weights.map(channelValues)
        return m
    }

    // MARK: reading

    /// Reads and checks a plan. `fingerprint` is the file's (32 bytes).
    static func plan(_ m: Hetool_Plan_V1_Plan, present: Bool, fingerprint: Data, source: String) throws -> Plan {
        guard present else { throw CompilerError.invalidFile("\(source) has no plan") }
        try rejectUnknown(m, source)
        guard fingerprint.count == 32 else { throw CompilerError.invalidFile("\(source): the plan fingerprint is not 32 bytes") }
        guard m.hasHeader else { throw CompilerError.invalidFile("\(source): the plan has no header") }
        let h = try header(m.header, source: source)
        guard !m.steps.isEmpty else { throw CompilerError.invalidFile("\(source): the plan has no steps") }
        guard m.steps.count <= 1 << 16 else { throw CompilerError.invalidFile("\(source): the plan has \(m.steps.count) steps (at most 65,536)") }
        var shapes = [h.packedShape]
        var read = [Bool](repeating: false, count: m.steps.count + 1)
        var steps: [PlannedStep] = []
        steps.reserveCapacity(m.steps.count)
        for (i, s) in m.steps.enumerated() {
            let step = try plannedStep(s, index: i, shapes: shapes, parameters: h.parameters, source: source)
            for v in step.inputs { read[v] = true }
            shapes.append(step.outputShape)
            steps.append(step)
        }
        if let unread = read.dropLast().firstIndex(of: false) {
            throw CompilerError.invalidFile("\(source): \(unread == 0 ? "the input" : "the output of step \(unread - 1)") is read by no step (a plan's values all lead to its result)")
        }
        guard h.inputLayout.logicalShape == [h.packedShape[0], 1, h.packedShape[1], h.packedShape[2], h.batch] else {
            throw CompilerError.invalidFile("\(source): the input layout \(h.inputLayout) does not hold \(h.batch) samples of \(h.packedShape)")
        }
        guard steps[steps.count - 1].outputLayout == h.outputLayout else {
            throw CompilerError.invalidFile("\(source): the last step writes \(steps[steps.count - 1].outputLayout), the plan's output layout is \(h.outputLayout)")
        }
        let out = steps[steps.count - 1].outputShape
        let d = InterleavedTiling.channelDimension(of: h.outputLayout)
        var expected = [1, 1, out[1], out[2], h.batch]
        expected[d] = out[0]
        guard h.outputLayout.logicalShape == expected else {
            throw CompilerError.invalidFile("\(source): the output layout \(h.outputLayout) does not hold \(h.batch) samples of \(out)")
        }
        return Plan(header: h, steps: steps, fingerprint: Array(fingerprint))
    }

    static func header(_ m: Hetool_Plan_V1_PlanHeader, source: String) throws -> PlanHeader {
        try rejectUnknown(m, source)
        let parameters = try self.parameters(m.parameters, fingerprint: m.parametersFingerprint, source: source)
        let slots = parameters.slotCount
        let inputShape = try shape(m.inputShape, "input shape", source)
        let packing = try self.packing(m.inputPacking, present: m.hasInputPacking, sampleShape: inputShape, source: source)
        guard m.batch >= 1, m.batch <= slots else { throw CompilerError.invalidFile("\(source): batch \(m.batch) is out of range") }
        guard m.modelName.utf8.count <= 1024, m.engineVersion.utf8.count <= 1024 else {
            throw CompilerError.invalidFile("\(source): the model name or engine version is longer than 1,024 bytes")
        }
        var privacy: CircuitPrivacy? = nil
        if m.hasCircuitPrivacy {
            let c = m.circuitPrivacy
            try rejectUnknown(c, source)
            // Whether mask and flooding fit the output level is checked where they are applied.
            guard (1...400).contains(c.maskLogScale), (1...400).contains(c.floodBits), c.slotBits <= 400,
                  (1...256).contains(c.statisticalBits), c.precisionBits <= 64 else {
                throw CompilerError.invalidFile("\(source): the circuit-privacy sizes (mask 2^\(c.maskLogScale), flooding 2^\(c.floodBits)) are out of range")
            }
            // The sanitizer masks the slots the client does not read by image index, one image
            // per slot: it is not made for two.
            guard !m.complexPacking else {
                throw CompilerError.invalidFile("\(source): the plan packs two images per slot and sanitizes its results; the compiler makes either, never both: compile the model again")
            }
            privacy = CircuitPrivacy(maskLogScale: Int(c.maskLogScale), floodBits: Int(c.floodBits), slotBits: Int(c.slotBits),
                                     statisticalBits: Int(c.statisticalBits), precisionBits: Int(c.precisionBits))
        }
        return PlanHeader(
            parameters: parameters, modelName: m.modelName, engineVersion: m.engineVersion, inputShape: inputShape,
            inputPacking: packing, batch: Int(m.batch),
            inputLayout: try layout(m.inputLayout, present: m.hasInputLayout, slots: slots, "input layout", source),
            outputLayout: try layout(m.outputLayout, present: m.hasOutputLayout, slots: slots, "output layout", source),
            rotationSteps: try rotations(m.rotationSteps, slots: slots, source), circuitPrivacy: privacy,
            complexPacking: m.complexPacking)
    }

    /// Step `i` of a plan, checked on its own and against the values before it (`shapes[v]` is
    /// value v's [C, H, W]: the input's, then each earlier step's output).
    static func plannedStep(_ m: Hetool_Plan_V1_PlannedStep, index i: Int, shapes: [[Int]], parameters: CKKSParameters,
                            source: String) throws -> PlannedStep {
        let where_ = "\(source), step \(i)"
        try rejectUnknown(m, where_)
        let input = try shape(m.inputShape, "input shape", where_), output = try shape(m.outputShape, "output shape", where_)
        let inputs = m.inputs.map(Int.init)
        // Operands computed before the step only: this is what makes the graph acyclic.
        guard !inputs.isEmpty, inputs.count <= 64, inputs.allSatisfy({ $0 <= i }) else {
            throw CompilerError.invalidFile("\(where_) reads values \(m.inputs.prefix(8)): a step reads 1 … 64 values computed before it (0 the input, k + 1 step k)")
        }
        guard shapes[inputs[0]] == input else {
            throw CompilerError.invalidFile("\(where_) says it reads \(input), but value \(inputs[0]) is \(shapes[inputs[0]])")
        }
        let c = input[0]
        let structure: StepStructure
        switch m.operation {
        case .convolution(let conv)?:
            try rejectUnknown(conv, where_)
            let s = conv.shape.map(Int.init)
            guard s.count == 4, s.allSatisfy({ $0 >= 1 && $0 <= 1 << 14 }), s[1] == c, s[2] == s[3], conv.stride >= 1,
                  conv.stride <= 1 << 14, Int(conv.padding) < s[2] else {
                throw CompilerError.invalidFile("\(where_): the convolution \(conv.shape.prefix(4)) (stride \(conv.stride), padding \(conv.padding)) does not read \(input)")
            }
            let k = s[2], st = Int(conv.stride), p = Int(conv.padding)
            guard input[1] + 2 * p >= k, input[2] + 2 * p >= k,
                  output == [s[0], (input[1] + 2 * p - k) / st + 1, (input[2] + 2 * p - k) / st + 1] else {
                throw CompilerError.invalidFile("\(where_): the convolution's output \(output) is not what \(s) makes of \(input)")
            }
            guard s.reduce(1, *) <= 1 << 28 else { throw CompilerError.invalidFile("\(where_): the convolution \(s) has more than 2^28 weights") }
            structure = .convolution(shape: s, stride: st, padding: p)
        case .square?: structure = .square
        case .shiftedProduct(let v)?: try rejectUnknown(v, where_); structure = .shiftedProduct
        case .addChannelConstants(let v)?: try rejectUnknown(v, where_); structure = .addChannelConstants
        case .scaleChannels(let v)?: try rejectUnknown(v, where_); structure = .scaleChannels
        case .polynomial(let p)?:
            try rejectUnknown(p, where_)
            guard (1...15).contains(p.degree) else { throw CompilerError.invalidFile("\(where_): a polynomial of degree \(p.degree) (1 … 15)") }
            structure = .polynomial(degree: Int(p.degree))
        case .windowSum(let w)?:
            try rejectUnknown(w, where_)
            let k = Int(w.window), st = Int(w.stride)
            guard k >= 1, st >= 1, k <= input[1], k <= input[2], output == [c, (input[1] - k) / st + 1, (input[2] - k) / st + 1] else {
                throw CompilerError.invalidFile("\(where_): a window sum \(k)/\(st) of \(input) into \(output)")
            }
            structure = .windowSum(window: k, stride: st)
        case .add(let a)?:
            try rejectUnknown(a, where_)
            guard inputs.count == 2, shapes[inputs[1]] == input, output == input else {
                throw CompilerError.invalidFile("\(where_): an addition reads two values of one shape and writes that shape (reads \(inputs.map { shapes[$0] }), writes \(output))")
            }
            structure = .add
        case .concat(let a)?:
            try rejectUnknown(a, where_)
            let parts = inputs.map { shapes[$0] }
            guard parts.count >= 2, parts.allSatisfy({ $0.dropFirst() == input.dropFirst() }),
                  output == [parts.reduce(0) { $0 + $1[0] }] + Array(input.dropFirst()) else {
                throw CompilerError.invalidFile("\(where_): a concatenation of \(parts) into \(output) (two or more values of one image size, channels adding up)")
            }
            structure = .concat
        case nil:
            throw CompilerError.invalidFile("\(where_) has no operation")
        }
        if structure != .add, structure != .concat, inputs.count != 1 {
            throw CompilerError.invalidFile("\(where_): a \(structure) step reads one value, not \(inputs.count)")
        }
        switch structure {
        case .convolution, .windowSum, .concat: break
        default:
            guard output == input else { throw CompilerError.invalidFile("\(where_): an elementwise step changes the shape") }
        }
        guard m.estimatedMicroseconds.isFinite, m.estimatedMicroseconds >= 0, m.inputLevel <= UInt32(parameters.maxLevel),
              m.estimatedPeakBytes <= 1 << 50, m.estimatedKeyBytes <= 1 << 50 else {
            throw CompilerError.invalidFile("\(where_) has an invalid estimate or level")
        }
        guard m.sources.count <= 1024, m.sources.allSatisfy({ $0.utf8.count <= 1024 }) else {
            throw CompilerError.invalidFile("\(where_) names too many source layers, or one longer than 1,024 bytes")
        }
        guard m.hasTiling else { throw CompilerError.invalidFile("\(where_) has no tiling") }
        // At most one chunk per output channel, and only a convolution is made in chunks (the
        // executor checks the rest: `ChunkedSegment`).
        if m.chunks > 1 {
            guard case .convolution = structure, Int(m.chunks) <= output[0] else {
                throw CompilerError.invalidFile("\(where_) is planned in \(m.chunks) chunks; only a convolution is, in at most one chunk per output channel")
            }
        }
        let slots = parameters.slotCount
        return PlannedStep(structure: structure, inputShape: input, outputShape: output, sources: m.sources, inputs: inputs,
                           tiling: try tiling(m.tiling, slots: slots, source: where_), inputLevel: Int(m.inputLevel),
                           outputLayout: try layout(m.outputLayout, present: m.hasOutputLayout, slots: slots, "output layout", where_),
                           estimatedMicroseconds: m.estimatedMicroseconds, estimatedPeakBytes: Int(m.estimatedPeakBytes),
                           chunks: max(1, Int(m.chunks)), estimatedKeyBytes: Int(m.estimatedKeyBytes))
    }

    /// The executable step of a planned step and its weights.
    static func loweredStep(_ s: PlannedStep, weights m: Hetool_Plan_V1_StepWeights, index i: Int, source: String) throws -> LoweredStep {
        let where_ = "\(source), step \(i)"
        try rejectUnknown(m, where_)
        for t in m.tensors { try rejectUnknown(t, where_) }
        let operation = try LoweredOperation(structure: s.structure, weights: m.tensors.map(\.values),
                                             channels: s.inputShape[0], source: where_)
        return LoweredStep(operation: operation, inputShape: s.inputShape, outputShape: s.outputShape, sources: s.sources, inputs: s.inputs)
    }
}
