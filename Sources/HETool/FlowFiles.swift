import Compiler
import Foundation

/// The commands' output helpers (the files themselves are read and written by `FlowFile` and
/// the sessions).
enum FlowFiles {
    static func log(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }

    static func megabytes(_ n: Int) -> String { String(format: "%.2f MB", Double(n) / 1_000_000) }
}
