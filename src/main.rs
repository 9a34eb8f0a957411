//! `grafiqs` command-line tool: score folders of faces (compatible with the reference tool's
//! flags and output files), convert checkpoints, inspect model files.

mod cli;

fn main() {
    std::process::exit(cli::run());
}
