// swift-tools-version:6.0
// he-tool: a pure-Swift homomorphic-encryption inference engine.
// Targets follow DESIGN.md §2; arrows point down only (CGMP ← HEMath ← … ← HETool).
import PackageDescription

/// Release builds of our own targets: no exclusivity checks in kernels (they work on
/// unsafe buffers they own), cross-module optimisation so generic kernels specialise, and code
/// for the CPU that builds it (as `-march=native`): on x86-64 the default target has neither
/// BMI2's `mulx` nor AVX-512, and the NTT's butterflies run at less than half their speed.
/// HE_TOOL_PORTABLE=1 in the environment builds for the baseline CPU (a binary to copy elsewhere).
let fastSettings: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked", "-cross-module-optimization"] + hostCPUFlags,
                 .when(configuration: .release)),
]

/// `-target-cpu native` unless HE_TOOL_PORTABLE is set (x86-64 only; elsewhere the default),
/// with HE_TOOL_NATIVE_CPU defined so that calibration caches of the two builds stay apart.
var hostCPUFlags: [String] {
    #if arch(x86_64)
    if let portable = Context.environment["HE_TOOL_PORTABLE"], !portable.isEmpty, portable != "0" { return [] }
    return ["-target-cpu", "native", "-D", "HE_TOOL_NATIVE_CPU"]
    #else
    return []
    #endif
}

let package = Package(
    name: "he-tool",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "he-tool", targets: ["HETool"]),
        .library(name: "HEMath", targets: ["HEMath"]),
        .library(name: "CKKS", targets: ["CKKS"]),
        .library(name: "TileTensors", targets: ["TileTensors"]),
        .library(name: "Model", targets: ["Model"]),
        .library(name: "Compiler", targets: ["Compiler"]),
        .library(name: "Serve", targets: ["Serve"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        // Remote evaluation (target Serve, DESIGN.md §8): server, client, logs, metrics.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.34.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CGMP",
            pkgConfig: "gmp",
            providers: [.apt(["libgmp-dev"])]
        ),
        .target(name: "CSupport"),
        // Reading a whole regular file safely (no FIFO, device or directory; bounded): shared
        // by CKKS and Model, which import no other layer of each other.
        .target(name: "RegularFiles"),
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
                "RegularFiles",
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
                "RegularFiles",
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
                "RegularFiles",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: fastSettings
        ),
        // Remote evaluation over HTTP (DESIGN.md §8): the Hummingbird server (routes, key cache,
        // limits, metrics) and the async-http-client client. Moves files and calls the
        // Compiler's execution; no cryptography of its own.
        .target(
            name: "Serve",
            dependencies: [
                "CKKS",
                "Compiler",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "HETool",
            dependencies: [
                "HEMath",
                "CKKS",
                "TileTensors",
                "Model",
                "Compiler",
                "Serve",
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
        .testTarget(
            name: "ServeTests",
            dependencies: [
                "Serve", "Compiler", "CKKS", "TileTensors", "Model", "HEMath",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: fastSettings
        ),
    ],
    swiftLanguageModes: [.v5]
)
