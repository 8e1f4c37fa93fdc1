//! Giving freed memory back to the operating system.
//!
//! One child runs per shard and a host may run 100-200 of them, so what a child keeps after a
//! catch-up batch (a 15 MB line, 10,000 record buffers) matters more than in most programs. The
//! engine frees those buffers at the next ordinary batch; this returns the freed pages too.
//! glibc's `free` keeps them: a freed large buffer raises its trim threshold (up to 64 MiB), so the
//! heap is not trimmed by itself, and freed record buffers lie between live allocations.
//! `malloc_trim(0)` releases free pages anywhere in the heap. It is called only after a release,
//! so a steady workload never pays for it. Other allocators (musl, jemalloc, mimalloc as a global
//! allocator) return memory their own way; there this does nothing.

/// Returns freed heap pages to the operating system, where the allocator needs to be asked.
pub(crate) fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only walks glibc's own free lists; it has no preconditions and is
        // thread-safe (it takes each arena's lock).
        unsafe {
            libc::malloc_trim(0);
        }
    }
}
