/// Errors of the compiler layer, each saying what is wrong and what to do.
public enum CompilerError: Error, Equatable, CustomStringConvertible {
    case notCalibrated(String)
    case invalidCalibration(String)
    case fileSystem(String)

    public var description: String {
        switch self {
        case .notCalibrated(let m): return "not calibrated: \(m)"
        case .invalidCalibration(let m): return "invalid calibration: \(m)"
        case .fileSystem(let m): return m
        }
    }
}
