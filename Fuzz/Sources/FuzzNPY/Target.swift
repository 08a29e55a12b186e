// Fuzz target: the NumPy .npy reader (NPYFile.decode: header dictionary, dtype, shape, data)
// and the loader that makes model inputs of it (InputLoader.load).
import Foundation
import FuzzCommon
import Model

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Data(inputBytes(data, size))
    _ = try? NPYFile.decode(bytes, name: "fuzz.npy")
    _ = try? InputLoader.load(data: bytes, name: "fuzz.npy", sampleShape: [1, 2, 3], preprocessing: .unitRange, limit: 4)
    return 0
}

@main enum Main {
    static func main() {
        runFuzzer(fuzzOne, seeds: {
            try repositoryFiles("Tests/ModelTests/Fixtures/npy", suffix: ".npy", maxBytes: 20_000)
        })
    }
}
