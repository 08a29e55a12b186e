import CKKS
import TileTensors

/// What the compiler planned for a network, as one value: a header (parameters, input and
/// output layouts, rotations, circuit privacy) and the graph of planned steps, each with its
/// layout, level, estimate and inputs. No weight is in it: the client's profile holds the plan,
/// the server's model holds the plan and the weights of its steps (`CompiledModel`).
public struct Plan: Equatable, Sendable {
    public var header: PlanHeader
    /// In topological order: step k reads value 0 (the input) or the outputs of steps before k.
    public var steps: [PlannedStep]
    /// Ties the model, its profile and the tensors packed for it together (SHA-256, 32 bytes).
    public var fingerprint: [UInt8]

    public init(header: PlanHeader, steps: [PlannedStep], fingerprint: [UInt8]) {
        self.header = header
        self.steps = steps
        self.fingerprint = fingerprint
    }

    /// [C, H, W] of one output sample (the last step's).
    public var outputShape: [Int] { steps.last?.outputShape ?? header.packedShape }
    /// The optimizer's estimate of one evaluation (µs).
    public var estimatedMicroseconds: Double { steps.reduce(0) { $0 + $1.estimatedMicroseconds } }
}

/// The plan's header: what the client and the server must agree on before any step runs.
public struct PlanHeader: Equatable, Sendable {
    public var parameters: CKKSParameters
    public var modelName: String
    public var engineVersion: String
    /// [C, H, W] of one input sample as images and tensors are read.
    public var inputShape: [Int]
    /// How each sample is packed before encryption (space-to-depth), if the plan says so.
    public var inputPacking: SpaceToDepth?
    /// Images per slot set: the batch dimension of the layouts (one image per slot in a batch
    /// plan). An evaluation carries `imagesPerEvaluation`.
    public var batch: Int
    public var inputLayout: TileShape
    public var outputLayout: TileShape
    /// The Galois rotations the evaluation keys must hold, exactly.
    public var rotationSteps: [Int]
    /// How results are sanitized before they leave the server; nil when they are not.
    public var circuitPrivacy: CircuitPrivacy?
    /// Two images per slot (real and imaginary parts; `TensorBackend.complexPacking`): the
    /// evaluation carries 2 × batch images and its keys hold the conjugation.
    public var complexPacking: Bool

    public init(parameters: CKKSParameters, modelName: String, engineVersion: String, inputShape: [Int],
                inputPacking: SpaceToDepth?, batch: Int, inputLayout: TileShape, outputLayout: TileShape,
                rotationSteps: [Int], circuitPrivacy: CircuitPrivacy?, complexPacking: Bool = false) {
        self.parameters = parameters
        self.modelName = modelName
        self.engineVersion = engineVersion
        self.inputShape = inputShape
        self.inputPacking = inputPacking
        self.batch = batch
        self.inputLayout = inputLayout
        self.outputLayout = outputLayout
        self.rotationSteps = rotationSteps
        self.circuitPrivacy = circuitPrivacy
        self.complexPacking = complexPacking
    }

    /// Images one evaluation carries: the batch, twice under complex packing.
    public var imagesPerEvaluation: Int { complexPacking ? 2 * batch : batch }
    /// The Galois keys the evaluation keys hold: one per rotation step, and the conjugation
    /// under complex packing.
    public var galoisKeyCount: Int { rotationSteps.count + (complexPacking ? 1 : 0) }

    /// [C, H, W] of what is encrypted per sample (after the packing).
    public var packedShape: [Int] { inputPacking?.packedShape ?? inputShape }
}

/// One step of a plan: its operation's structure (no weights), shapes, operands, the tiling it
/// runs in, the level it reads at, the layout it writes and the optimizer's estimate.
public struct PlannedStep: Equatable, Sendable {
    public var structure: StepStructure
    /// [C, H, W] read (the first operand's) and written.
    public var inputShape: [Int]
    public var outputShape: [Int]
    /// Names of the network layers the step computes.
    public var sources: [String]
    /// The values read, in operand order: 0 the input, k + 1 step k's output.
    public var inputs: [Int]
    public var tiling: InterleavedTiling
    public var inputLevel: Int
    public var outputLayout: TileShape
    public var estimatedMicroseconds: Double
    /// The most bytes of ciphertexts, plaintexts and key-switching scratch alive at once while
    /// the step runs (earlier values still alive included), simulated; 0 when not estimated.
    public var estimatedPeakBytes: Int
    /// For a convolution that starts a chunked segment (`ChunkedSegment`), the chunks its output
    /// channels are made in; 1: whole. The result is the same bit for bit; the peak is lower.
    public var chunks: Int
    /// Bytes of the Galois keys the step is the first to use, each cut at the level it runs at:
    /// what a server reading keys on demand loads here (`ChainSimulation.keyBytes`); 0 when not
    /// estimated (a file written before it was, or a step without rotations).
    public var estimatedKeyBytes: Int

