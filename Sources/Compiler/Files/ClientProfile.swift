import CKKS
import Foundation
import TileTensors

/// The client's file (`client.heprofile`): the parameter set, how to preprocess and pack
/// inputs, how to read outputs, the rotation steps its evaluation keys must hold, and the class
/// names. It never holds a weight.
public struct ClientProfile: Sendable {
    public var parameters: CKKSParameters
    public var planFingerprint: [UInt8]
    public var modelName: String
    public var engineVersion: String
    /// [C, H, W] of one sample as images and tensors are read.
    public var inputShape: [Int]
    /// How each sample is packed before encryption (space-to-depth), if the plan says so.
    public var inputPacking: SpaceToDepth?
    /// [C, H, W] of what is encrypted per sample.
    public var packedShape: [Int] { inputPacking?.packedShape ?? inputShape }
    public var batch: Int
    public var inputLayout: TileShape
    public var outputLayout: TileShape
    /// 0 or 1: where the classes are in the output layout.
    public var outputChannelDimension: Int
    public var outputShape: [Int]
    public var outputScale: [Double]
    public var outputShift: [Double]
    public var rotationSteps: [Int]
    public var classNames: [String]
    public var preprocessingMean: [Double]
    public var preprocessingStd: [Double]
    /// Decimal digits the decrypted scores are rounded to.
    public var outputDecimals: Int
    /// The plan sanitizes its results (compile --circuit-privacy): the evaluation keys carry the
    /// client's public key, and each result's scale is the chain's times the mask's.
    public var circuitPrivacy = false

    public static let magic = "he-tool-profile"
    /// Version 3 is version 2 inside an integrity frame (SHA-256 checked before parsing).
    public static let formatVersion = 3

    public func serialized() throws -> [UInt8] {
        var m = Hetool_Plan_V1_ClientProfile()
        m.magic = Self.magic
        m.formatVersion = UInt32(Self.formatVersion)
        m.parametersFingerprint = Data(parameters.fingerprint)
        m.planFingerprint = Data(planFingerprint)
        m.parameters = Data(try CKKSFile.serialize(parameters))
        m.modelName = modelName
        m.engineVersion = engineVersion
        m.inputShape = inputShape.map { UInt32($0) }
        if let inputPacking { m.inputPacking = PlanCoding.packing(inputPacking) }
        m.batch = UInt32(batch)
        m.inputLayout = inputLayout.description
        m.outputLayout = outputLayout.description
        m.outputChannelDimension = UInt32(outputChannelDimension)
        m.outputShape = outputShape.map { UInt32($0) }
        m.outputScale = outputScale
        m.outputShift = outputShift
        m.rotationSteps = rotationSteps.map { Int64($0) }
        m.classNames = classNames
        m.preprocessingMean = preprocessingMean
        m.preprocessingStd = preprocessingStd
        m.outputDecimals = UInt32(outputDecimals)
        m.circuitPrivacy = circuitPrivacy
        return IntegrityFrame.seal(try m.serializedBytes(), tag: .clientProfile)
    }

    /// Reads and validates a client profile.
    /// - Throws: `CompilerError.invalidFile` naming what is wrong.
    public static func read(_ bytes: [UInt8], source: String = "the client profile") throws -> ClientProfile {
        let m = try PlanCoding.framed(bytes, tag: .clientProfile, source: source,
                                      remake: "compile the model again with `he-tool compile` (it writes client.heprofile), or fetch the profile again",
                                      as: Hetool_Plan_V1_ClientProfile.self)
        guard m.magic == magic else {
            throw CompilerError.invalidFile("\(source) is not an he-tool client profile (magic '\(m.magic.prefix(20))'); `he-tool compile` writes one as client.heprofile")
        }
        guard m.formatVersion == formatVersion else {
            throw CompilerError.invalidFile("\(source) has format version \(m.formatVersion); this he-tool reads version \(formatVersion)")
        }
        try PlanCoding.rejectUnknown(m, source)
        let parameters = try PlanCoding.parameters(m.parameters, fingerprint: m.parametersFingerprint, source: source)
        let slots = parameters.slotCount
        guard m.planFingerprint.count == 32 else { throw CompilerError.invalidFile("\(source): the plan fingerprint is not 32 bytes") }
        let inputShape = try PlanCoding.shape(m.inputShape, "input shape", source)
        let outputShape = try PlanCoding.shape(m.outputShape, "output shape", source)
        let packing = try PlanCoding.packing(m.inputPacking, present: m.hasInputPacking, sampleShape: inputShape, source: source)
        let packedShape = packing?.packedShape ?? inputShape
        guard m.batch >= 1, m.batch <= slots, m.outputChannelDimension <= 1 else {
            throw CompilerError.invalidFile("\(source): batch \(m.batch) or output channel dimension \(m.outputChannelDimension) out of range")
        }
        let inputLayout = try PlanCoding.layout(m.inputLayout, slots: slots, "input layout", source)
        let outputLayout = try PlanCoding.layout(m.outputLayout, slots: slots, "output layout", source)
        let d = Int(m.outputChannelDimension)
        var expected = [1, 1, outputShape[1], outputShape[2], Int(m.batch)]
        expected[d] = outputShape[0]
        guard inputLayout.logicalShape == [packedShape[0], 1, packedShape[1], packedShape[2], Int(m.batch)],
              outputLayout.logicalShape == expected else {
            throw CompilerError.invalidFile("\(source): the layouts \(inputLayout) and \(outputLayout) do not hold the input \(inputShape) and output \(outputShape)")
        }
        let c = outputShape[0]
        let scale = try PlanCoding.values(m.outputScale, count: m.outputScale.isEmpty ? 0 : c, "the output scale", source)
        let shift = try PlanCoding.values(m.outputShift, count: m.outputShift.isEmpty ? 0 : c, "the output shift", source)
        guard m.classNames.isEmpty || m.classNames.count == outputShape.reduce(1, *) else {
            throw CompilerError.invalidFile("\(source): \(m.classNames.count) class names for \(outputShape.reduce(1, *)) outputs")
        }
        let channels = inputShape[0]
        guard [1, channels].contains(m.preprocessingMean.count), [1, channels].contains(m.preprocessingStd.count),
              m.preprocessingMean.allSatisfy(\.isFinite), m.preprocessingStd.allSatisfy({ $0.isFinite && $0 > 0 }),
              m.outputDecimals <= 12 else {
            throw CompilerError.invalidFile("\(source): invalid preprocessing (mean \(m.preprocessingMean), std \(m.preprocessingStd)) or output decimals \(m.outputDecimals)")
        }
        return ClientProfile(parameters: parameters, planFingerprint: Array(m.planFingerprint), modelName: m.modelName,
                             engineVersion: m.engineVersion, inputShape: inputShape, inputPacking: packing, batch: Int(m.batch), inputLayout: inputLayout,
                             outputLayout: outputLayout, outputChannelDimension: d, outputShape: outputShape,
                             outputScale: scale, outputShift: shift,
                             rotationSteps: try PlanCoding.rotations(m.rotationSteps, slots: slots, source),
                             classNames: m.classNames, preprocessingMean: m.preprocessingMean,
                             preprocessingStd: m.preprocessingStd, outputDecimals: Int(m.outputDecimals),
                             circuitPrivacy: m.circuitPrivacy)
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
