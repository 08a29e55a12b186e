import CPNG
import Foundation

/// PNG files through libpng's simplified API: 1/2/4/8/16-bit grey, RGB, grey+alpha, RGBA and
/// palette images. Palette and sub-byte grey images expand to 8-bit samples; 16-bit files keep
/// their 16-bit values (libpng treats a 16-bit file without gAMA chunk as linear and passes its
/// values through; with alpha they come premultiplied). Errors are libpng's message, no crash.
public enum PNGDecoder {
    /// Largest number of samples decoded (a corrupted header must not allocate gigabytes).
    public static let maximumSamples = 1 << 28

    /// Decodes a whole PNG file held in memory; `name` appears in error messages.
    /// - Throws: `ModelError.invalidFile` with libpng's reason for a truncated or corrupted file.
    public static func decode(_ data: Data, name: String = "image") throws -> DecodedImage {
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
        let (count, overflow) = (width * height).multipliedReportingOverflow(by: channels)
        guard width > 0, height > 0, !overflow, count <= maximumSamples else {
            throw ModelError.invalidFile("\(name): a \(width)×\(height) PNG is larger than he-tool reads")
        }
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

    private static func failure(_ name: String, _ image: inout png_image, _ what: String) -> ModelError {
        let message = withUnsafeBytes(of: &image.message) { raw -> String in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
        return .invalidFile("\(name): \(what) (libpng: \(message.isEmpty ? "unknown error" : message)); the file is truncated, corrupted or not a PNG")
    }
}
