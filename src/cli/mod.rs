//! Command-line interface (native only).

mod assess;
mod calibrate;
mod convert;
mod eval;
mod score;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use grafiqs::error::ResultExt;
use grafiqs::eval::labels::{LabelRow, parse_labels};
use grafiqs::{Error, Model, Result, RgbImage, Scorer};

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
    /// Detect faces in photos or camera frames and report guidance measures and advice (plus
    /// GraFIQs quality with --model/--weights).
    Assess(assess::AssessArgs),
    /// Convert a PyTorch (.pth) or MXNet (.params + -symbol.json) checkpoint to a .grafiqs file.
    Convert(convert::ConvertArgs),
    /// Describe a model file (architecture, parameters, BatchNorm layers, metadata).
    Inspect(convert::InspectArgs),
    /// Evaluate quality scores (Error-versus-Discard curves, degradation sweeps).
    Eval(eval::EvalArgs),
    /// Fit a model's score -> quality (0-100) map on clean reference faces and store it in
    /// the model file.
    Calibrate(calibrate::CalibrateArgs),
}

/// Runs the CLI and returns the process exit code.
pub fn run() -> i32 {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Score(a) => score::run(a),
        Command::Assess(a) => assess::run(a),
        Command::Convert(a) => convert::run(a),
        Command::Inspect(a) => convert::inspect(a),
        Command::Eval(a) => eval::run(a),
        Command::Calibrate(a) => calibrate::run(a),
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
    /// A converted model file (.grafiqs), or `default` for the shipped Apache-2.0
    /// MobileFaceNet (also used when neither --model nor --weights is given).
    #[arg(long, conflicts_with_all = ["weights", "symbol"])]
    pub model: Option<PathBuf>,
    /// A checkpoint: PyTorch state dict (.pth, iResNet) or MXNet .params (MobileFaceNet).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// MXNet symbol file (default: `<prefix>-symbol.json` beside `<prefix>-NNNN.params`).
    #[arg(long)]
    pub symbol: Option<PathBuf>,
    /// Architecture of --weights: iresnet18|iresnet34|iresnet50|iresnet100|mobilefacenet-relu6
    /// (PyTorch) or mobilefacenet (InsightFace, MXNet); also `iresnet` to infer a custom
    /// iResNet, `mxnet` for another MXNet graph with --stages.
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
    /// Loads the model from --model (`default`: the shipped one), or imports --weights; with
    /// neither, the shipped model, saying so on stderr.
    pub fn load(&self) -> Result<Model> {
        if let Some(p) = &self.model {
            if p.as_os_str() == "default" && !p.exists() {
                return Model::bundled();
            }
            return Model::from_bytes(&read(p)?);
        }
        let Some(w) = &self.weights else {
            eprintln!(
                "no --model or --weights given: using the shipped model ({}, Apache-2.0; see `grafiqs inspect default`)",
                grafiqs::model::BUNDLED_MODEL_NAME
            );
            return Model::bundled();
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
        BackendArg::Cpu => Scorer::cpu(model),
        #[cfg(feature = "wgpu")]
        BackendArg::Wgpu => Scorer::wgpu(model),
        #[cfg(not(feature = "wgpu"))]
        BackendArg::Wgpu => Err(Error::Backend(
            "this build has no wgpu backend (rebuild with `--features wgpu`)".into(),
        )),
    }
}

/// The shared test assets: `$GRAFIQS_ASSETS`, else `../shared/assets` (relative to the
/// working directory, i.e. beside the project root).
pub fn assets_dir() -> PathBuf {
    std::env::var_os("GRAFIQS_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/assets"))
}

/// A face from a labelled folder.
pub struct LabelledFace {
    /// File name (as in labels.csv).
    pub file: String,
    /// Identity (as in labels.csv).
    pub identity: String,
    /// The image as decoded (not aligned).
    pub image: RgbImage,
    /// Its row's landmarks, if any.
    pub landmarks: Option<[[f64; 2]; 5]>,
}

/// Reads `dir/labels.csv` (see [`parse_labels`]) and decodes every listed image.
pub fn read_labelled(dir: &Path) -> Result<Vec<LabelledFace>> {
    let csv = dir.join("labels.csv");
    let text = String::from_utf8(read(&csv)?)
        .map_err(|_| Error::Input(format!("{}: not UTF-8 text", csv.display())))?;
    let rows = parse_labels(&text, &csv.display().to_string())?;
    if rows.is_empty() {
        return Err(Error::Input(format!("{}: lists no faces", csv.display())));
    }
    rows.into_iter()
        .map(
            |LabelRow {
                 file,
                 identity,
                 landmarks,
             }| {
                let path = dir.join(&file);
                let image =
                    RgbImage::decode(&read(&path)?).with_context(|| path.display().to_string())?;
                Ok(LabelledFace {
                    file,
                    identity,
                    image,
                    landmarks,
                })
            },
        )
        .collect()
}

/// Aligns the faces of `dir/labels.csv` with their landmarks to the 112x112 ArcFace template.
/// Rows without landmarks are taken as they are when already 112x112; otherwise a face
/// detector would be needed, and that is an error naming the file.
pub fn aligned_faces(dir: &Path) -> Result<Vec<(String, RgbImage)>> {
    read_labelled(dir)?
        .into_iter()
        .map(|f| match f.landmarks {
            Some(lm) => Ok((f.file, grafiqs::align::align_face(&f.image, &lm)?)),
            None if [f.image.height(), f.image.width()] == grafiqs::model::INPUT_SIZE => {
                Ok((f.file, f.image))
            }
            None => Err(Error::Input(format!(
                "{}: {} is {}x{} and has no landmarks in labels.csv (aligning it needs a face detector)",
                dir.display(),
                f.file,
                f.image.width(),
                f.image.height()
            ))),
        })
        .collect()
}
