// Fuzz target: the PNG reader (PNGDecoder.decode on bytes, over libpng) and the preprocessing
// that makes a model input of the image (InputLoader.load, as `encrypt` and `predict` do).
import Foundation
import FuzzCommon
import Model

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Data(inputBytes(data, size))
    _ = try? PNGDecoder.decode(bytes, name: "fuzz.png")
    // The loader dispatches on content; IDX and .npy have targets of their own.
    guard (try? InputLoader.format(of: bytes, name: "fuzz.png")) == .png else { return 0 }
    _ = try? InputLoader.load(data: bytes, name: "fuzz.png", sampleShape: [1, 28, 28], preprocessing: .unitRange)
    _ = try? InputLoader.load(data: bytes, name: "fuzz.png", sampleShape: [3, 4, 4],
                              preprocessing: Preprocessing(mean: [0.5, 0.4, 0.3], std: [0.2, 0.3, 0.4]))
    return 0
}

@main enum Main {
    static func main() {
        runFuzzer(fuzzOne, seeds: {
            var seeds = try repositoryFiles("Tests/ModelTests/Fixtures/png", suffix: ".png")
            for png in try repositoryFiles("Examples/mnist", suffix: ".png").prefix(2) { seeds.append((name: "mnist-" + png.name, bytes: png.bytes)) }
            return seeds
        })
    }
}
