import Foundation
@testable import Model

/// Small ONNX models written in the tests with the generated protobuf types, for the error paths
/// torch does not produce.
enum ONNXBuilder {
    static func node(_ op: String, _ inputs: [String], _ outputs: [String], name: String, attributes: [Onnx_AttributeProto] = []) -> Onnx_NodeProto {
        var n = Onnx_NodeProto()
        n.opType = op; n.input = inputs; n.output = outputs; n.name = name; n.attribute = attributes
        return n
    }

    static func floats(_ name: String, _ dims: [Int64], _ values: [Float]) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        t.name = name; t.dims = dims; t.dataType = 1; t.floatData = values
        return t
    }

    static func raw(_ name: String, _ dims: [Int64], type: Int32, bytes: [UInt8]) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        t.name = name; t.dims = dims; t.dataType = type; t.rawData = Data(bytes)
        return t
    }

    static func intAttribute(_ name: String, _ v: Int64) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name; a.i = v; a.type = .int
        return a
    }

    static func valueInfo(_ name: String, _ dims: [Int64?]) -> Onnx_ValueInfoProto {
        var v = Onnx_ValueInfoProto()
        v.name = name
        var t = Onnx_TypeProto.Tensor()
        t.elemType = 1
        var shape = Onnx_TensorShapeProto()
        shape.dim = dims.map { d in
            var dim = Onnx_TensorShapeProto.Dimension()
            if let d { dim.dimValue = d } else { dim.dimParam = "N" }
            return dim
        }
        t.shape = shape
        v.type.tensorType = t
        return v
    }

    static func model(nodes: [Onnx_NodeProto], initializers: [Onnx_TensorProto] = [], inputs: [Onnx_ValueInfoProto],
                      output: String, opset: Int64 = 13) throws -> Data {
        var g = Onnx_GraphProto()
        g.node = nodes; g.initializer = initializers; g.input = inputs
        g.output = [valueInfo(output, [nil])]
        var m = Onnx_ModelProto()
        m.irVersion = 8
        var o = Onnx_OperatorSetIdProto()
        o.version = opset
        m.opsetImport = [o]
        m.graph = g
        return try m.serializedData()
    }

    /// x (N×4) → Gemm with weight w (3×4, transB) and bias b → output y.
    static func dense(weight: Onnx_TensorProto?, opset: Int64 = 13, extraNodes: [Onnx_NodeProto] = [], output: String = "y") throws -> Data {
        let bias = floats("b", [3], [0.5, -1, 2])
        let gemm = node("Gemm", ["x", "w", "b"], ["y"], name: "fc", attributes: [intAttribute("transB", 1)])
        return try model(nodes: [gemm] + extraNodes, initializers: (weight.map { [$0] } ?? []) + [bias],
                         inputs: [valueInfo("x", [nil, 4])], output: output, opset: opset)
    }
}
