import Foundation
import XCTest
@testable import Model
#if canImport(Glibc)
import Glibc
#endif

/// Special files, decompression bombs and lying headers given as images, IDX, `.npy` or ONNX
/// files: each is refused with a message naming the path (or file) and what is wrong, before
/// anything is opened for reading or allocated from the header's numbers.
final class HostileInputTests: XCTestCase {
    private func message(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            try body()
            XCTFail("accepted", file: file, line: line)
            return ""
        } catch let e as ModelError {
            return e.description
        } catch {
            XCTFail("not a ModelError: \(error)", file: file, line: line)
            return ""
        }
    }

    /// Every reader of a path, as the CLI calls it.
    private func readers(_ url: URL) -> [(String, () throws -> Void)] {
        [("image", { _ = try InputLoader.load(url, sampleShape: [1, 28, 28], preprocessing: .unitRange) }),
         ("idx", { _ = try IDXFile(contentsOf: url) }),
         ("npy", { _ = try NPYFile.load(url) }),
         ("onnx", { _ = try ONNXImporter.load(contentsOf: url) }),
         ("refusals", { _ = try ONNXImporter.refusals(contentsOf: url) })]
    }

    func testFIFODeviceAndDirectoryAreRefusedBeforeOpening() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        let fifo = dir.appendingPathComponent("pipe.png")
        XCTAssertEqual(mkfifo(fifo.path, 0o600), 0)
        // Without the stat before open, the first reader would block here forever (no writer).
        let cases: [(URL, String)] = [(fifo, "a FIFO (named pipe)"), (URL(fileURLWithPath: "/dev/zero"), "a device"), (dir, "a directory")]
        for (url, what) in cases {
            for (reader, read) in readers(url) {
                let m = message(read)
                XCTAssertTrue(m.contains(url.path) && m.contains("is \(what), not a regular file"), "\(reader): \(m)")
                XCTAssertFalse(m.contains("permission"), m)
            }
        }
    }

    func testMissingFileNamesThePath() {
        let m = message { _ = try InputLoader.load(URL(fileURLWithPath: "/nonexistent/x.png"), sampleShape: [1], preprocessing: .unitRange) }
        XCTAssertTrue(m.contains("/nonexistent/x.png does not exist"), m)
    }

    // MARK: PNG

    func testPNGDeclaringHugeDimensionsIsRefusedFromItsHeader() throws {
        // 16384 × 16384 grey with a 100-byte IDAT: refused from IHDR, before libpng allocates.
        let bomb = HostileFiles.png([("IHDR", HostileFiles.ihdr(width: 16384, height: 16384)),
                                     ("IDAT", [UInt8](repeating: 0, count: 100)), ("IEND", [])])
        let m = message { _ = try PNGDecoder.decode(bomb, name: "bomb.png") }
        XCTAssertTrue(m.contains("bomb.png") && m.contains("16384×16384") && m.contains("\(PNGDecoder.maximumSide)"), m)
        for (w, h) in [(0, 5), (5, 0), (4097, 1), (1, 1 << 31)] {
            let file = HostileFiles.png([("IHDR", HostileFiles.ihdr(width: UInt32(w), height: UInt32(h))), ("IEND", [])])
            XCTAssertFalse(message { _ = try PNGDecoder.decode(file, name: "x.png") }.isEmpty)
        }
        // 4096 × 4096 passes the size check and fails in libpng on the short IDAT.
        let edge = HostileFiles.png([("IHDR", HostileFiles.ihdr(width: 4096, height: 4096)), ("IDAT", [0x78, 0x9c, 0x03, 0x00]), ("IEND", [])])
        XCTAssertTrue(message { _ = try PNGDecoder.decode(edge, name: "edge.png") }.contains("edge.png"))
    }

    // MARK: IDX

    private let idx1Header: [UInt8] = [0, 0, 8, 1, 0, 0, 0, 10]

    func testGzipBombInflatesOnlyWhatTheHeaderAnnounces() throws {
        // 10 labels announced, 1 GiB of zeros behind them: refused after inflating a few bytes.
        let bomb = HostileFiles.gzipBomb(prefix: idx1Header + [UInt8](repeating: 1, count: 10), zeros: 1 << 30)
        XCTAssertLessThan(bomb.count, 8 << 20)
        let start = Date()
        let m = message { _ = try IDXFile(data: bomb, name: "bomb.gz") }
        XCTAssertTrue(m.contains("bomb.gz") && m.contains("more data than its header announces"), m)
        XCTAssertLessThan(Date().timeIntervalSince(start), 5, "the bomb was inflated")
        // The same stream announcing 1 GiB of labels is refused from the header (above the limit is 2^30 + 1).
        let overLimit = HostileFiles.gzipBomb(prefix: [0, 0, 8, 1, 0x40, 0, 0, 1], zeros: 1 << 20)
        XCTAssertTrue(message { _ = try IDXFile(data: overLimit, name: "big.gz") }.contains("more than the \(IDXFile.maximumBytes)"))
        // A header announcing 2^24 bytes over a stream of 1000: refused when the stream ends.
        let short = HostileFiles.gzipBomb(prefix: [0, 0, 8, 1, 1, 0, 0, 0], zeros: 1000)
        XCTAssertTrue(message { _ = try IDXFile(data: short, name: "short.gz") }.contains("ends after"))
    }

    func testGzipIDXThatFitsItsHeaderIsRead() throws {
        let labels: [UInt8] = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]
        let stored = try IDXFile(data: HostileFiles.gzipStored(idx1Header + labels), name: "labels.gz")
        XCTAssertEqual(stored.labels, labels.map(Int.init))
        // The fixed-Huffman writer too: 10 zero labels.
        let zeros = try IDXFile(data: HostileFiles.gzipBomb(prefix: idx1Header, zeros: 10), name: "zeros.gz")
        XCTAssertEqual(zeros.labels, [Int](repeating: 0, count: 10))
    }

    func testIDXHeaderProductsAreChecked() {
        // rank 4 of 2^32 − 1 each: the product overflows Int.
        let huge: [UInt8] = [0, 0, 8, 4] + [UInt8](repeating: 0xff, count: 16)
        XCTAssertTrue(message { _ = try IDXFile(data: Data(huge), name: "huge.idx") }.contains("huge.idx"))
    }

    // MARK: .npy

    func testNPYHeadersAreValidated() {
        let f4 = [UInt8](repeating: 0, count: 24)
        XCTAssertNoThrow(try NPYFile.decode(HostileFiles.npy(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data: f4)))
        let cases: [(String, [UInt8], String)] = [
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 1099511627776, 1099511627776), }", [], "limit"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775807, 9223372036854775807), }", [], "limit"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }", [], "bad extent"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", [], "bad extent"),
            ("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", f4, "dtype"),
            ("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", f4, "Fortran"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }", f4, "needs 32 bytes"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (\(Array(repeating: "1", count: 40).joined(separator: ", "))), }", f4, "rank 40"),
            ("{'descr': '<f4', 'fortran_order': False }", f4, "'shape'"),
        ]
        for (header, data, fragment) in cases {
            let m = message { _ = try NPYFile.decode(HostileFiles.npy(header: header, data: data), name: "a.npy") }
            XCTAssertTrue(m.contains("a.npy") && m.contains(fragment), "\(header): \(m)")
        }
        // A version-2 header that claims 2^31 bytes.
        let lying = Data([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0, 0, 0, 0, 0x80] + [UInt8](repeating: 0x20, count: 64))
        XCTAssertTrue(message { _ = try NPYFile.decode(lying, name: "a.npy") }.contains("header claims"))
        // NaN in the data.
        let nan = withUnsafeBytes(of: Float.nan.bitPattern.littleEndian, Array.init)
        XCTAssertTrue(message { _ = try NPYFile.decode(HostileFiles.npy(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", data: nan), name: "a.npy") }.contains("not a finite number"))
    }
}
