//! `grafiqs eval …`: evaluation of quality scores. `eval edc` computes Error-versus-Discard
//! curves (see `grafiqs::eval::edc` for every definition) and writes JSON, CSV and an SVG plot.
//! `eval degrade` sweeps controlled degradations over clean faces and reports how each raw
//! score follows the damage (see `grafiqs::eval::sweep`).

use std::path::Path;

use clap::Subcommand;
use grafiqs::{Error, Result};

use super::read;

mod degrade;
mod edc;
mod pairs;

#[derive(clap::Args)]
pub struct EvalArgs {
    #[command(subcommand)]
    command: EvalCommand,
}

#[derive(Subcommand)]
enum EvalCommand {
    /// Error-versus-Discard curves: FNMR at a fixed FMR as the lowest-quality comparisons are
    /// discarded (0 … 95 % in steps of 5 %), their areas, and the random-order baseline.
    Edc(edc::EdcArgs),
    /// Degradation sweep: blur, noise, darkening, lower-face occlusion and JPEG at five
    /// severities on clean aligned faces; pooled Spearman correlation of severity with each
    /// raw score.
    Degrade(degrade::DegradeArgs),
    /// A verification benchmark's pair protocol: aligns every face from its landmarks, then
    /// reports accuracy, TAR at the FMR, and each raw score's EDC with the random baseline.
    Pairs(pairs::PairsArgs),
}

/// Threshold protocol on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProtocolArg {
    /// Threshold re-estimated on the remaining pairs at every step (CR-FIQA code).
    Reestimate,
    /// Threshold fixed from the full set (ISO/IEC 29794-1, NIST).
    Fixed,
}

pub fn run(args: EvalArgs) -> Result<i32> {
    match args.command {
        EvalCommand::Edc(a) => edc::run(a),
        EvalCommand::Degrade(a) => degrade::run(a),
        EvalCommand::Pairs(a) => pairs::run(a),
    }
}

pub(crate) fn read_text(path: &Path) -> Result<String> {
    String::from_utf8(read(path)?)
        .map_err(|_| Error::Input(format!("{}: not UTF-8 text", path.display())))
}
