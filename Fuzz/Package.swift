// swift-tools-version:6.0
// he-tool's coverage-guided fuzz targets (libFuzzer + AddressSanitizer): one executable per
// reader. A package of its own so that `swift build` / `make test` of the root package and CI
// never build it. Build and run with `make fuzz` (scripts/fuzz.sh), which passes
//   -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
// to every Swift module (the root package's included, so that its code is instrumented).
import PackageDescription

/// Target name → the executable `scripts/fuzz.sh` runs (and the folder of its seeds in Corpus/).
let targets: [(module: String, product: String, serve: Bool)] = [
    ("FuzzSecretKey", "secret-key", false),
    ("FuzzEvalKeys", "eval-keys", false),
    ("FuzzCiphertext", "ciphertext", false),
    ("FuzzTensor", "tensor", false),
    ("FuzzModel", "model", false),
    ("FuzzProfile", "profile", false),
    ("FuzzFrame", "frame", false),
    ("FuzzONNX", "onnx", false),
    ("FuzzPNG", "png", false),
    ("FuzzIDX", "idx", false),
    ("FuzzNPY", "npy", false),
    ("FuzzServe", "serve", true),
]

let package = Package(
    name: "he-tool-fuzz",
    platforms: [.macOS(.v14)],
    products: targets.map { .executable(name: $0.product, targets: [$0.module]) },
    dependencies: [
        .package(name: "he-tool", path: ".."),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // LLVMFuzzerRunDriver's declaration (libFuzzer's entry point when the program has its own main).
        .target(name: "FuzzSupport"),
        // The driver, the small insecure CKKS parameters every CKKS target and its seeds use, seed writing.
        .target(
            name: "FuzzCommon",
            dependencies: [
                "FuzzSupport",
                .product(name: "CKKS", package: "he-tool"),
                .product(name: "HEMath", package: "he-tool"),
                .product(name: "TileTensors", package: "he-tool"),
                .product(name: "Model", package: "he-tool"),
                .product(name: "Compiler", package: "he-tool"),
            ]
        ),
    ] + targets.map { t in
        .executableTarget(
            name: t.module,
            dependencies: ["FuzzCommon"] + (t.serve ? [.product(name: "Serve", package: "he-tool"),
                                                          .product(name: "Logging", package: "swift-log")] : [])
        )
    },
    swiftLanguageModes: [.v5]
)
