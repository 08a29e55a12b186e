import CPNG
import Foundation
import XCTest
@testable import Model

/// PNGs written by libpng in the test (16-bit RGB, grey + alpha, a palette image) and read back
/// by `PNGDecoder`: the decoded samples are the written ones.
final class PNGRoundTripTests: XCTestCase {
    /// Encodes `samples` (bytes or 16-bit words, interleaved) with libpng's simplified writer.
    private func encode(width: Int, height: Int, format: UInt32, samples: UnsafeRawPointer, colormap: UnsafeRawPointer? = nil, colormapEntries: Int = 0) throws -> Data {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width); image.height = UInt32(height)
        image.format = format
        image.colormap_entries = UInt32(colormapEntries)
        var size: png_alloc_size_t = 0
        guard png_image_write_to_memory(&image, nil, &size, 0, samples, 0, colormap) != 0 else {
            throw ModelError.invalidArgument("libpng could not encode the test image")
        }
        var out = [UInt8](repeating: 0, count: Int(size))
        let ok = out.withUnsafeMutableBytes { png_image_write_to_memory(&image, $0.baseAddress, &size, 0, samples, 0, colormap) }
        XCTAssertNotEqual(ok, 0)
        return Data(out.prefix(Int(size)))
    }

    func testSixteenBitRGB() throws {
        let (w, h) = (7, 4)
        let words: [UInt16] = (0..<(w * h * 3)).map { UInt16(truncatingIfNeeded: $0 &* 2_749 &+ 13) }
        let data = try words.withUnsafeBytes { try encode(width: w, height: h, format: UInt32(PNG_FORMAT_FLAG_LINEAR | PNG_FORMAT_FLAG_COLOR), samples: $0.baseAddress!) }
        let image = try PNGDecoder.decode(data)
        XCTAssertEqual([image.width, image.height, image.channels, image.maxValue], [w, h, 3, 65535])
        XCTAssertEqual(image.samples, words)
    }

    func testGreyWithAlpha() throws {
        let (w, h) = (3, 5)
        let bytes: [UInt8] = (0..<(w * h * 2)).map { UInt8(truncatingIfNeeded: $0 * 37 + 1) }
        let data = try bytes.withUnsafeBytes { try encode(width: w, height: h, format: UInt32(PNG_FORMAT_FLAG_ALPHA), samples: $0.baseAddress!) }
        let image = try PNGDecoder.decode(data)
        XCTAssertEqual([image.channels, image.colorChannels, image.maxValue], [2, 1, 255])
        XCTAssertEqual(image.samples, bytes.map(UInt16.init))
    }

    func testPaletteImage() throws {
        let (w, h) = (6, 2)
        let colormap: [UInt8] = [0, 0, 0, 250, 10, 20, 30, 200, 100, 7, 7, 7]
        let indices: [UInt8] = (0..<(w * h)).map { UInt8($0 % 4) }
        let data = try colormap.withUnsafeBytes { map in
            try indices.withUnsafeBytes {
                try encode(width: w, height: h, format: UInt32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_COLORMAP), samples: $0.baseAddress!, colormap: map.baseAddress, colormapEntries: 4)
            }
        }
        let image = try PNGDecoder.decode(data)
        XCTAssertEqual(image.channels, 3)
        for (i, index) in indices.enumerated() {
            let decoded: [UInt16] = Array(image.samples[(i * 3)..<(i * 3 + 3)])
            let entry = Int(index) * 3
            let expected: [UInt16] = [UInt16(colormap[entry]), UInt16(colormap[entry + 1]), UInt16(colormap[entry + 2])]
            XCTAssertEqual(decoded, expected)
        }
    }
}
