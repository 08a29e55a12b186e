/// Errors of the compiler layer, each saying what is wrong and what to do.
public enum CompilerError: Error, Equatable, CustomStringConvertible {
    case notCalibrated(String)
    case invalidCalibration(String)
    case fileSystem(String)
    /// The network uses something the encrypted kernels cannot run (names the layer).
    case unsupported(String)
    /// No layout or parameter set satisfies the request (says what to change).
    case infeasible(String)
    /// A compiled model, profile or encrypted tensor file is damaged or malformed.
    case invalidFile(String)
    /// Two files that must belong together do not (names both).
    case mismatch(String)

    public var description: String {
        switch self {
        case .notCalibrated(let m): return "not calibrated: \(m)"
        case .invalidCalibration(let m): return "invalid calibration: \(m)"
        case .fileSystem(let m): return m
        case .unsupported(let m): return "unsupported: \(m)"
        case .infeasible(let m): return "cannot compile: \(m)"
        case .invalidFile(let m): return "invalid file: \(m)"
        case .mismatch(let m): return "files do not belong together: \(m)"
        }
    }
}
