/// 32 bytes from which a uniform polynomial is expanded (placeholder until the sampling
/// branch lands with the CSPRNG constructor and validation).
public struct Seed: Sendable, Hashable {
    public let bytes: [UInt8]
}
