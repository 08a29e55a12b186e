// swift-tools-version:6.0
// he-tool: a pure-Swift homomorphic-encryption inference engine.
// Targets follow DESIGN.md §2; arrows point down only (CGMP ← HEMath ← … ← HETool).
import PackageDescription

/// Release builds of our own targets: no exclusivity checks in kernels (they work on
/// unsafe buffers they own), and cross-module optimisation so generic kernels specialise.
let fastSettings: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked", "-cross-module-optimization"],
                 .when(configuration: .release)),
]

let package = Package(
    name: "he-tool",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "he-tool", targets: ["HETool"]),
        .library(name: "HEMath", targets: ["HEMath"]),
        .library(name: "CKKS", targets: ["CKKS"]),
        .library(name: "TileTensors", targets: ["TileTensors"]),
        .library(name: "Model", targets: ["Model"]),
        .library(name: "Compiler", targets: ["Compiler"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CGMP",
            pkgConfig: "gmp",
            providers: [.apt(["libgmp-dev"])]
        ),
        .target(name: "CSupport"),
        .target(
            name: "HEMath",
            dependencies: ["CGMP"],
            swiftSettings: fastSettings
        ),
        .target(
            name: "CKKS",
            dependencies: [
                "HEMath",
                "CSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: fastSettings
        ),
        .target(
            name: "TileTensors",
            dependencies: ["CKKS", "HEMath"],
            swiftSettings: fastSettings
        ),
        // Model layer (DESIGN.md §7): ONNX import, network IR, plaintext executor, range audit,
        // image and tensor inputs. Pure Swift + SwiftProtobuf; libpng and zlib read inputs.
        .systemLibrary(
            name: "CPNG",
            pkgConfig: "libpng",
            providers: [.apt(["libpng-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .target(
            name: "Model",
            dependencies: [
                "CPNG",
                "CZlib",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: fastSettings
        ),
        .target(
            name: "Compiler",
            dependencies: [
                "CKKS",
                "TileTensors",
                "Model",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: fastSettings
        ),
        .executableTarget(
            name: "HETool",
            dependencies: [
                "HEMath",
                "CKKS",
                "TileTensors",
                "Model",
                "Compiler",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: fastSettings
        ),
        .testTarget(
            name: "HEMathTests",
            dependencies: ["HEMath", "CGMP"],
            swiftSettings: fastSettings
        ),
        .testTarget(
            name: "CKKSTests",
            dependencies: ["CKKS", "HEMath"],
            swiftSettings: fastSettings
        ),
        .testTarget(
            name: "TileTensorsTests",
            dependencies: ["TileTensors", "CKKS"],
            swiftSettings: fastSettings
        ),
        .testTarget(
            name: "ModelTests",
            dependencies: ["Model", "CPNG"],
            exclude: ["Fixtures"],
            swiftSettings: fastSettings
        ),
        .testTarget(
            name: "CompilerTests",
            dependencies: ["Compiler", "CKKS", "TileTensors", "Model", "HEMath"],
            swiftSettings: fastSettings
        ),
    ],
    swiftLanguageModes: [.v5]
)
