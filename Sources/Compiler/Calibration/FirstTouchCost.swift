import Dispatch
import Foundation

/// What memory a process touches for the first time costs on this machine: the kernel's page
/// fault and zeroing per 4 KiB page, and under a hypervisor that returns a guest's free pages
/// to the host (free page reporting) the host's fault and zeroing too. An evaluation's first
/// steps write gigabytes of new ciphertexts (MNIST's full batch: 3.8 GB in its first
/// convolution), and there this cost is not small: on this project's virtual machines that
/// step ran 12.7 s, and 8.8 s with the same pages touched beforehand (estimate 7.2 s).
///
/// Measured as the elapsed time of T threads writing one byte per page of fresh anonymous
/// mappings of `regionBytes`, one after the other, none unmapped until the end, in
/// microseconds per megabyte (10^6 bytes). The first regions come from pages the system freed
/// shortly before, which such a hypervisor has not taken back yet (a pool of 1–2 GB after a
/// large process ends; on this project's machines 0.2 ms/MB on 2 threads), the later ones from
/// pages it has (1.4 ms/MB on 2 threads, 2.6 on one, measured with the same mappings). An
/// evaluation's input read takes that pool, so its steps pay the second rate: the probe goes
/// on until three regions in a row cost at least `jump` times the first one, or it has touched
/// `maximumBytes`, and takes the median of the last three. Without a hypervisor (or on a
/// machine whose pool outlasts the probe) the rates stay level and that level is taken.
public struct FirstTouchCost: Sendable {
    public var regionBytes: Int
    public var maximumBytes: Int
    public var jump: Double

    /// Regions of 128 MiB up to 3 GiB or an eighth of the machine's memory (at least three
    /// regions), unmapped at the end: 1–2 s once per machine and thread count.
    public init(regionBytes: Int = 128 << 20, maximumBytes: Int? = nil, jump: Double = 2.5) {
        // At least three regions even on a machine with under 3 GiB (an eighth of its memory
        // would be fewer): the default probe must not trap where he-tool runs.
        let cap = maximumBytes ?? max(3 * regionBytes, min(3 << 30, Int(ProcessInfo.processInfo.physicalMemory / 8)))
        precondition(regionBytes >= 1 << 20 && cap >= 3 * regionBytes, "at least three regions of a mebibyte")
        self.regionBytes = regionBytes
        self.maximumBytes = cap
        self.jump = jump
    }

    /// Microseconds per megabyte of first-touched memory written by `threads` threads at once;
    /// nil when the system refuses the mappings (then the cost model prices no first touch).
    public func measure(threads: Int) -> Double? {
        let page = 4096
        let threads = max(1, threads)
        var mapped: [UnsafeMutableRawPointer] = []
        defer { for p in mapped { munmap(p, regionBytes) } }
        var rates: [Double] = []
        while needsAnotherRegion(after: rates) {
            guard let raw = mmap(nil, regionBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
                  raw != MAP_FAILED else { return nil }
            mapped.append(raw)
            let pages = regionBytes / page
            let start = DispatchTime.now().uptimeNanoseconds
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                let first = pages * t / threads, last = pages * (t + 1) / threads
                for k in first..<last { raw.storeBytes(of: 1, toByteOffset: k * page, as: UInt8.self) }
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            rates.append(seconds * 1e6 / (Double(regionBytes) / 1e6))
        }
        return Self.settledRate(rates)
    }

    /// Whether the probe measures another region after regions that cost `rates`: fewer than
    /// three, or below the cap without three in a row at `jump` times the first.
    func needsAnotherRegion(after rates: [Double]) -> Bool {
        rates.count < 3 || ((rates.count + 1) * regionBytes <= maximumBytes
                            && !rates.suffix(3).allSatisfy { $0 >= jump * rates[0] })
    }

    /// The median of the last three regions' rates.
    static func settledRate(_ rates: [Double]) -> Double {
        let last = rates.suffix(3).sorted()
        return last[last.count / 2]
    }
}
