import Foundation

/// Turns an ONNX `TensorProto` (initializer or Constant value) into a `Tensor`: raw little-endian
/// bytes or the typed repeated fields; float32, float64, float16 and the integer types (for
/// shapes and axes). Every count is checked against the dims, so a corrupted file is an error.
enum ONNXTensorDecoder {
    static func decode(_ proto: Onnx_TensorProto, context: String) throws -> Tensor {
        // "tensor 'w'" in the format messages below; "initializer 'w'" or "the value of Constant 'c'" for the values.
        let name = proto.name.isEmpty ? "(\(context))" : "'\(proto.name)'"
        let label = proto.name.isEmpty ? context : context == "initializer" ? "initializer '\(proto.name)'" : "tensor '\(proto.name)' (\(context))"
        if proto.dataLocation == .external || !proto.externalData.isEmpty {
            throw ModelError.invalidFile("tensor \(name) keeps its data in an external file, which he-tool does not read; export the model with the weights inside the .onnx file (torch.onnx.export does so below 2 GB)")
        }
        if proto.hasSegment {
            throw ModelError.invalidFile("tensor \(name) is split into segments, which he-tool does not read")
        }
        let shape = try ONNXLimits.checkedShape(proto.dims, "tensor \(name)")
        let count = Tensor.count(of: shape)
        guard let type = Onnx_TensorProto.DataType(rawValue: Int(proto.dataType)) else {
            throw ModelError.invalidFile("tensor \(name) has unknown data type \(proto.dataType)")
        }
        let values: [Double]
        if !proto.rawData.isEmpty || typedCount(proto, type) == 0 && count > 0 {
            values = try decodeRaw(proto.rawData, type: type, count: count, name: name)
        } else {
            values = try decodeTyped(proto, type: type, name: name)
        }
        guard values.count == count else {
            throw ModelError.invalidFile("tensor \(name) of shape \(shape) should hold \(count) values but holds \(values.count); the file is corrupted or truncated")
        }
        if let i = values.firstIndex(where: { !$0.isFinite }) {
            throw ModelError.invalidFile("\(label) holds \(values[i]) at element \(i) of \(count) (shape \(formatShape(shape))); he-tool refuses weights and constants that are not finite numbers: the training diverged or the file is corrupted")
        }
        return Tensor(shape: shape, values: values)
    }

    private static func typedCount(_ p: Onnx_TensorProto, _ type: Onnx_TensorProto.DataType) -> Int {
        switch type {
        case .float: return p.floatData.count
        case .double: return p.doubleData.count
        case .int64: return p.int64Data.count
        case .uint32, .uint64: return p.uint64Data.count
        default: return p.int32Data.count
        }
    }

    private static func decodeTyped(_ p: Onnx_TensorProto, type: Onnx_TensorProto.DataType, name: String) throws -> [Double] {
        switch type {
        case .float: return p.floatData.map(Double.init)
        case .double: return p.doubleData
        case .int64: return p.int64Data.map(Double.init)
        case .uint32, .uint64: return p.uint64Data.map(Double.init)
        case .int32, .int16, .int8, .uint8, .uint16, .bool: return p.int32Data.map(Double.init)
        case .float16: return p.int32Data.map { Double(halfToFloat(UInt16(truncatingIfNeeded: $0))) }
        default: throw unsupportedType(type, name)
        }
    }

    private static func decodeRaw(_ data: Data, type: Onnx_TensorProto.DataType, count: Int, name: String) throws -> [Double] {
        let width: Int
        switch type {
        case .float, .int32, .uint32: width = 4
        case .double, .int64, .uint64: width = 8
        case .float16, .int16, .uint16: width = 2
        case .int8, .uint8, .bool: width = 1
        default: throw unsupportedType(type, name)
        }
        guard data.count == count * width else {
            throw ModelError.invalidFile("tensor \(name) should have \(count * width) bytes of raw data (\(count) values of \(width) bytes) but has \(data.count); the file is corrupted or truncated")
        }
        let bytes = [UInt8](data)
        func word(_ i: Int) -> UInt64 {
            var v: UInt64 = 0
            for b in 0..<width { v |= UInt64(bytes[i * width + b]) << (8 * UInt64(b)) }
            return v
        }
        return (0..<count).map { i -> Double in
            let w = word(i)
            switch type {
            case .float: return Double(Float(bitPattern: UInt32(w)))
            case .double: return Double(bitPattern: w)
            case .float16: return Double(halfToFloat(UInt16(w)))
            case .int64: return Double(Int64(bitPattern: w))
            case .int32: return Double(Int32(bitPattern: UInt32(w)))
            case .int16: return Double(Int16(bitPattern: UInt16(w)))
            case .int8: return Double(Int8(bitPattern: UInt8(w)))
            default: return Double(w)
            }
        }
    }

    private static func unsupportedType(_ type: Onnx_TensorProto.DataType, _ name: String) -> ModelError {
        .invalidFile("tensor \(name) has data type \(type), which he-tool does not read (float32, float64, float16 and integers are supported); export the model in float32")
    }

    /// IEEE 754 binary16 to Float, done by hand so it works on every platform.
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign: UInt32 = UInt32(h >> 15) << 31
        let exponent = Int((h >> 10) & 0x1f)
        let mantissa = UInt32(h & 0x3ff)
        if exponent == 0 {
            let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign == 0 ? magnitude : -magnitude
        }
        if exponent == 31 {
            return Float(bitPattern: sign | 0x7f80_0000 | (mantissa << 13))
        }
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
    }
}
