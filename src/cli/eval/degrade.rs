//! `grafiqs eval degrade`: controlled degradations of clean faces, and how each raw score
//! follows them (see `grafiqs::eval::sweep`).

use std::io::Write;
use std::path::{Path, PathBuf};

use grafiqs::eval::same_different::{self, IdentifiedFace, SameDifferent};
use grafiqs::eval::sweep::{self as deg, Degradation, DegradeReport, LEVELS};
use grafiqs::eval::{Protocol, edc};
use grafiqs::{Error, Result, ScoreKind};
use serde_json::{Value, json};

use super::super::{BackendArg, ModelArgs, aligned_faces, assets_dir, make_scorer, read_labelled};

#[derive(clap::Args)]
pub struct DegradeArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Folder of clean faces with a labels.csv (`file,identity,width,height,kind,landmarks`
    /// as in the test assets' faces/lfw-colour; landmarks `x1 y1 … x5 y5` for left eye, right
    /// eye, nose, left and right mouth corner). Faces are aligned to 112x112 with their
    /// landmarks. Default: <assets>/faces/lfw-colour, where <assets> is $GRAFIQS_ASSETS or
    /// ../shared/assets.
    #[arg(long)]
    faces: Option<PathBuf>,
    /// Folder of faces with identities but without landmarks (labels.csv `file,identity`) for
    /// the same/different-person EDC check; it needs a face detector. Default:
    /// <assets>/faces/lfw-gray-crops when present.
    #[arg(long)]
    crops: Option<PathBuf>,
    /// Target FMR of the same/different-person EDC check.
    #[arg(long, default_value_t = 1e-3)]
    fmr: f64,
    /// Other level parameters for one degradation, `NAME=P1,P2,P3,P4,P5` mild → severe
    /// (repeatable), e.g. `--levels blur=1,2,3,4,5 --levels jpeg=50,30,20,10,5`. NAME is
    /// blur (Gaussian sigma, px), noise (Gaussian sigma, 8-bit levels), dark (brightness
    /// offset subtracted, 8-bit levels), occlusion (lower fraction blacked out) or jpeg
    /// (quality, 4:2:0).
    #[arg(long, value_name = "NAME=P1,..,P5")]
    levels: Vec<String>,
    /// Write the full report (level parameters, every raw score, correlations) as JSON to this
    /// file (`-` for stdout).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the level parameters and the correlation table as Markdown to this file.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendArg::Cpu)]
    backend: BackendArg,
    /// Images per forward/backward pass.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    batch_size: u32,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// The outcome of the same/different-person check.
type SameDiffOutcome = Box<SameDifferent>;

/// Finds and aligns faces without landmarks with the bundled MTCNN detector: the most
/// confident face of each image. Images where no face is found are left out (and named).
fn detect_and_align(rows: Vec<super::super::LabelledFace>) -> Result<Vec<IdentifiedFace>> {
    let detector = grafiqs::Detector::bundled()?;
    let mut out = Vec::with_capacity(rows.len());
    let mut missed = Vec::new();
    for r in rows {
        match detector.detect(&r.image)?.first() {
            Some(face) => out.push(IdentifiedFace {
                face: grafiqs::align::align_face(&r.image, &face.landmarks_f64())?,
                name: r.file,
                identity: r.identity,
            }),
            None => missed.push(r.file),
        }
    }
    if !missed.is_empty() {
        eprintln!(
            "no face found in {} image(s): {}",
            missed.len(),
            missed.join(", ")
        );
    }
    Ok(out)
}

pub fn run(args: DegradeArgs) -> Result<i32> {
    let faces_dir = match &args.faces {
        Some(d) => d.clone(),
        None => {
            let d = assets_dir().join("faces/lfw-colour");
            if !d.join("labels.csv").is_file() {
                return Err(Error::Input(format!(
                    "no --faces folder given and the default {} has no labels.csv",
                    d.display()
                )));
            }
            d
        }
    };
    let mut levels = deg::SweepLevels::default();
    for spec in &args.levels {
        levels.set_from_spec(spec)?;
    }
    let faces = aligned_faces(&faces_dir)?;
    let model = args.model.load()?;
    let scorer = make_scorer(model, args.backend)?;
    let bar = if args.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} images eta {eta}")
                .expect("valid template"),
        );
        b
    };
    let report = deg::degrade_report(
        &scorer,
        &faces,
        &levels,
        args.batch_size as usize,
        |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        },
    )?;
    bar.finish_and_clear();

    let crops = match &args.crops {
        Some(d) => Some(d.clone()),
        None => Some(assets_dir().join("faces/lfw-gray-crops")).filter(|d| d.is_dir()),
    };
    let same_diff = match &crops {
        None => None,
        Some(dir) => Some(same_different_check(&scorer, dir, &args)?),
    };

    let table = text_table(&report);
    let json_to_stdout = args.json.as_ref().is_some_and(|p| p.as_os_str() == "-");
    let summary = format!(
        "{} faces from {}, {} degradations x {LEVELS} levels (+ clean), {} on {}\n{table}",
        report.faces.len(),
        faces_dir.display(),
        report.sweeps.len(),
        scorer.model().meta().architecture,
        scorer.backend().name(),
    );
    let same_diff_line = same_diff.as_ref().map(|sd| same_diff_summary(sd));
    if json_to_stdout {
        eprint!("{summary}");
        if let Some(l) = &same_diff_line {
            eprintln!("{l}");
        }
    } else {
        print!("{summary}");
        if let Some(l) = &same_diff_line {
            println!("{l}");
        }
    }
    if let Some(path) = &args.json {
        let value = degrade_json(&scorer, &faces_dir, &report, same_diff.as_ref());
        let text = serde_json::to_string_pretty(&value).expect("JSON");
        if json_to_stdout {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
        } else {
            std::fs::write(path, text + "\n").map_err(|e| Error::io(path, e))?;
        }
    }
    if let Some(path) = &args.markdown {
        std::fs::write(path, markdown(&report)).map_err(|e| Error::io(path, e))?;
    }
    Ok(0)
}

