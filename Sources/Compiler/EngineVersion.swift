/// The engine's version: shown by `he-tool --version`, written into calibration caches (a new
/// version recalibrates) and compiled files. Raised when the kernels' speeds change enough that
/// a cached calibration would misprice plans: 0.2.0 for the key switches, rescales, NTTs and
/// lazy sums of 2026-12 (squares ran 33–38% under estimates priced by 0.1.0's caches).
public enum EngineVersion {
    public static let string = "0.2.0"
}
