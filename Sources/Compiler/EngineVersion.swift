/// The engine's version: shown by `he-tool --version`, written into calibration caches (a new
/// version recalibrates) and compiled files.
public enum EngineVersion {
    public static let string = "0.1.0"
}
