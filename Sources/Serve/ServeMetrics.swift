import CoreMetrics
import Foundation
import Metrics
import Prometheus

/// The server's metrics, through swift-metrics into a Prometheus registry of its own (several
/// servers in one process, as in the tests, keep apart), exposed by `GET /metrics`:
///
/// - `he_requests_total{route,method,status}`, `he_request_errors_total{route,kind}`
/// - `he_request_duration_seconds{route}` (histogram)
/// - `he_evaluation_duration_seconds{model}` (histogram, the evaluation itself)
/// - `he_evaluations_in_flight`, `he_evaluations_total{model,outcome}`
/// - `he_bytes_received_total{route}`, `he_bytes_sent_total{route}`
/// - `he_key_cache_bytes`, `he_key_cache_entries`, `he_key_spill_bytes`, `he_key_spill_entries`,
///   `he_key_lookups_total{result}` (memory, spill, miss)
public final class ServeMetrics: @unchecked Sendable {
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let lock = NSLock()
    private var counters: [String: CoreMetrics.Counter] = [:]
    private var timers: [String: CoreMetrics.Timer] = [:]
    private let inFlight: CoreMetrics.Gauge
    private let cacheBytes: CoreMetrics.Gauge, cacheEntries: CoreMetrics.Gauge, spillBytes: CoreMetrics.Gauge, spillEntries: CoreMetrics.Gauge

    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .milliseconds(1500), .seconds(2), .seconds(3), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300),
        ]
        self.factory = factory
        inFlight = CoreMetrics.Gauge(label: "he_evaluations_in_flight", factory: factory)
        cacheBytes = CoreMetrics.Gauge(label: "he_key_cache_bytes", factory: factory)
        cacheEntries = CoreMetrics.Gauge(label: "he_key_cache_entries", factory: factory)
        spillBytes = CoreMetrics.Gauge(label: "he_key_spill_bytes", factory: factory)
        spillEntries = CoreMetrics.Gauge(label: "he_key_spill_entries", factory: factory)
        inFlight.record(0)
    }

    private func counter(_ label: String, _ dimensions: [(String, String)]) -> CoreMetrics.Counter {
        let key = label + dimensions.map { "|\($0.0)=\($0.1)" }.joined()
        return lock.withLock {
            if let c = counters[key] { return c }
            let c = CoreMetrics.Counter(label: label, dimensions: dimensions, factory: factory)
            counters[key] = c
            return c
        }
    }

    private func timer(_ label: String, _ dimensions: [(String, String)]) -> CoreMetrics.Timer {
        let key = label + dimensions.map { "|\($0.0)=\($0.1)" }.joined()
        return lock.withLock {
            if let t = timers[key] { return t }
            let t = CoreMetrics.Timer(label: label, dimensions: dimensions, factory: factory)
            timers[key] = t
            return t
        }
    }

    /// One answered request.
    public func request(route: String, method: String, status: Int, nanoseconds: UInt64) {
        counter("he_requests_total", [("route", route), ("method", method), ("status", String(status))]).increment()
        timer("he_request_duration_seconds", [("route", route)]).recordNanoseconds(Int64(clamping: nanoseconds))
    }

    /// One error answer, by its kind (the `error` field of the JSON body).
    public func error(route: String, kind: String) {
        counter("he_request_errors_total", [("route", route), ("kind", kind)]).increment()
    }

    public func received(route: String, bytes: Int) {
        counter("he_bytes_received_total", [("route", route)]).increment(by: Int64(bytes))
    }

    public func sent(route: String, bytes: Int) {
        counter("he_bytes_sent_total", [("route", route)]).increment(by: Int64(bytes))
    }

    /// One evaluation run (`outcome`: ok, failed, timeout).
    public func evaluation(model: String, outcome: String, nanoseconds: UInt64) {
        counter("he_evaluations_total", [("model", model), ("outcome", outcome)]).increment()
        if outcome == "ok" { timer("he_evaluation_duration_seconds", [("model", model)]).recordNanoseconds(Int64(clamping: nanoseconds)) }
    }

    public func evaluationsInFlight(_ n: Int) { inFlight.record(n) }

    /// A key lookup: `memory`, `spill` or `miss`.
    public func keyLookup(_ result: String) {
        counter("he_key_lookups_total", [("result", result)]).increment()
    }

    public func keyCache(_ s: KeyCache.Statistics) {
        cacheBytes.record(s.memoryBytes)
        cacheEntries.record(s.memoryEntries)
        spillBytes.record(s.spillBytes)
        spillEntries.record(s.spillEntries)
    }

    /// The Prometheus text exposition.
    public func exposition() -> [UInt8] { registry.emitToBuffer() }
}
