//! Command-line interface (native only).

mod convert;
mod eval;
mod score;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use grafiqs::{Error, Model, Result, Scorer};

#[derive(Parser)]
#[command(
    name = "grafiqs",
    version,
    about = "GraFIQs face image quality: gradient magnitudes of BatchNorm statistics (larger = worse)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Score face images; writes GraFIQs_<image|block1..4>.txt like the reference tool.
    Score(score::ScoreArgs),
    /// Convert a PyTorch (.pth) or MXNet (.params + -symbol.json) checkpoint to a .grafiqs file.
    Convert(convert::ConvertArgs),
    /// Describe a model file (architecture, parameters, BatchNorm layers, metadata).
    Inspect(convert::InspectArgs),
    /// Evaluate quality scores (Error-versus-Discard curves).
    Eval(eval::EvalArgs),
}

/// Runs the CLI and returns the process exit code.
pub fn run() -> i32 {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Score(a) => score::run(a),
        Command::Convert(a) => convert::run(a),
        Command::Inspect(a) => convert::inspect(a),
        Command::Eval(a) => eval::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

/// Where a model comes from on the command line.
#[derive(clap::Args, Clone, Debug)]
pub struct ModelArgs {
    /// A converted model file (.grafiqs).
    #[arg(long, conflicts_with_all = ["weights", "symbol"])]
    pub model: Option<PathBuf>,
    /// A checkpoint: PyTorch state dict (.pth, iResNet) or MXNet .params (MobileFaceNet).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// MXNet symbol file (default: `<prefix>-symbol.json` beside `<prefix>-NNNN.params`).
    #[arg(long)]
    pub symbol: Option<PathBuf>,
    /// Architecture of --weights: iresnet18|iresnet34|iresnet50|iresnet100|mobilefacenet
    /// (also `iresnet` to infer a custom iResNet, `mxnet` for another MXNet graph with --stages).
    #[arg(long, default_value = "iresnet100")]
    pub backbone: String,
    /// Four comma-separated stage node names (MXNet graphs only).
    #[arg(long, value_delimiter = ',', num_args = 1)]
    pub stages: Option<Vec<String>>,
}

pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

impl ModelArgs {
    /// Loads the model from --model, or imports --weights.
    pub fn load(&self) -> Result<Model> {
        if let Some(p) = &self.model {
            return Model::from_bytes(&read(p)?);
        }
        let Some(w) = &self.weights else {
            return Err(Error::Input(
                "no model given: pass --model <file.grafiqs> or --weights <checkpoint> --backbone <arch>"
                    .into(),
            ));
        };
        let bytes = read(w)?;
        let name = w
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if bytes.starts_with(&0x112u64.to_le_bytes()) {
            let symbol = match &self.symbol {
                Some(s) => s.clone(),
                None => default_symbol(w).ok_or_else(|| {
                    Error::Input(format!(
                        "{}: MXNet weights need --symbol <prefix-symbol.json>",
                        w.display()
                    ))
                })?,
            };
            let json = String::from_utf8(read(&symbol)?)
                .map_err(|_| Error::Format(format!("{}: not UTF-8", symbol.display())))?;
            let stages = match &self.stages {
                Some(s) if s.len() == 4 => Some([&*s[0], &*s[1], &*s[2], &*s[3]]),
                Some(s) => {
                    return Err(Error::Input(format!(
                        "--stages needs 4 names, got {}",
                        s.len()
                    )));
                }
                None => None,
            };
            let sym_name = symbol
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Model::from_mxnet(
                &bytes,
                &json,
                &self.backbone,
                stages,
                &format!("{name} + {sym_name}"),
            )
        } else if bytes.starts_with(b"GRAFIQS\0") {
            Model::from_bytes(&bytes)
        } else {
            Model::from_torch(&bytes, &self.backbone, &name)
        }
    }
}

fn default_symbol(params: &Path) -> Option<PathBuf> {
    let stem = params.file_stem()?.to_string_lossy().into_owned();
    let prefix = stem.rsplit_once('-').map(|(p, _)| p).unwrap_or(&stem);
    let candidate = params.with_file_name(format!("{prefix}-symbol.json"));
    candidate.exists().then_some(candidate)
}

/// Backend choice on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendArg {
    /// CPU (default).
    Cpu,
    /// GPU through wgpu (Vulkan/Metal/DX12; needs a build with the `wgpu` feature).
    Wgpu,
}

pub fn make_scorer(model: Model, backend: BackendArg) -> Result<Scorer> {
    match backend {
        BackendArg::Cpu => Ok(Scorer::cpu(model)),
        #[cfg(feature = "wgpu")]
        BackendArg::Wgpu => Scorer::wgpu(model),
        #[cfg(not(feature = "wgpu"))]
        BackendArg::Wgpu => Err(Error::Backend(
            "this build has no wgpu backend (rebuild with `--features wgpu`)".into(),
        )),
    }
}
