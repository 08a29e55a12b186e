import NIOCore
import NIOHTTPTypes

/// Closes a connection after an answer that says `Connection: close` (413, 408, malformed
/// framing: the rest of the request body is not wanted or cannot be trusted).
///
/// A plain close while the client is still sending would make the kernel answer the unread
/// bytes with a reset, and a client busy sending often loses the answer with it. So the close
/// is a lingering one, as web servers do: the answer is flushed, the sending side is shut
/// (the client sees the end of the answer), what still arrives is read and dropped by the
/// server's loop, and the connection is closed for good after `linger` at the latest.
final class ConnectionCloser: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let linger: TimeAmount
    private var closing = false

    init(linger: TimeAmount = .seconds(2)) { self.linger = linger }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            closing = head.headerFields[.connection]?.lowercased() == "close"
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            guard closing else { return context.write(data, promise: promise) }
            closing = false
            let channel = context.channel
            let linger = self.linger
            context.writeAndFlush(data).whenComplete { result in
                promise?.completeWith(result)
                channel.close(mode: .output, promise: nil)
                channel.eventLoop.scheduleTask(in: linger) { channel.close(promise: nil) }
            }
        }
    }
}
