#if canImport(Glibc)
import CMalloc
import Glibc
#endif

/// Process-wide allocator settings for a server that builds and drops multi-megabyte results.
///
/// glibc serves allocations above `M_MMAP_THRESHOLD` (dynamic, at most 32 MiB) with fresh `mmap`
/// pages and returns heap memory above `M_TRIM_THRESHOLD` to the kernel on free. A 40 MB result then
/// costs ~10 000 page faults (about 20 ms on a 2-core VM, as much as DuckDB takes to compute it)
/// every time one is built. Raising both thresholds lets freed result memory be reused instead.
/// The trade: up to `retainedBytes` of freed memory stays in the process.
enum MemoryTuning {
    /// Freed memory kept for reuse, at most.
    static let retainedBytes: Int32 = 512 << 20
    /// Allocations larger than this still get their own mapping (and return it on free).
    static let mmapThreshold: Int32 = 256 << 20

    /// Applies the settings unless `ANALYTICS_CACHE_MALLOC_TUNING=0` is set.
    /// - Returns: whether they were applied
    @discardableResult
    static func apply() -> Bool {
        #if canImport(Glibc)
        if let flag = getenv("ANALYTICS_CACHE_MALLOC_TUNING"), String(cString: flag) == "0" { return false }
        return mallopt(M_MMAP_THRESHOLD, mmapThreshold) == 1 && mallopt(M_TRIM_THRESHOLD, retainedBytes) == 1
        #else
        return false
        #endif
    }
}
