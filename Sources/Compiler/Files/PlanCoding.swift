import CKKS
import Foundation
import SwiftProtobuf
import TileTensors

/// Conversions between the plan types and their protobuf messages, with the validation every
/// reader applies (finite values, sizes that agree, layouts that fill the slots).
enum PlanCoding {
    /// Decodes the protobuf message inside a framed file of `tag`: the frame and its SHA-256
    /// are checked first, so a damaged file is named as such before any field is read.
    static func framed<M: SwiftProtobuf.Message>(_ bytes: [UInt8], tag: IntegrityFrame.Tag, source: String,
                                                  remake: String, as type: M.Type) throws -> M {
        do {
            return try IntegrityFrame.withPayloadData(of: bytes, expecting: tag, legacyAdvice: remake) { payload in
                do { return try M(serializedBytes: payload) } catch {
                    throw CompilerError.invalidFile("\(source) is not \(tag.noun) of this he-tool (\(error)); \(remake)")
                }
            }
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

    static func layout(_ text: String, slots: Int, _ what: String, _ source: String) throws -> TileShape {
        guard let shape = try? TileShape(parsing: text), shape.slotsPerTile == slots, shape.rank == 5 else {
            throw CompilerError.invalidFile("\(source): the \(what) '\(text.prefix(80))' is not a tile shape of \(slots) slots")
        }
        return shape
    }

    static func rotations(_ steps: [Int64], slots: Int, _ source: String) throws -> [Int] {
        guard steps.allSatisfy({ $0 != 0 && abs($0) < Int64(slots) }), Set(steps).count == steps.count else {
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

    static func step(_ step: LoweredStep, tiling t: InterleavedTiling, estimate: Double, level: Int) -> Hetool_Plan_V1_Step {
        var m = Hetool_Plan_V1_Step()
        switch step.operation {
        case let .convolution(filters, shape, bias, stride, padding):
            var c = Hetool_Plan_V1_Convolution()
            c.shape = shape.map { UInt32($0) }
            c.filters = filters
            c.bias = bias
            c.stride = UInt32(stride)
            c.padding = UInt32(padding)
            m.convolution = c
        case .square: m.square = Hetool_Plan_V1_Square()
        case let .shiftedProduct(beta): m.shiftedProduct = channelValues(beta)
        case let .addChannelConstants(gamma): m.addChannelConstants = channelValues(gamma)
        case let .polynomial(rows):
            var p = Hetool_Plan_V1_Polynomial()
            p.rows = rows.map(channelValues)
            m.polynomial = p
        case let .windowSum(k, s):
            var w = Hetool_Plan_V1_WindowSum()
            w.window = UInt32(k)
            w.stride = UInt32(s)
            m.windowSum = w
        case let .scaleChannels(factors): m.scaleChannels = channelValues(factors)
        case .add: m.add = Hetool_Plan_V1_Add()
        case .concat: m.concat = Hetool_Plan_V1_Concat()
        }
        m.inputs = step.inputs.map { UInt32($0) }
        m.inputShape = step.inputShape.map { UInt32($0) }
        m.outputShape = step.outputShape.map { UInt32($0) }
        m.sources = step.sources
        m.estimatedMicroseconds = estimate
        m.inputLevel = UInt32(level)
        m.tiling = tiling(t)
        return m
    }

    /// Step `i` of a plan, checked on its own and against the values before it (`shapes[v]` is
    /// value v's [C, H, W]: the input's, then each earlier step's output).
    static func step(_ m: Hetool_Plan_V1_Step, index i: Int, shapes: [[Int]], source: String) throws -> LoweredStep {
        let where_ = "\(source), step \(i)"
        try rejectUnknown(m, where_)
        let input = try shape(m.inputShape, "input shape", where_), output = try shape(m.outputShape, "output shape", where_)
        let inputs = m.inputs.map(Int.init)
        guard !inputs.isEmpty, inputs.count <= 64, inputs.allSatisfy({ $0 <= i }) else {
            throw CompilerError.invalidFile("\(where_) reads values \(m.inputs.prefix(8)): a step reads 1 … 64 values computed before it (0 the input, k + 1 step k)")
        }
        guard shapes[inputs[0]] == input else {
            throw CompilerError.invalidFile("\(where_) says it reads \(input), but value \(inputs[0]) is \(shapes[inputs[0]])")
        }
        let c = input[0]
        let op: LoweredOperation
        switch m.operation {
        case .convolution(let conv)?:
            try rejectUnknown(conv, where_)
            let s = conv.shape.map(Int.init)
            guard s.count == 4, s.allSatisfy({ $0 >= 1 && $0 <= 1 << 14 }), s[1] == c, s[2] == s[3], conv.stride >= 1,
                  Int(conv.padding) < s[2] else {
                throw CompilerError.invalidFile("\(where_): the convolution \(s) (stride \(conv.stride), padding \(conv.padding)) does not read \(input)")
            }
            let k = s[2], st = Int(conv.stride), p = Int(conv.padding)
            guard output == [s[0], (input[1] + 2 * p - k) / st + 1, (input[2] + 2 * p - k) / st + 1], input[1] + 2 * p >= k else {
                throw CompilerError.invalidFile("\(where_): the convolution's output \(output) is not what \(s) makes of \(input)")
            }
            op = .convolution(filters: try values(conv.filters, count: s.reduce(1, *), "the filters", where_), shape: s,
                              bias: try values(conv.bias, count: s[0], "the bias", where_), stride: st, padding: p)
        case .square?:
            op = .square
        case .shiftedProduct(let v)?:
            try rejectUnknown(v, where_)
            op = .shiftedProduct(beta: try values(v.values, count: c, "β", where_))
        case .addChannelConstants(let v)?:
            try rejectUnknown(v, where_)
            op = .addChannelConstants(gamma: try values(v.values, count: c, "γ", where_))
        case .polynomial(let p)?:
            try rejectUnknown(p, where_)
            guard (2...16).contains(p.rows.count) else { throw CompilerError.invalidFile("\(where_): a polynomial of \(p.rows.count) coefficients (2 … 16)") }
            op = .polynomial(coefficients: try p.rows.map { row in
                try values(row.values, count: row.values.count == 1 ? 1 : c, "a coefficient row", where_)
            })
        case .windowSum(let w)?:
            try rejectUnknown(w, where_)
            let k = Int(w.window), st = Int(w.stride)
            guard k >= 1, st >= 1, k <= input[1], output == [c, (input[1] - k) / st + 1, (input[2] - k) / st + 1] else {
                throw CompilerError.invalidFile("\(where_): a window sum \(k)/\(st) of \(input) into \(output)")
            }
            op = .windowSum(window: k, stride: st)
        case .scaleChannels(let v)?:
            try rejectUnknown(v, where_)
            op = .scaleChannels(factors: try values(v.values, count: c, "the channel factors", where_))
        case .add(let a)?:
            try rejectUnknown(a, where_)
            guard inputs.count == 2, shapes[inputs[1]] == input, output == input else {
                throw CompilerError.invalidFile("\(where_): an addition reads two values of one shape and writes that shape (reads \(inputs.map { shapes[$0] }), writes \(output))")
            }
            op = .add
        case .concat(let a)?:
            try rejectUnknown(a, where_)
            let parts = inputs.map { shapes[$0] }
            guard parts.count >= 2, parts.allSatisfy({ $0.dropFirst() == input.dropFirst() }),
                  output == [parts.reduce(0) { $0 + $1[0] }] + Array(input.dropFirst()) else {
                throw CompilerError.invalidFile("\(where_): a concatenation of \(parts) into \(output) (two or more values of one image size, channels adding up)")
            }
            op = .concat
        case nil:
            throw CompilerError.invalidFile("\(where_) has no operation")
        }
        if op != .add, op != .concat, inputs.count != 1 {
            throw CompilerError.invalidFile("\(where_): a \(op.kind) step reads one value, not \(inputs.count)")
        }
        switch op {
        case .convolution, .windowSum, .concat: break
        default:
            guard output == input else { throw CompilerError.invalidFile("\(where_): an elementwise step changes the shape") }
        }
        return LoweredStep(operation: op, inputShape: input, outputShape: output, sources: m.sources, inputs: inputs)
    }
}