    public init(structure: StepStructure, inputShape: [Int], outputShape: [Int], sources: [String], inputs: [Int],
                tiling: InterleavedTiling, inputLevel: Int, outputLayout: TileShape, estimatedMicroseconds: Double,
                estimatedPeakBytes: Int = 0, chunks: Int = 1, estimatedKeyBytes: Int = 0) {
        self.structure = structure
        self.inputShape = inputShape
        self.outputShape = outputShape
        self.sources = sources
        self.inputs = inputs
        self.tiling = tiling
        self.inputLevel = inputLevel
        self.outputLayout = outputLayout
        self.estimatedMicroseconds = estimatedMicroseconds
        self.estimatedPeakBytes = estimatedPeakBytes
        self.chunks = chunks
        self.estimatedKeyBytes = estimatedKeyBytes
    }
}

/// A lowered operation without its weights: what the client's profile may know of a step.
public enum StepStructure: Equatable, Sendable {
    /// Filters [F, C, K, K], stride, zero padding.
    case convolution(shape: [Int], stride: Int, padding: Int)
    case square
    case shiftedProduct
    case addChannelConstants
    case polynomial(degree: Int)
    case windowSum(window: Int, stride: Int)
    case scaleChannels
    case add
    case concat
}

extension LoweredOperation {
    /// The operation without its weights.
    public var structure: StepStructure {
        switch self {
        case let .convolution(_, shape, _, stride, padding): return .convolution(shape: shape, stride: stride, padding: padding)
        case .square: return .square
        case .shiftedProduct: return .shiftedProduct
        case .addChannelConstants: return .addChannelConstants
        case let .polynomial(rows): return .polynomial(degree: rows.count - 1)
        case let .windowSum(window, stride): return .windowSum(window: window, stride: stride)
        case .scaleChannels: return .scaleChannels
        case .add: return .add
        case .concat: return .concat
        }
    }

    /// The weights, in the order the model file stores them: a convolution's filters and bias,
    /// a per-channel step's values, a polynomial's rows, nothing for the others.
    public var weights: [[Double]] {
        switch self {
        case let .convolution(filters, _, bias, _, _): return [filters, bias]
        case let .shiftedProduct(v), let .addChannelConstants(v), let .scaleChannels(v): return [v]
        case let .polynomial(rows): return rows
        case .square, .windowSum, .add, .concat: return []
        }
    }

    /// The operation of `structure` with `weights` for `channels` input channels.
    /// - Throws: `CompilerError.invalidFile` when the weights do not fit the structure (count,
    ///   sizes, or a value that is not finite).
    public init(structure: StepStructure, weights: [[Double]], channels c: Int, source: String) throws {
        func values(_ v: [Double], count: Int, _ what: String) throws -> [Double] {
            guard v.count == count, v.allSatisfy(\.isFinite) else {
                throw CompilerError.invalidFile("\(source): \(what) has \(v.count) values (\(count) expected) or a value that is not finite")
            }
            return v
        }
        func expect(_ n: Int) throws {
            guard weights.count == n else {
                throw CompilerError.invalidFile("\(source): a \(structure) step has \(n) weight tensors, not \(weights.count)")
            }
        }
        switch structure {
        case let .convolution(shape, stride, padding):
            try expect(2)
            self = .convolution(filters: try values(weights[0], count: shape.reduce(1, *), "the filters"), shape: shape,
                                bias: try values(weights[1], count: shape[0], "the bias"), stride: stride, padding: padding)
        case .shiftedProduct:
            try expect(1)
            self = .shiftedProduct(beta: try values(weights[0], count: c, "β"))
        case .addChannelConstants:
            try expect(1)
            self = .addChannelConstants(gamma: try values(weights[0], count: c, "γ"))
        case .scaleChannels:
            try expect(1)
            self = .scaleChannels(factors: try values(weights[0], count: c, "the channel factors"))
        case let .polynomial(degree):
            try expect(degree + 1)
            self = .polynomial(coefficients: try weights.map { row in
                try values(row, count: row.count == 1 ? 1 : c, "a coefficient row")
            })
        case .square: try expect(0); self = .square
        case let .windowSum(window, stride): try expect(0); self = .windowSum(window: window, stride: stride)
        case .add: try expect(0); self = .add
        case .concat: try expect(0); self = .concat
        }
    }
}

extension StepStructure: CustomStringConvertible {
    /// Short name for reports and errors.
    public var description: String {
        switch self {
        case let .convolution(shape, stride, padding): return "conv \(shape.map(String.init).joined(separator: "×")) s\(stride) p\(padding)"
        case .square: return "x²"
        case .shiftedProduct: return "x⊙(x+β)"
        case .addChannelConstants: return "+γ"
        case let .polynomial(degree): return "poly deg \(degree)"
        case let .windowSum(k, s): return "pool \(k)×\(k) s\(s)"
        case .scaleChannels: return "×f"
        case .add: return "add"
        case .concat: return "concat"
        }
    }
}