fn same_different_check(
    scorer: &grafiqs::Scorer,
    dir: &Path,
    args: &DegradeArgs,
) -> Result<SameDiffOutcome> {
    // Reading the labels first makes a broken folder an error rather than a skip.
    let rows = read_labelled(dir)?;
    let faces = if rows.iter().all(|r| r.landmarks.is_some()) {
        rows.into_iter()
            .map(|r| {
                let lm = r.landmarks.expect("checked");
                Ok(IdentifiedFace {
                    face: grafiqs::align::align_face(&r.image, &lm)?,
                    name: r.file,
                    identity: r.identity,
                })
            })
            .collect::<Result<Vec<_>>>()?
    } else {
        detect_and_align(rows)?
    };
    let sd = same_different::same_different(
        scorer,
        &faces,
        args.batch_size as usize,
        args.fmr,
        Protocol::Reestimate,
        edc::DEFAULT_RANDOM_ORDERS,
    )?;
    Ok(Box::new(sd))
}

fn same_diff_summary(sd: &SameDifferent) -> String {
    let mut s = format!(
        "same/different-person EDC ({} faces, {} identities; {} genuine, {} impostor pairs; \
         mean cosine {:.3} / {:.3}; FMR {}, {} threshold)\n{:<8} {:>9} {:>9} {:>9}\n",
        sd.faces,
        sd.identities,
        sd.genuine,
        sd.impostor,
        sd.mean_similarity[0],
        sd.mean_similarity[1],
        sd.fmr,
        sd.protocol.name(),
        "score",
        "AUC",
        "pAUC0.2",
        "pAUC0.3"
    );
    let rows = sd
        .curves
        .iter()
        .map(|c| (c.score.name(), &c.edc.curve))
        .chain(std::iter::once(("random", &sd.random.curve)));
    for (name, c) in rows {
        s.push_str(&format!(
            "{name:<8} {:>9.5} {:>9.5} {:>9.5}\n",
            c.auc, c.pauc_02, c.pauc_03
        ));
    }
    s.pop();
    s
}

fn text_table(report: &DegradeReport) -> String {
    let mut s = String::from(
        "pooled Spearman correlation of severity (0..5) with the raw score (larger = worse)\n",
    );
    s.push_str(&format!("{:<10}", "degrade"));
    for k in ScoreKind::ALL {
        s.push_str(&format!(" {:>7}", k.name()));
    }
    s.push_str("   levels 1..5\n");
    for sw in &report.sweeps {
        s.push_str(&format!("{:<10}", sw.degradation.name()));
        for k in ScoreKind::ALL {
            s.push_str(&format!(" {:>7.3}", sw.spearman.get(k)));
        }
        let levels: Vec<String> = sw.levels.iter().map(|v| v.to_string()).collect();
        s.push_str(&format!("   {} = {}\n", sw.parameter, levels.join(", ")));
    }
    s
}

fn markdown(report: &DegradeReport) -> String {
    let mut s = String::from("| degradation | parameter |");
    for l in 1..=LEVELS {
        s.push_str(&format!(" {l} |"));
    }
    s.push_str("\n|---|---|");
    s.push_str(&"---|".repeat(LEVELS));
    s.push('\n');
    for sw in &report.sweeps {
        s.push_str(&format!("| {} | {} |", sw.degradation.name(), sw.parameter));
        for v in &sw.levels {
            s.push_str(&format!(" {v} |"));
        }
        s.push('\n');
    }
    s.push_str(&format!(
        "\nPooled Spearman correlation of severity (0 = clean … {LEVELS}) with the raw score, \
         {} faces × {} levels:\n\n| degradation |",
        report.faces.len(),
        LEVELS + 1
    ));
    for k in ScoreKind::ALL {
        s.push_str(&format!(" {} |", k.name()));
    }
    s.push_str("\n|---|");
    s.push_str(&"---:|".repeat(ScoreKind::ALL.len()));
    s.push('\n');
    for sw in &report.sweeps {
        s.push_str(&format!("| {} |", sw.degradation.name()));
        for k in ScoreKind::ALL {
            s.push_str(&format!(" {:.2} |", sw.spearman.get(k)));
        }
        s.push('\n');
    }
    s
}

fn degrade_json(
    scorer: &grafiqs::Scorer,
    faces_dir: &Path,
    report: &DegradeReport,
    same_diff: Option<&SameDiffOutcome>,
) -> Value {
    let spearman: serde_json::Map<String, Value> = report
        .sweeps
        .iter()
        .map(|s| (s.degradation.name().to_string(), json!(s.spearman)))
        .collect();
    let same_different = match same_diff {
        None => Value::Null,
        Some(sd) => json!(sd),
    };
    json!({
        "model": scorer.model().meta().architecture,
        "backend": scorer.backend().name(),
        "faces_dir": faces_dir.display().to_string(),
        "faces": report.faces,
        "degradations": Degradation::ALL.iter().map(|d| d.name()).collect::<Vec<_>>(),
        "spearman": spearman,
        "sweeps": report.sweeps,
        "same_different": same_different,
    })
}
