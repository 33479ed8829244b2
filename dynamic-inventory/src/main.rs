fn main() -> std::process::ExitCode {
    use_one_malloc_arena();
    dynamic_inventory::run(std::env::args_os())
}

/// glibc gives each thread its own heap; memory the configuration reader frees on its
/// thread would stay resident beside the main thread's. One arena lets the inventory reuse
/// it, which keeps the peak resident memory near the peak of live data.
fn use_one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called first thing, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}
