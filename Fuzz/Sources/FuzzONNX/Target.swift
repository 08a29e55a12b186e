// Fuzz target: the ONNX importer (ONNXImporter.load on bytes: protobuf decoding, graph
// building, constant folding, fusion) and its refusal report, as `inspect`, `predict` and
// `compile` call them.
import Foundation
import FuzzCommon
import Model

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Data(inputBytes(data, size))
    if let graph = try? ONNXImporter.load(data: bytes, fileName: "fuzz.onnx") {
        _ = graph.inputShape
    }
    _ = try? ONNXImporter.refusals(data: bytes, fileName: "fuzz.onnx")
    return 0
}

@main enum Main {
    static func main() {
        runFuzzer(fuzzOne, seeds: {
            try repositoryFiles("Tests/ModelTests/Fixtures/onnx", suffix: ".onnx", maxBytes: 30_000)
        })
    }
}
