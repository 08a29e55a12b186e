import CKKS
import Foundation
import SwiftProtobuf
import TileTensors

/// Conversions between the plan types and their protobuf messages, with the validation every
/// reader applies (finite values, sizes that agree, layouts that fill the slots).
enum PlanCoding {
    /// Decodes the protobuf message inside a framed file of `tag`: the frame and its SHA-256
    /// are checked first, so a damaged file is named as such before any field is read.
    /// With `checksumAlongside`, the checksum is computed while the message is decoded
    /// (`IntegrityFrame.withPayloadDataCheckedAlongside`): for the large frames of encrypted tensors.
    static func framed<M: SwiftProtobuf.Message>(_ bytes: [UInt8], tag: IntegrityFrame.Tag, source: String,
                                                  remake: String, as type: M.Type, checksumAlongside: Bool = false) throws -> M {
        func decode(_ payload: Data) throws -> M {
            do { return try M(serializedBytes: payload) } catch {
                throw CompilerError.invalidFile("\(source) is not \(tag.noun) of this he-tool (\(error)); \(remake)")
            }
        }
        do {
            return checksumAlongside
                ? try IntegrityFrame.withPayloadDataCheckedAlongside(of: bytes, expecting: tag, legacyAdvice: remake, decode)
                : try IntegrityFrame.withPayloadData(of: bytes, expecting: tag, legacyAdvice: remake, decode)
        } catch let failure as IntegrityFrame.Failure {
            throw CompilerError.invalidFile("\(source): \(failure)")
        }
    }

    static func rejectUnknown<M: SwiftProtobuf.Message>(_ message: M, _ source: String) throws {
        guard message.unknownFields.data.isEmpty else {
            throw CompilerError.invalidFile("\(source) has fields this he-tool does not know (\(message.unknownFields.data.count) bytes): it was written by a newer version or is damaged")
        }
    }

    static func parameters(_ bytes: Data, fingerprint: Data, source: String) throws -> CKKSParameters {
        let parameters: CKKSParameters
        do { parameters = try CKKSFile.readParameters(Array(bytes)) } catch {
            throw CompilerError.invalidFile("\(source): its parameter set is invalid (\(error))")
        }
        guard Array(fingerprint) == parameters.fingerprint else {
            throw CompilerError.invalidFile("\(source): the parameter fingerprint does not match the parameters it holds")
        }
        return parameters
    }

    static func tiling(_ t: InterleavedTiling) -> Hetool_Plan_V1_Tiling {
        var m = Hetool_Plan_V1_Tiling()
        m.t0 = UInt32(t.t0); m.t1 = UInt32(t.t1); m.tx = UInt32(t.tX); m.ty = UInt32(t.tY); m.tb = UInt32(t.tB)
        return m
    }

    static func tiling(_ m: Hetool_Plan_V1_Tiling, slots: Int, source: String) throws -> InterleavedTiling {
        try rejectUnknown(m, source)
        let sizes = [m.t0, m.t1, m.tx, m.ty, m.tb].map(Int.init)
        // Each size ≤ slots ≤ 2^16 before the product: five of them cannot overflow 2^80 … but
        // they could overflow Int, so the product is checked too.
        var product = 1, overflow = false
        for size in sizes where !overflow { (product, overflow) = product.multipliedReportingOverflow(by: size) }
        guard sizes.allSatisfy({ $0 >= 1 && $0 <= slots }), !overflow, product == slots else {
            throw CompilerError.invalidFile("\(source): the tiling \(sizes) does not fill the \(slots) slots")
        }
        return InterleavedTiling(t0: sizes[0], t1: sizes[1], tX: sizes[2], tY: sizes[3], tB: sizes[4])
    }

    static func packing(_ p: SpaceToDepth) -> Hetool_Plan_V1_InputPacking {
        var m = Hetool_Plan_V1_InputPacking()
        m.stride = UInt32(p.stride); m.padding = UInt32(p.padding); m.rows = UInt32(p.rows); m.columns = UInt32(p.columns)
        return m
    }

    /// The packing of samples of `sampleShape`, when the message has one.
    static func packing(_ m: Hetool_Plan_V1_InputPacking, present: Bool, sampleShape: [Int], source: String) throws -> SpaceToDepth? {
        guard present else { return nil }
        try rejectUnknown(m, source)
        let p = SpaceToDepth(stride: Int(min(m.stride, 1 << 16)), padding: Int(min(m.padding, 1 << 16)), sampleShape: sampleShape,
                             rows: Int(min(m.rows, 1 << 16)), columns: Int(min(m.columns, 1 << 16)))
        guard p.isValid, p.packedShape.reduce(1, *) <= 1 << 24 else {
            throw CompilerError.invalidFile("\(source): the input packing (stride \(m.stride), padding \(m.padding), \(m.rows)×\(m.columns)) does not fit samples of \(sampleShape)")
        }
        return p
    }

    static func shape(_ values: [UInt32], _ what: String, _ source: String) throws -> [Int] {
        guard values.count == 3, values.allSatisfy({ $0 >= 1 && $0 <= 1 << 16 }) else {
            throw CompilerError.invalidFile("\(source): the \(what) \(values) is not [C, H, W] with positive sizes")
        }
        return values.map(Int.init)
    }

    static func rotations(_ steps: [Int64], slots: Int, _ source: String) throws -> [Int] {
        // No abs(): abs(Int64.min) traps.
        guard steps.allSatisfy({ $0 != 0 && $0 > -Int64(slots) && $0 < Int64(slots) }), Set(steps).count == steps.count else {
            throw CompilerError.invalidFile("\(source): the rotation steps must be distinct, nonzero and below the \(slots) slots")
        }
        return steps.map(Int.init)
    }

    static func values(_ v: [Double], count: Int, _ what: String, _ source: String) throws -> [Double] {
        guard v.count == count, v.allSatisfy(\.isFinite) else {
            throw CompilerError.invalidFile("\(source): \(what) has \(v.count) values (\(count) expected) or a value that is not finite")
        }
        return v
    }

    static func channelValues(_ v: [Double]) -> Hetool_Plan_V1_ChannelValues {
        var m = Hetool_Plan_V1_ChannelValues()
        m.values = v
        return m
    }
}
