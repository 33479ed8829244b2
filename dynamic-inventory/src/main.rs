fn main() -> std::process::ExitCode {
    map_large_buffers();
    dynamic_inventory::run(std::env::args_os())
}

/// glibc serves allocations above a threshold with their own mappings, returned to the
/// system when freed and grown without copying; but it raises that threshold as large
/// blocks are freed, after which the inventory's multi-megabyte buffers (the stored text,
/// the new text) come from the heap, are copied as they grow and stay resident. A fixed
/// threshold keeps peak memory near the live data.
fn map_large_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called first, before any allocation matters or another thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
