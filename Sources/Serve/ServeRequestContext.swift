import Hummingbird
import NIOCore

/// The context of every request: Hummingbird's core context plus the peer's address, which
/// names the client for the per-client upload limit (`UploadAdmission`).
public struct ServeRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The connected peer (behind a proxy: the proxy).
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The client as the upload limit counts it: the peer's IP address without its port.
    var client: String { remoteAddress?.ipAddress ?? "unknown" }
}
