/// The engine's version: shown by `he-tool --version`, written into calibration caches (a new
/// version recalibrates) and compiled files. Raised when the kernels' speeds change enough that
/// a cached calibration would misprice plans: 0.2.0 for the key switches, rescales, NTTs and
/// lazy sums of 2026-12 (squares ran 33–38% under estimates priced by 0.1.0's caches); 0.3.0
/// when release builds began to target the building CPU (NTTs 1.5–1.8× faster, key switches 1.3×).
public enum EngineVersion {
    public static let string = "0.3.0"

    /// The code the kernels were generated for: "native" (the building machine's CPU, the default
    /// release build) or "portable" (HE_TOOL_PORTABLE=1, or a debug build).
    public static var codeGeneration: String {
        #if HE_TOOL_NATIVE_CPU
        "native"
        #else
        "portable"
        #endif
    }

    /// What a calibration cache is keyed by: the version and the code generation, since the same
    /// version built both ways runs its kernels at different speeds.
    public static var calibrationKey: String { "\(string)-\(codeGeneration)" }
}
