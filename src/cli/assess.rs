//! `grafiqs assess`: detection, alignment, guidance measures and advice for whole photos or
//! camera frames, with GraFIQs quality (the shipped model unless another is given, none with
//! `--no-quality`).

use std::path::PathBuf;

use grafiqs::capture::assess::Assessor;
use grafiqs::report::AssessmentReport;
use grafiqs::{Detector, Error, Result, RgbImage};

use super::{BackendArg, ModelArgs, make_scorer, read};

#[derive(clap::Args)]
pub struct AssessArgs {
    /// Images (photos or camera frames, any size).
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Print JSON (an array with one object per image) instead of text.
    #[arg(long)]
    json: bool,
    /// Also write the main face's aligned 112×112 crop of each image into this folder.
    #[arg(long)]
    crops: Option<PathBuf>,
    /// Recognition model for GraFIQs quality (default: the shipped model).
    #[command(flatten)]
    model: ModelArgs,
    /// Guidance only: no recognition model, no GraFIQs quality.
    #[arg(long, conflicts_with_all = ["model", "weights"])]
    no_quality: bool,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendArg::Cpu)]
    backend: BackendArg,
}

pub fn run(args: AssessArgs) -> Result<i32> {
    let detector = match args.backend {
        BackendArg::Cpu => Detector::bundled()?,
        BackendArg::Wgpu => {
            #[cfg(feature = "wgpu")]
            {
                Detector::on_device(
                    grafiqs::capture::detect::BUNDLED_MODEL,
                    &grafiqs::device::wgpu_device()?,
                    grafiqs::BackendKind::Wgpu,
                )?
            }
            #[cfg(not(feature = "wgpu"))]
            {
                return Err(Error::Backend(
                    "this build has no wgpu backend (rebuild with `--features wgpu`)".into(),
                ));
            }
        }
    };
    let scorer = if args.no_quality {
        None
    } else {
        Some(make_scorer(args.model.load()?, args.backend)?)
    };
    let model_name = scorer.as_ref().map(|s| s.model().name().to_string());
    let assessor = Assessor::new(detector, scorer);
    if let Some(dir) = &args.crops {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut out = Vec::new();
    let mut failures = 0;
    for path in &args.images {
        let a = match read(path)
            .and_then(|b| RgbImage::decode(&b))
            .and_then(|img| assessor.assess(&img, true))
        {
            Ok(a) => a,
            Err(e) => {
                failures += 1;
                eprintln!("skipping {}: {e}", path.display());
                continue;
            }
        };
        if let (Some(dir), Some(face)) = (&args.crops, a.faces.first()) {
            let name = path
                .file_stem()
                .map_or("face".into(), |s| s.to_string_lossy().into_owned());
            let file = dir.join(format!("{name}.png"));
            let crop = &face.aligned;
            image::save_buffer(
                &file,
                &crop.to_rgb8(),
                crop.width() as u32,
                crop.height() as u32,
                image::ExtendedColorType::Rgb8,
            )
            .map_err(|e| Error::Image(e.to_string()).context(file.display().to_string()))?;
        }
        if args.json {
            #[derive(serde::Serialize)]
            struct Item<'a> {
                path: String,
                #[serde(flatten)]
                report: AssessmentReport<'a>,
            }
            let item = Item {
                path: path.display().to_string(),
                report: AssessmentReport::new(&a, model_name.as_deref(), false),
            };
            out.push(
                serde_json::to_value(&item).map_err(|e| Error::Internal(format!("JSON: {e}")))?,
            );
        } else {
            println!(
                "{} ({}x{}): {} face(s)",
                path.display(),
                a.width,
                a.height,
                a.faces.len()
            );
            for (i, f) in a.faces.iter().enumerate() {
                let m = &f.measures;
                println!(
                    "  face {i}: box [{:.0}, {:.0}, {:.0}, {:.0}] p={:.3} eyes {:.0} px, yaw {:.0}° pitch {:.0}° roll {:.0}°, brightness {:.0}, sharpness {:.0}{}",
                    f.bbox[0],
                    f.bbox[1],
                    f.bbox[2],
                    f.bbox[3],
                    f.confidence,
                    m.face_size.value,
                    m.yaw.value,
                    m.pitch.value,
                    m.roll.value,
                    m.brightness.value,
                    m.sharpness.value,
                    f.quality
                        .map_or(String::new(), |q| format!(", quality {q:.0}"))
                );
            }
            if a.advice.is_empty() {
                println!("  ready: all checks pass");
            }
            for adv in &a.advice {
                println!("  advice: {} ({})", adv.message(), adv.code());
            }
        }
    }
    if args.json {
        let text = serde_json::to_string_pretty(&out)
            .map_err(|e| Error::Internal(format!("JSON: {e}")))?;
        println!("{text}");
    }
    Ok(if failures > 0 { 1 } else { 0 })
}
