/// An image as decoded from a file: height × width × channels samples (row-major, channels
/// interleaved), each in 0…maxValue. Grey images have 1 channel, RGB 3; a trailing alpha channel
/// (`hasAlpha`) is kept here and dropped by preprocessing.
public struct DecodedImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    /// Channels per pixel including alpha: 1 (grey), 2 (grey + alpha), 3 (RGB), 4 (RGBA).
    public var channels: Int
    public var hasAlpha: Bool
    /// 255 for 8-bit files (palette and lower bit depths are expanded to 8 bits), 65535 for 16-bit.
    public var maxValue: Int
    public var samples: [UInt16]

    public init(width: Int, height: Int, channels: Int, hasAlpha: Bool, maxValue: Int, samples: [UInt16]) {
        self.width = width; self.height = height; self.channels = channels
        self.hasAlpha = hasAlpha; self.maxValue = maxValue; self.samples = samples
    }

    /// Colour channels, alpha excluded.
    public var colorChannels: Int { hasAlpha ? channels - 1 : channels }

    /// The sample at row y, column x, channel c.
    public func sample(x: Int, y: Int, channel c: Int) -> UInt16 { samples[(y * width + x) * channels + c] }
}
