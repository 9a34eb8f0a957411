//! `grafiqs` command-line tool: score folders of faces (compatible with the reference tool's
//! flags and output files), convert checkpoints, inspect model files.

mod cli;

fn main() {
    // Feature maps of megabytes are allocated and freed at every layer: keep them on the heap.
    grafiqs::device::tune_system_allocator();
    std::process::exit(cli::run());
}
