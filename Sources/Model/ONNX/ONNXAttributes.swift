/// Typed access to a node's attributes, with errors that name the node.
struct ONNXNodeContext {
    let node: Onnx_NodeProto
    let position: Int
    let opset: Int

    var name: String { node.name.isEmpty ? "\(node.opType)#\(position)" : node.name }

    func attribute(_ key: String) -> Onnx_AttributeProto? {
        node.attribute.first { $0.name == key }
    }

    func int(_ key: String, default value: Int) throws -> Int {
        guard let a = attribute(key) else { return value }
        guard a.i >= Int64(Int32.min), a.i <= Int64(Int32.max) else { throw invalid("attribute \(key) = \(a.i) is out of range") }
        return Int(a.i)
    }

    func ints(_ key: String) throws -> [Int]? {
        guard let a = attribute(key) else { return nil }
        return try a.ints.map { v in
            guard v >= Int64(Int32.min), v <= Int64(Int32.max) else { throw invalid("attribute \(key) holds \(v), out of range") }
            return Int(v)
        }
    }

    func float(_ key: String, default value: Double) -> Double {
        guard let a = attribute(key) else { return value }
        return Double(a.f)
    }

    func string(_ key: String, default value: String) -> String {
        guard let a = attribute(key) else { return value }
        return String(decoding: a.s, as: UTF8.self)
    }

    /// An error about this node that is not a missing operator: bad attribute, bad shape, …
    func unsupported(_ what: String) -> ModelError {
        .unsupportedFeature(node: name, position: position, what: what)
    }

    func invalid(_ what: String) -> ModelError {
        .invalidFile("node \(position) ('\(name)', \(node.opType)): \(what)")
    }
}
