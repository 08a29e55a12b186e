#if os(Linux)
/// glibc's `int mallopt(int param, int value)` from <malloc.h>, which the Glibc module does not
/// import; the parameter numbers are those of <malloc.h>.
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
/// glibc's `int malloc_trim(size_t pad)`.
@_silgen_name("malloc_trim")
private func glibcMallocTrim(_ pad: Int) -> Int32
private let mTrimThreshold: Int32 = -1
private let mMmapThreshold: Int32 = -3
private let mMmapMax: Int32 = -4
private let mArenaMax: Int32 = -8
#endif

/// Process-wide allocator tuning: the process's owner opts in (`he-tool`'s entry point, the test
/// suites), a library never retunes a process it is linked into.
///
/// glibc maps every allocation above its mmap threshold (128 KiB at start) with mmap and unmaps
/// it on free, and returns freed heap tops to the kernel above its trim threshold. CKKS buffers
/// are 0.1–10 MB and made and freed on every operation, so each one paid page faults and page
/// zeroing: about 30 % of a relinearization at N = 16384 (measured with `bench ops`). Raising
/// both thresholds keeps such buffers in the heap for reuse, which is what SEAL's memory pool
/// achieves. Memory stays bounded by the process's peak use.
///
/// No mmap at all (`M_MMAP_MAX` 0): a buffer above the 32 MiB the threshold allows (an input
/// file's frame, 708 MB for CryptoNets' full batch) came from its own mapping, returned to the
/// kernel on free, and the ciphertexts read from it then faulted in fresh pages again; in the
/// heap, its pages serve them once it is freed. `eval` of that batch: 553k → 385k page faults,
/// 1.8 → 1.3 s before the first step, the same peak. (glibc still maps memory when the heap
/// cannot grow.)
///
/// One arena for every thread: with an arena per thread, the product workers' outputs and the
/// main thread's freed sums sat in different heaps, neither reusable by the other. The
/// batch-8192 MNIST plan peaked at 11,030 MB with per-thread arenas and 10,043 MB with one
/// (estimate 8,275 MB), in the same time (123.3 s and 124.3 s): a CKKS operation makes a few
/// megabyte-sized allocations per millisecond of arithmetic, so the one lock is not contended.
public enum MemoryTuning {
    /// Raises glibc's mmap and trim thresholds for this process (once; later calls do nothing).
    public static func applyToProcess() { _ = apply }

    private static let apply: Void = {
        #if os(Linux)
        _ = glibcMallopt(mMmapThreshold, 32 << 20)   // glibc's maximum for the mmap threshold
        _ = glibcMallopt(mTrimThreshold, 256 << 20)
        _ = glibcMallopt(mMmapMax, 0)
        _ = glibcMallopt(mArenaMax, 1)
        #endif
    }()

    /// Gives the free memory of every malloc arena back to the kernel (glibc `malloc_trim(0)`:
    /// the free tops of the heaps and, with `madvise`, the free pages inside them). With the
    /// thresholds above, a long-running process whose jobs run on many threads keeps each
    /// arena at its own peak: the server calls this after each evaluation or key parse, so
    /// that its resident memory follows what is live (a 30-minute soak otherwise climbed from
    /// 3 to 8 GB in 16 arenas). A few milliseconds against a job of a second or more.
    public static func releaseFreeMemory() {
        #if os(Linux)
        _ = glibcMallocTrim(0)
        #endif
    }
}
