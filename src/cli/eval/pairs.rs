//! `grafiqs eval pairs`: a verification benchmark's pair protocol end to end. Each listed
//! face is aligned from its landmarks, and one scoring pass gives its embedding and its five
//! raw GraFIQs scores; the report holds the verification accuracy (10-fold style over the
//! folds present), TAR at the FMR, and for each score and a seeded random order the EDC
//! exactly as `eval edc` computes it. The comparison and quality files are written beside the
//! report, so `eval edc` can redo any curve.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use grafiqs::align::Fill;
use grafiqs::error::ResultExt;
use grafiqs::eval::edc::{self, DEFAULT_RANDOM_ORDERS, DEFAULT_RANDOM_SEED};
use grafiqs::eval::labels::parse_labels;
use grafiqs::eval::pairs::{self, ProtocolPair};
use grafiqs::eval::stats::spearman;
use grafiqs::eval::{Orientation, Pair, Protocol};
use grafiqs::{Error, Result, RgbImage, ScoreKind, Scored};
use serde_json::json;

use super::super::{BackendArg, ModelArgs, make_scorer, read};
use super::{ProtocolArg, read_text};

/// What fills the part of the aligned face outside a (cropped) image.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FillArg {
    /// Zeros.
    Black,
    /// The nearest border pixel.
    Edge,
}

#[derive(clap::Args)]
pub(super) struct PairsArgs {
    /// Folder of the images the protocol names.
    #[arg(long)]
    images: PathBuf,
    /// `labels.csv` with `file,identity,width,height,kind,landmarks` rows (landmarks
    /// `x1 y1 … x5 y5`: left eye, right eye, nose, left and right mouth corner, image pixels).
    #[arg(long)]
    labels: PathBuf,
    /// Protocol: `imageA imageB same|diff fold` lines.
    #[arg(long)]
    pairs: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    /// What fills the aligned face outside the image.
    #[arg(long, value_enum, default_value_t = FillArg::Black)]
    fill: FillArg,
    /// Target FMR for TAR and the EDC curves.
    #[arg(long, default_value_t = 1e-2)]
    fmr: f64,
    /// How the EDC threshold is obtained at each discard step.
    #[arg(long, value_enum, default_value_t = ProtocolArg::Reestimate)]
    protocol: ProtocolArg,
    /// Write the report as JSON here; `<stem>_comparisons.txt` and `<stem>_GraFIQs_<score>.txt`
    /// are written beside it.
    #[arg(long)]
    json: PathBuf,
    /// Random discard orders for the baseline.
    #[arg(long, default_value_t = DEFAULT_RANDOM_ORDERS)]
    random_orders: usize,
    /// Seed of the baseline's generator.
    #[arg(long, default_value_t = DEFAULT_RANDOM_SEED)]
    random_seed: u64,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendArg::Cpu)]
    backend: BackendArg,
    /// Images per forward/backward pass.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=256))]
    batch_size: u32,
    /// No progress bar or summary.
    #[arg(long, short)]
    quiet: bool,
}

/// A file written beside the JSON report.
fn beside(json: &Path, suffix: &str) -> PathBuf {
    let stem = json
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pairs".into());
    json.with_file_name(format!("{stem}_{suffix}"))
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb).max(f64::MIN_POSITIVE)
}

