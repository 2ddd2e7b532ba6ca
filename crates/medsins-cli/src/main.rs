//! The `medsins` binary: the command line of [`medsins_cli`].

/// mimalloc: glibc malloc was ~20 % of build cycles, with arena contention at 2 threads
/// (docs/benchmarks.md). Allocation never affects the output bytes.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (the same index in its v2 and v3 headers;
/// libmimalloc-sys does not name it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() {
    // A build frees and reallocates the same few hundred MB batch after batch; by default
    // mimalloc hands freed pages back to the kernel after 10 ms and faults them in again,
    // which cost ≈ 9 % of a build's CPU in page faults and zeroing (docs/benchmarks.md,
    // "allocator purging"). Keeping them costs a few tens of MB of peak RSS.
    #[allow(unsafe_code)]
    // SAFETY: called once before any other thread exists (mi_option_set is not thread safe);
    // the option and value are ones mimalloc documents (-1: never purge).
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
    }
    std::process::exit(medsins_cli::main(std::env::args_os()));
}
