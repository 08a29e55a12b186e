import CKKS
import Foundation
import TileTensors

/// The client's file (`client.heprofile`): the plan without its weights, how to preprocess
/// inputs and how to read outputs (the per-channel map after the last linear layer, class names,
/// rounding). It never holds a weight.
public struct ClientProfile: PlanCarrying, Sendable {
    /// The compiled model's plan (the same value, fingerprint included).
    public var plan: Plan
    public var outputScale: [Double]
    public var outputShift: [Double]
    public var classNames: [String]
    public var preprocessingMean: [Double]
    public var preprocessingStd: [Double]
    /// Decimal digits the decrypted scores are rounded to.
    public var outputDecimals: Int

    public static let magic = "he-tool-profile"
    /// Version 3 was version 2 inside an integrity frame; version 4 holds the plan as one
    /// message (the model's, without weights), layouts typed.
    public static let formatVersion = 4

    public init(plan: Plan, outputScale: [Double], outputShift: [Double], classNames: [String],
                preprocessingMean: [Double], preprocessingStd: [Double], outputDecimals: Int) {
        self.plan = plan
        self.outputScale = outputScale
        self.outputShift = outputShift
        self.classNames = classNames
        self.preprocessingMean = preprocessingMean
        self.preprocessingStd = preprocessingStd
        self.outputDecimals = outputDecimals
    }

    // The plan's fields: `PlanCarrying`; these are the profile's own.
    /// 0 or 1: where the classes are in the output layout.
    public var outputChannelDimension: Int { InterleavedTiling.channelDimension(of: plan.header.outputLayout) }
    public var outputShape: [Int] { plan.outputShape }
    /// The plan sanitizes its results (compile --circuit-privacy): the evaluation keys carry the
    /// client's public key, and each result's scale is the chain's times the mask's.
    public var circuitPrivacy: Bool { plan.header.circuitPrivacy != nil }

    public func serialized() throws -> [UInt8] {
        var m = Hetool_Plan_V1_ClientProfile()
        m.magic = Self.magic
        m.formatVersion = UInt32(Self.formatVersion)
        m.planFingerprint = Data(plan.fingerprint)
        m.plan = try PlanCoding.plan(plan)
        m.outputScale = outputScale
        m.outputShift = outputShift
        m.classNames = classNames
        m.preprocessingMean = preprocessingMean
        m.preprocessingStd = preprocessingStd
        m.outputDecimals = UInt32(outputDecimals)
        return IntegrityFrame.seal(try m.serializedBytes(), tag: .clientProfile)
    }

    /// Reads and validates a client profile (the plan as the model's reader checks it).
    /// - Throws: `CompilerError.invalidFile` naming what is wrong.
    public static func read(_ bytes: [UInt8], source: String = "the client profile") throws -> ClientProfile {
        let m = try PlanCoding.framed(bytes, tag: .clientProfile, source: source,
                                      remake: "compile the model again with `he-tool compile` (it writes client.heprofile), or fetch the profile again",
                                      as: Hetool_Plan_V1_ClientProfile.self)
        guard m.magic == magic else {
            throw CompilerError.invalidFile("\(source) is not an he-tool client profile (magic '\(m.magic.prefix(20))'); `he-tool compile` writes one as client.heprofile")
        }
        guard m.formatVersion == formatVersion else {
            throw CompilerError.invalidFile("\(source) has format version \(m.formatVersion); this he-tool reads version \(formatVersion)\(m.formatVersion < formatVersion ? " (version 4 holds the plan as one message)" : ""): compile the model again with this he-tool (or fetch its profile again), and make keys anew")
        }
        try PlanCoding.rejectUnknown(m, source)
        let plan = try PlanCoding.plan(m.plan, present: m.hasPlan, fingerprint: m.planFingerprint, source: source)
        let outputShape = plan.outputShape
        let c = outputShape[0]
        let scale = try PlanCoding.values(m.outputScale, count: m.outputScale.isEmpty ? 0 : c, "the output scale", source)
        let shift = try PlanCoding.values(m.outputShift, count: m.outputShift.isEmpty ? 0 : c, "the output shift", source)
        guard m.classNames.isEmpty || m.classNames.count == outputShape.reduce(1, *),
              m.classNames.allSatisfy({ $0.utf8.count <= 1024 }) else {
            throw CompilerError.invalidFile("\(source): \(m.classNames.count) class names for \(outputShape.reduce(1, *)) outputs, or a name longer than 1,024 bytes")
        }
        let channels = plan.header.inputShape[0]
        guard [1, channels].contains(m.preprocessingMean.count), [1, channels].contains(m.preprocessingStd.count),
              m.preprocessingMean.allSatisfy(\.isFinite), m.preprocessingStd.allSatisfy({ $0.isFinite && $0 > 0 }),
              m.outputDecimals <= 12 else {
            throw CompilerError.invalidFile("\(source): invalid preprocessing (mean \(m.preprocessingMean.prefix(8)), std \(m.preprocessingStd.prefix(8))) or output decimals \(m.outputDecimals)")
        }
        return ClientProfile(plan: plan, outputScale: scale, outputShift: shift, classNames: m.classNames,
                             preprocessingMean: m.preprocessingMean, preprocessingStd: m.preprocessingStd,
                             outputDecimals: Int(m.outputDecimals))
    }

    /// The decrypted output of each image, after the client's per-channel map and rounded to
    /// `outputDecimals`.
    public func scores(fromOutput tensor: TileTensors.Tensor, images: Int) -> [[Double]] {
        let raw = ChainExecution.outputSamples(tensor, channelDimension: outputChannelDimension)
        let per = outputShape[1] * outputShape[2]
        let unit = pow(10, Double(outputDecimals))
        return raw.prefix(images).map { sample in
            sample.indices.map { i in
                let c = i / per
                let v = (outputScale.isEmpty ? 1 : outputScale[c]) * sample[i] + (outputShift.isEmpty ? 0 : outputShift[c])
                return (v * unit).rounded() / unit
            }
        }
    }
}
