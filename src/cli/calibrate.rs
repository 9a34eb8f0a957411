//! `grafiqs calibrate`: fit a model's score → quality map on clean reference faces
//! (`grafiqs::calibrate`) and store it in the model file.

use std::path::{Path, PathBuf};

use grafiqs::calibrate::{self, KNOT_QUALITIES};
use grafiqs::error::ResultExt;
use grafiqs::{Calibration, Error, Model, Result, RgbImage, Storage};

use super::{BackendArg, ModelArgs, aligned_faces, make_scorer, read};

/// Image extensions read from --images (case-insensitive).
const EXTENSIONS: [&str; 5] = ["jpg", "jpeg", "png", "bmp", "webp"];

#[derive(clap::Args)]
pub struct CalibrateArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Folder of clean reference faces already aligned to 112x112 (every .jpg, .jpeg, .png,
    /// .bmp and .webp file, sorted by name).
    #[arg(long)]
    images: Option<PathBuf>,
    /// Folder of clean reference faces with a labels.csv carrying 5-point landmarks (as the
    /// test assets' faces/lfw-colour); they are aligned to 112x112 first. May be combined
    /// with --images.
    #[arg(long)]
    faces: Option<PathBuf>,
    /// Output model file (.grafiqs) with the fitted calibration.
    #[arg(long)]
    out: PathBuf,
    /// Store convolution / fully-connected weights as 16-bit floats (the reference faces are
    /// then scored with the 16-bit weights, so the calibration fits the written file).
    #[arg(long)]
    f16: bool,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendArg::Cpu)]
    backend: BackendArg,
    /// Images per forward/backward pass.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    batch_size: u32,
}

/// Clean aligned 112×112 faces of a folder, sorted by file name.
fn folder_faces(dir: &Path) -> Result<Vec<(String, RgbImage)>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            p.extension()
                .map(|x| x.to_string_lossy().to_ascii_lowercase())
                .is_some_and(|x| EXTENSIONS.contains(&x.as_str()))
        })
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let img = RgbImage::decode(&read(&p)?).with_context(|| p.display().to_string())?;
            if [img.height(), img.width()] != grafiqs::model::INPUT_SIZE {
                return Err(Error::Input(format!(
                    "{} is {}x{}: --images needs faces already aligned to 112x112 (use --faces with landmarks otherwise)",
                    p.display(),
                    img.width(),
                    img.height()
                )));
            }
            Ok((p.display().to_string(), img))
        })
        .collect()
}

pub fn run(args: CalibrateArgs) -> Result<i32> {
    if args.images.is_none() && args.faces.is_none() {
        return Err(Error::Input(
            "calibrate needs reference faces: --images <folder of aligned 112x112 faces> and/or --faces <folder with labels.csv>".into(),
        ));
    }
    let mut faces = Vec::new();
    if let Some(dir) = &args.faces {
        faces.extend(aligned_faces(dir)?);
    }
    if let Some(dir) = &args.images {
        faces.extend(folder_faces(dir)?);
    }
    let storage = if args.f16 { Storage::F16 } else { Storage::F32 };
    let mut model = args.model.load()?;
    if args.f16 {
        model = Model::from_bytes(&model.to_bytes(storage))?;
    }
    let scorer = make_scorer(model.clone(), args.backend)?;
    let images: Vec<RgbImage> = faces.iter().map(|f| f.1.clone()).collect();
    let (clean, degraded) =
        calibrate::reference_scores(&scorer, &images, args.batch_size as usize)?;
    let sources: Vec<String> = [&args.faces, &args.images]
        .into_iter()
        .flatten()
        .map(|p| p.display().to_string())
        .collect();
    let method = format!(
        "grafiqs calibrate: {} reference faces ({}), block1",
        faces.len(),
        sources.join(" + ")
    );
    let cal = calibrate::fit(&clean, &degraded, &method)?;
    model.set_calibration(Some(cal.clone()))?;
    let bytes = model.to_bytes(storage);
    // Read back what was written: a file that does not load is never left behind silently.
    Model::from_bytes(&bytes)?;
    std::fs::write(&args.out, &bytes).map_err(|e| Error::io(&args.out, e))?;
    print!("{}", report(&cal, &clean, &degraded));
    println!(
        "wrote {} ({}, {:.2} MB, {})",
        args.out.display(),
        model.meta().architecture,
        bytes.len() as f64 / 1e6,
        if args.f16 { "f16" } else { "f32" }
    );
    Ok(0)
}

/// The knots and the quality distribution of the reference faces under the new map.
fn report(cal: &Calibration, clean: &[f64], degraded: &[f64]) -> String {
    let anchors = [
        "10th percentile of clean faces",
        "median of clean faces",
        "90th percentile of clean faces",
        "median of degraded copies",
    ];
    let mut s = format!(
        "calibration on {} clean faces and {} degraded copies ({}), score {}\n{:<32} {:>12} {:>8}\n",
        clean.len(),
        degraded.len(),
        calibrate::DEGRADED_COPIES,
        cal.score.name(),
        "knot",
        "raw score",
        "quality"
    );
    for ((raw, q), name) in cal.knots.iter().zip(anchors) {
        s.push_str(&format!("{name:<32} {raw:>12.3} {q:>8.0}\n"));
    }
    debug_assert_eq!(cal.knots.len(), KNOT_QUALITIES.len());
    s.push_str(&format!(
        "{:<32} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}\n",
        "quality (0-100)", "min", "p10", "median", "p90", "max", "mean"
    ));
    for (name, raw) in [("clean faces", clean), ("degraded copies", degraded)] {
        let q: Vec<f64> = raw.iter().map(|&r| cal.quality(r)).collect();
        let mean = q.iter().sum::<f64>() / q.len().max(1) as f64;
        s.push_str(&format!("{name:<32}"));
        for p in [0.0, 0.1, 0.5, 0.9, 1.0] {
            s.push_str(&format!(" {:>6.1}", calibrate::quantile(&q, p)));
        }
        s.push_str(&format!(" {mean:>6.1}\n"));
    }
    s
}
