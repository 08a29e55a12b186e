import Foundation
import FuzzSupport

/// The signature libFuzzer calls: one input, return 0.
public typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

/// The bytes of one input, copied (the readers take `[UInt8]` or `Data`).
public func inputBytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}

/// The program's entry point for every fuzz target.
///
/// - With `HE_FUZZ_WRITE_SEEDS=DIR` in the environment: writes the target's seed files
///   (`seeds()`, name → bytes) into DIR and exits (`make fuzz-seeds`).
/// - Otherwise: `setUp()` once, then libFuzzer's driver with the command line's options and
///   corpus folders (SwiftPM names an executable's entry point `<module>_main`, so the program
///   has its own main and starts libFuzzer with `LLVMFuzzerRunDriver`).
public func runFuzzer(_ callback: FuzzCallback, setUp: () throws -> Void = {},
                      seeds: () throws -> [(name: String, bytes: [UInt8])]) -> Never {
    if let dir = ProcessInfo.processInfo.environment["HE_FUZZ_WRITE_SEEDS"], !dir.isEmpty {
        do {
            let url = URL(fileURLWithPath: dir, isDirectory: true)
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            var total = 0
            for seed in try seeds() {
                try Data(seed.bytes).write(to: url.appendingPathComponent(seed.name))
                total += seed.bytes.count
            }
            print("seeds: \(dir): \(total) bytes")
            exit(0)
        } catch {
            FileHandle.standardError.write(Data("seeds: \(error)\n".utf8))
            exit(1)
        }
    }
    do { try setUp() } catch {
        FileHandle.standardError.write(Data("fuzz target set-up failed: \(error)\n".utf8))
        exit(1)
    }
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, callback))
}

/// Reads a file of the source tree (seeds from the repository's fixtures); `HE_FUZZ_ROOT` is the
/// repository root (scripts/fuzz.sh sets it), else the current directory's parent.
public func repositoryFile(_ relative: String) throws -> [UInt8] {
    let root = ProcessInfo.processInfo.environment["HE_FUZZ_ROOT"] ?? FileManager.default.currentDirectoryPath + "/.."
    return Array(try Data(contentsOf: URL(fileURLWithPath: root).appendingPathComponent(relative)))
}

/// The files of a repository folder whose names end with `suffix`, as seeds (sorted by name).
public func repositoryFiles(_ folder: String, suffix: String, maxBytes: Int = 100_000) throws -> [(name: String, bytes: [UInt8])] {
    let root = ProcessInfo.processInfo.environment["HE_FUZZ_ROOT"] ?? FileManager.default.currentDirectoryPath + "/.."
    let dir = URL(fileURLWithPath: root).appendingPathComponent(folder)
    return try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(suffix) }.sorted().compactMap { name in
        let bytes = Array(try Data(contentsOf: dir.appendingPathComponent(name)))
        return bytes.count <= maxBytes ? (name, bytes) : nil
    }
}
