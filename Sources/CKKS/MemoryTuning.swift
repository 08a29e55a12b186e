#if os(Linux)
/// glibc's `int mallopt(int param, int value)` from <malloc.h>, which the Glibc module does not
/// import; the parameter numbers are those of <malloc.h>.
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
private let mTrimThreshold: Int32 = -1
private let mMmapThreshold: Int32 = -3
#endif

/// Process-wide allocator tuning, applied once when the first context is made.
///
/// glibc maps every allocation above its mmap threshold (128 KiB at start) with mmap and unmaps
/// it on free, and returns freed heap tops to the kernel above its trim threshold. CKKS buffers
/// are 0.1–10 MB and made and freed on every operation, so each one paid page faults and page
/// zeroing: about 30 % of a relinearization at N = 16384 (measured with `bench ops`). Raising
/// both thresholds keeps such buffers in the heap for reuse, which is what SEAL's memory pool
/// achieves. Memory stays bounded by the process's peak use.
enum MemoryTuning {
    static let apply: Void = {
        #if os(Linux)
        _ = glibcMallopt(mMmapThreshold, 32 << 20)   // glibc's maximum for the mmap threshold
        _ = glibcMallopt(mTrimThreshold, 256 << 20)
        #endif
    }()
}
