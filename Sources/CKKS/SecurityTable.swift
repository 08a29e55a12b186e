/// The largest log2(QP) that gives 128-bit security for each ring degree N, with a uniform
/// ternary secret and error σ = 3.2.
///
/// Source: Albrecht et al., "Homomorphic Encryption Security Standard" (HomomorphicEncryption.org,
/// November 2018), Table 1, 128-bit classical row, N = 1024 … 32768. N = 65536 and 131072 extend it
/// as OpenFHE does (its `StdLatticeParm` table for HEStd_128_classic, ternary secret); N = 131072
/// is accepted only when the caller asks for the extended table explicitly.
public enum SecurityTable {
    /// The Standard's values (N → maximum log2(QP) bits).
    public static let standard128: [Int: Int] = [
        1024: 27, 2048: 54, 4096: 109, 8192: 218, 16384: 438, 32768: 881,
        65536: 1747,
    ]
    /// OpenFHE's extension beyond the Standard.
    public static let extended128: [Int: Int] = [131072: 3523]

    /// The 128-bit limit for degree N, or nil when the table has no row for it.
    public static func maximumLog2QP(degree: Int, allowExtended: Bool) -> Int? {
        standard128[degree] ?? (allowExtended ? extended128[degree] : nil)
    }
}
