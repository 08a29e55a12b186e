import Foundation

/// Wall-clock timing of repeated calls: warm-up runs, then one sample per call.
struct Stopwatch {
    /// Median and minimum of a set of timings, in microseconds.
    struct Summary {
        let median: Double
        let minimum: Double
    }

    /// Times `reps` calls of `body` after `warmup` untimed ones.
    static func measure(reps: Int, warmup: Int = 3, _ body: () -> Void) -> Summary {
        for _ in 0..<warmup { body() }
        var samples: [Double] = []
        samples.reserveCapacity(reps)
        for _ in 0..<reps {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1_000)
        }
        samples.sort()
        let mid = samples.count / 2
        let median = samples.count % 2 == 1 ? samples[mid] : (samples[mid - 1] + samples[mid]) / 2
        return Summary(median: median, minimum: samples[0])
    }
}
