//! The `medsins` binary: the command line of [`medsins_cli`].

/// mimalloc: glibc malloc was ~20 % of build cycles, with arena contention at 2 threads
/// (docs/benchmarks.md). Allocation never affects the output bytes.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(medsins_cli::main(std::env::args_os()));
}
