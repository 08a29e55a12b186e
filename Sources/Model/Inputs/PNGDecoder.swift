import CPNG
import Foundation

/// PNG files through libpng's simplified API: 1/2/4/8/16-bit grey, RGB, grey+alpha, RGBA and
/// palette images. Palette and sub-byte grey images expand to 8-bit samples; 16-bit files keep
/// their 16-bit values (libpng treats a 16-bit file without gAMA chunk as linear and passes its
/// values through; with alpha they come premultiplied). Errors are libpng's message, no crash.
public enum PNGDecoder {
    /// Largest width and height read: 4096 pixels each (the models he-tool runs take 28×28 to
    /// 224×224 inputs). Checked from the IHDR chunk before any pixel buffer exists, so a small
    /// file that declares 16384×16384 costs nothing.
    public static let maximumSide = 4096
    /// Largest number of samples decoded: maximumSide² RGBA.
    public static let maximumSamples = maximumSide * maximumSide * 4

    /// Decodes a whole PNG file held in memory; `name` appears in error messages.
    /// - Throws: `ModelError.invalidFile` with libpng's reason for a truncated or corrupted file.
    public static func decode(_ data: Data, name: String = "image") throws -> DecodedImage {
        try checkHeaderSize(data, name: name)
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }
        let begun = data.withUnsafeBytes { raw -> Int32 in
            guard let base = raw.baseAddress, raw.count > 0 else { return 0 }
            return png_image_begin_read_from_memory(&image, base, raw.count)
        }
        guard begun != 0 else { throw failure(name, &image, "cannot read the PNG header") }
        let fileFormat = image.format
        let sixteenBit = fileFormat & UInt32(PNG_FORMAT_FLAG_LINEAR) != 0
        let color = fileFormat & UInt32(PNG_FORMAT_FLAG_COLOR) != 0
        let alpha = fileFormat & UInt32(PNG_FORMAT_FLAG_ALPHA) != 0
        image.format = (color ? UInt32(PNG_FORMAT_FLAG_COLOR) : 0) | (alpha ? UInt32(PNG_FORMAT_FLAG_ALPHA) : 0)
            | (sixteenBit ? UInt32(PNG_FORMAT_FLAG_LINEAR) : 0)
        let channels = (color ? 3 : 1) + (alpha ? 1 : 0)
        let (width, height) = (Int(image.width), Int(image.height))
        try checkSize(width: width, height: height, name: name)
        let count = width * height * channels
        var samples = [UInt16](repeating: 0, count: count)
        let finished: Int32
        if sixteenBit {
            finished = samples.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
        } else {
            var bytes = [UInt8](repeating: 0, count: count)
            finished = bytes.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
            if finished != 0 { for i in 0..<count { samples[i] = UInt16(bytes[i]) } }
        }
        guard finished != 0 else { throw failure(name, &image, "cannot decode the PNG pixels") }
        return DecodedImage(width: width, height: height, channels: channels, hasAlpha: alpha,
                            maxValue: sixteenBit ? 65535 : 255, samples: samples)
    }

    /// The width and height of the IHDR chunk (bytes 16…23 of every PNG), checked before libpng
    /// reads further. A file too short to hold them is left to libpng's own error.
    static func checkHeaderSize(_ data: Data, name: String) throws {
        let b = [UInt8](data.prefix(24))
        guard b.count == 24, b[12...15].elementsEqual("IHDR".utf8) else { return }
        func word(_ o: Int) -> Int { Int(b[o]) << 24 | Int(b[o + 1]) << 16 | Int(b[o + 2]) << 8 | Int(b[o + 3]) }
        try checkSize(width: word(16), height: word(20), name: name)
    }

    private static func checkSize(width: Int, height: Int, name: String) throws {
        guard width > 0, height > 0, width <= maximumSide, height <= maximumSide else {
            throw ModelError.invalidFile("\(name): the PNG header declares \(width)×\(height) pixels; he-tool reads images of 1…\(maximumSide) pixels per side (resize the image, or the file is corrupted)")
        }
    }

    private static func failure(_ name: String, _ image: inout png_image, _ what: String) -> ModelError {
        let message = withUnsafeBytes(of: &image.message) { raw -> String in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
        return .invalidFile("\(name): \(what) (libpng: \(message.isEmpty ? "unknown error" : message)); the file is truncated, corrupted or not a PNG")
    }
}
