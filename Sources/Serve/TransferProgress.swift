import Foundation
import NIOCore

/// How far an upload or a download has come, for a progress display.
public struct TransferProgress: Sendable {
    public enum Direction: String, Sendable { case upload, download }
    public var direction: Direction
    /// What moves ("evaluation keys", "ciphertext", "result", "profile").
    public var what: String
    public var bytes: Int
    /// Nil when the other side did not say (no Content-Length).
    public var total: Int?
}

public typealias ProgressHandler = @Sendable (TransferProgress) -> Void

/// A request body sent in 1 MiB chunks, reporting each one.
struct ProgressBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let bytes: [UInt8]
    let what: String
    let progress: ProgressHandler?
    static let chunk = 1 << 20

    struct AsyncIterator: AsyncIteratorProtocol {
        let body: ProgressBody
        var offset = 0

        mutating func next() async -> ByteBuffer? {
            guard offset < body.bytes.count else { return nil }
            let end = Swift.min(body.bytes.count, offset + ProgressBody.chunk)
            let buffer = ByteBuffer(bytes: body.bytes[offset..<end])
            offset = end
            body.progress?(TransferProgress(direction: .upload, what: body.what, bytes: offset, total: body.bytes.count))
            return buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(body: self) }
}
