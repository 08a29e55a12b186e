import CKKS
import Compiler
import Foundation
import Glibc

/// Refuses outputs that would destroy something: a command's output path that is one of its
/// inputs, two outputs that are the same file, or an existing secret key. Checked before any
/// work, so a mistyped path costs nothing.
enum OutputGuard {
    /// - Parameters:
    ///   - outputs: (option name, path) of each file the command will write.
    ///   - inputs: (option name, path) of each file the command reads.
    /// - Throws: `CompilerError.fileSystem` naming both options and the path.
    static func check(outputs: [(String, String)], inputs: [(String, String)]) throws {
        for (i, (flag, path)) in outputs.enumerated() {
            for (inputFlag, input) in inputs where same(path, input) {
                throw CompilerError.fileSystem("\(flag) \(path) is the same file as \(inputFlag) \(input): writing it would destroy the input; choose another output path")
            }
            for (otherFlag, other) in outputs[..<i] where same(path, other) {
                throw CompilerError.fileSystem("\(otherFlag) and \(flag) name the same file (\(path)): each output needs its own path")
            }
            if holdsSecretKey(path) {
                throw CompilerError.fileSystem("\(path) (\(flag)) holds a secret key; he-tool never writes over one (it would be lost for good): choose another path, or remove the old key yourself if you mean to")
            }
        }
    }

    /// True when both paths name one file: the same inode when both exist, else the same
    /// absolute path with symbolic links resolved.
    static func same(_ a: String, _ b: String) -> Bool {
        var sa = stat(), sb = stat()
        if stat(a, &sa) == 0, stat(b, &sb) == 0 {
            return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
        }
        return canonical(a) == canonical(b)
    }

    private static func canonical(_ path: String) -> String {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        // Resolve the directory (which exists) and keep the name (which may not).
        let directory = url.deletingLastPathComponent().resolvingSymlinksInPath()
        return directory.appendingPathComponent(url.lastPathComponent).path
    }

    /// True when `path` is a regular file whose integrity frame says it holds a secret key.
    static func holdsSecretKey(_ path: String) -> Bool {
        var status = stat()
        guard stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { return false }
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return false }
        defer { _ = Glibc.close(fd) }
        var head = [UInt8](repeating: 0, count: IntegrityFrame.headerSize)
        let count = head.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
        guard count == IntegrityFrame.headerSize else { return false }
        return IntegrityFrame.tag(of: head) == .secretKey
    }
}