pub(super) fn run(args: PairsArgs) -> Result<i32> {
    let protocol_pairs =
        pairs::parse_pairs(&read_text(&args.pairs)?, &args.pairs.display().to_string())?;
    let labels = parse_labels(
        &read_text(&args.labels)?,
        &args.labels.display().to_string(),
    )?;
    let landmarks: HashMap<&str, [[f64; 2]; 5]> = labels
        .iter()
        .filter_map(|r| r.landmarks.map(|l| (r.file.as_str(), l)))
        .collect();
    let needed: BTreeSet<&str> = protocol_pairs
        .iter()
        .flat_map(|p| [p.a.as_str(), p.b.as_str()])
        .collect();
    let fill = match args.fill {
        FillArg::Black => Fill::Black,
        FillArg::Edge => Fill::Edge,
    };
    let scorer = make_scorer(args.model.load()?, args.backend)?;
    let bar = if args.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        let b = indicatif::ProgressBar::new(needed.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} images eta {eta}")
                .expect("valid template"),
        );
        b
    };
    let names: Vec<&str> = needed.into_iter().collect();
    let mut results: HashMap<&str, (Scored, f64)> = HashMap::with_capacity(names.len());
    for chunk in names.chunks(args.batch_size as usize) {
        let mut faces = Vec::with_capacity(chunk.len());
        let mut outside = Vec::with_capacity(chunk.len());
        for &name in chunk {
            let lm = landmarks.get(name).ok_or_else(|| {
                Error::Input(format!(
                    "{}: `{name}` has no landmarks in {}",
                    args.pairs.display(),
                    args.labels.display()
                ))
            })?;
            let path = args.images.join(name);
            let img =
                RgbImage::decode(&read(&path)?).with_context(|| path.display().to_string())?;
            outside.push(grafiqs::align::outside_fraction(&img, lm)?);
            faces.push(grafiqs::align::align_face_fill(&img, lm, fill)?);
        }
        let scored = scorer.score(&faces)?;
        for ((&name, s), o) in chunk.iter().zip(scored).zip(outside) {
            results.insert(name, (s, o));
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();

    let similarity: Vec<f64> = protocol_pairs
        .iter()
        .map(|p| {
            cosine(
                &results[p.a.as_str()].0.embedding,
                &results[p.b.as_str()].0.embedding,
            )
        })
        .collect();
    let accuracy = pairs::accuracy(&protocol_pairs, &similarity)?;
    let tar = pairs::tar_at_fmr(&protocol_pairs, &similarity, args.fmr)?;
    let protocol = match args.protocol {
        ProtocolArg::Reestimate => Protocol::Reestimate,
        ProtocolArg::Fixed => Protocol::Fixed,
    };
    let edc_pairs = |kind: ScoreKind| -> Vec<Pair> {
        protocol_pairs
            .iter()
            .zip(&similarity)
            .map(|(p, &s)| {
                let q = |f: &str| Orientation::LowerIsBetter.orient(results[f].0.scores.get(kind));
                Pair {
                    genuine: p.genuine,
                    similarity: s,
                    quality: q(&p.a).min(q(&p.b)),
                }
            })
            .collect()
    };
    let mut curves = serde_json::Map::new();
    for kind in ScoreKind::ALL {
        let e = edc::edc(&edc_pairs(kind), args.fmr, protocol)?;
        curves.insert(kind.name().into(), json!(e));
    }
    let random = if args.random_orders > 0 {
        Some(edc::random_baseline(
            &edc_pairs(ScoreKind::Image),
            args.fmr,
            protocol,
            args.random_orders,
            args.random_seed,
        )?)
    } else {
        None
    };
    // The fill confound: how much each raw score follows the share of invented pixels.
    let outside: Vec<f64> = names.iter().map(|n| results[n].1).collect();
    let confound: serde_json::Map<String, serde_json::Value> = ScoreKind::ALL
        .iter()
        .map(|&k| {
            let s: Vec<f64> = names.iter().map(|n| results[n].0.scores.get(k)).collect();
            (k.name().to_string(), json!(spearman(&outside, &s)))
        })
        .collect();
    let genuine = protocol_pairs.iter().filter(|p| p.genuine).count();
    let folds: BTreeSet<u32> = protocol_pairs.iter().map(|p| p.fold).collect();
    let files = write_files(&args.json, &protocol_pairs, &similarity, &names, &results)?;
    let report = json!({
        "model": scorer.model().name(),
        "backend": scorer.backend().name(),
        "pairs_file": args.pairs.display().to_string(),
        "images": names.len(),
        "pairs": { "total": protocol_pairs.len(), "genuine": genuine, "impostor": protocol_pairs.len() - genuine },
        "folds": folds,
        "fill": match fill { Fill::Black => "black", Fill::Edge => "edge" },
        "outside_fraction": {
            "median": median(&outside),
            "spearman_with_raw_scores": confound,
        },
        "accuracy": accuracy,
        "tar": tar,
        "fmr": args.fmr,
        "protocol": protocol,
        "discard": edc::discard_fractions(),
        "edc": curves,
        "random": random,
        "files": files,
    });
    std::fs::write(
        &args.json,
        serde_json::to_string_pretty(&report).expect("JSON") + "\n",
    )
    .map_err(|e| Error::io(&args.json, e))?;
    if !args.quiet {
        eprintln!(
            "{} pairs ({genuine} genuine) over folds {folds:?}, {} images ({} fill, median {:.0} % of the aligned face outside the image), {}",
            protocol_pairs.len(),
            names.len(),
            report["fill"].as_str().unwrap_or(""),
            100.0 * median(&outside),
            scorer.model().name(),
        );
        eprintln!(
            "accuracy {:.2} % ± {:.2}{}; TAR {:.2} % at FMR {} (threshold {:.4}, {} impostor pair(s) above it)",
            100.0 * accuracy.mean,
            100.0 * accuracy.std,
            if accuracy.cross_validated {
                ""
            } else {
                " (single fold: threshold fitted on it)"
            },
            100.0 * tar.tar,
            args.fmr,
            tar.threshold,
            tar.impostors_accepted
        );
        eprintln!(
            "EDC at FMR {} ({}): AUC / pAUC0.2 / pAUC0.3",
            args.fmr,
            protocol.name()
        );
        for kind in ScoreKind::ALL {
            let c = &curves[kind.name()];
            eprintln!(
                "  {:<7} {:.4} / {:.4} / {:.4}",
                kind.name(),
                c["auc"].as_f64().unwrap_or(f64::NAN),
                c["pauc_0.2"].as_f64().unwrap_or(f64::NAN),
                c["pauc_0.3"].as_f64().unwrap_or(f64::NAN)
            );
        }
        if let Some(r) = &random {
            eprintln!(
                "  {:<7} {:.4} / {:.4} / {:.4}",
                "random", r.curve.auc, r.curve.pauc_02, r.curve.pauc_03
            );
        }
    }
    Ok(0)
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// Writes the comparison file and one quality file per score beside the report; returns
/// their paths.
fn write_files(
    json_path: &Path,
    protocol_pairs: &[ProtocolPair],
    similarity: &[f64],
    names: &[&str],
    results: &HashMap<&str, (Scored, f64)>,
) -> Result<serde_json::Value> {
    let mut text = String::new();
    for (p, s) in protocol_pairs.iter().zip(similarity) {
        text.push_str(&format!(
            "{} {} {} {s}\n",
            p.a,
            p.b,
            if p.genuine { 1 } else { 0 }
        ));
    }
    let comparisons = beside(json_path, "comparisons.txt");
    std::fs::write(&comparisons, text).map_err(|e| Error::io(&comparisons, e))?;
    let mut quality = serde_json::Map::new();
    for kind in ScoreKind::ALL {
        let path = beside(json_path, &format!("GraFIQs_{}.txt", kind.name()));
        let mut t = String::new();
        for n in names {
            t.push_str(&format!("{n} {}\n", results[n].0.scores.get(kind)));
        }
        std::fs::write(&path, t).map_err(|e| Error::io(&path, e))?;
        quality.insert(kind.name().into(), json!(path.display().to_string()));
    }
    Ok(json!({ "comparisons": comparisons.display().to_string(), "quality": quality }))
}
