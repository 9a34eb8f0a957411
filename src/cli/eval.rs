//! `grafiqs eval …`: evaluation of quality scores. `eval edc` computes Error-versus-Discard
//! curves (see `grafiqs::eval::edc` for every definition) and writes JSON, CSV and an SVG plot.
//! `eval degrade` sweeps controlled degradations over clean faces and reports how each raw
//! score follows the damage (see `grafiqs::eval::degrade`).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use grafiqs::eval::degrade::{
    self as deg, Degradation, DegradeReport, IdentifiedFace, LEVELS, SameDifferent,
};
use grafiqs::eval::edc::{self, DEFAULT_RANDOM_ORDERS, DEFAULT_RANDOM_SEED, Edc, RandomBaseline};
use grafiqs::eval::{Orientation, Pair, Protocol, io};
use grafiqs::{Error, Result, ScoreKind};
use serde_json::{Value, json};

use super::{BackendArg, ModelArgs, aligned_faces, assets_dir, make_scorer, read, read_labelled};

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
    Edc(EdcArgs),
    /// Degradation sweep: blur, noise, darkening, lower-face occlusion and JPEG at five
    /// severities on clean aligned faces; pooled Spearman correlation of severity with each
    /// raw score.
    Degrade(DegradeArgs),
    /// A verification benchmark's pair protocol: aligns every face from its landmarks, then
    /// reports accuracy, TAR at the FMR, and each raw score's EDC with the random baseline.
    Pairs(pairs::PairsArgs),
}

/// Threshold protocol on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ProtocolArg {
    /// Threshold re-estimated on the remaining pairs at every step (CR-FIQA code).
    Reestimate,
    /// Threshold fixed from the full set (ISO/IEC 29794-1, NIST).
    Fixed,
}

#[derive(clap::Args)]
struct EdcArgs {
    /// Comparisons: `pathA pathB is_same similarity` lines (is_same: 1/0, true/false,
    /// same/diff or genuine/impostor; similarity: higher = more alike).
    #[arg(long)]
    comparisons: PathBuf,
    /// Quality scores: `path score` lines (e.g. GraFIQs_image.txt); repeat for several methods.
    #[arg(long, required = true)]
    quality: Vec<PathBuf>,
    /// Names of the methods in the outputs, one per --quality (default: the file names
    /// without extension).
    #[arg(long)]
    label: Vec<String>,
    /// Quality scores are larger = better (most FIQA tools).
    #[arg(long, conflicts_with = "lower_is_better")]
    higher_is_better: bool,
    /// Quality scores are larger = worse (raw GraFIQs scores; the default).
    #[arg(long)]
    lower_is_better: bool,
    /// Target false match rate, in (0, 1).
    #[arg(long, default_value_t = 1e-3)]
    fmr: f64,
    /// How the threshold is obtained at each discard step.
    #[arg(long, value_enum)]
    protocol: ProtocolArg,
    /// Write the curves and areas as JSON to this file (`-` for stdout).
    #[arg(long)]
    json: PathBuf,
    /// Also write the curves as CSV, one row per method and discard step.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Also plot the curves (one per method, and the random baseline) as SVG.
    #[arg(long)]
    svg: Option<PathBuf>,
    /// Random discard orders averaged for the random baseline (0: no baseline). The orders
    /// are Fisher–Yates shuffles driven by SplitMix64 from --random-seed.
    #[arg(long, default_value_t = DEFAULT_RANDOM_ORDERS)]
    random_orders: usize,
    /// Seed of the random baseline's generator.
    #[arg(long, default_value_t = DEFAULT_RANDOM_SEED)]
    random_seed: u64,
    /// No summary on stderr.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: EvalArgs) -> Result<i32> {
    match args.command {
        EvalCommand::Edc(a) => run_edc(a),
        EvalCommand::Degrade(a) => run_degrade(a),
        EvalCommand::Pairs(a) => pairs::run(a),
    }
}

fn read_text(path: &Path) -> Result<String> {
    String::from_utf8(read(path)?)
        .map_err(|_| Error::Input(format!("{}: not UTF-8 text", path.display())))
}

/// One evaluated quality file.
struct Method {
    name: String,
    file: String,
    edc: Edc,
}

fn labels(args: &EdcArgs) -> Result<Vec<String>> {
    if !args.label.is_empty() {
        if args.label.len() != args.quality.len() {
            return Err(Error::Input(format!(
                "{} --label for {} --quality: give one label per quality file or none",
                args.label.len(),
                args.quality.len()
            )));
        }
        return Ok(args.label.clone());
    }
    let stems: Vec<String> = args
        .quality
        .iter()
        .map(|p| {
            p.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| p.display().to_string())
        })
        .collect();
    Ok(stems
        .iter()
        .zip(&args.quality)
        .map(|(s, p)| {
            if stems.iter().filter(|t| *t == s).count() > 1 {
                p.display().to_string()
            } else {
                s.clone()
            }
        })
        .collect())
}

fn run_edc(args: EdcArgs) -> Result<i32> {
    let orientation = if args.higher_is_better {
        Orientation::HigherIsBetter
    } else {
        Orientation::LowerIsBetter
    };
    let protocol = match args.protocol {
        ProtocolArg::Reestimate => Protocol::Reestimate,
        ProtocolArg::Fixed => Protocol::Fixed,
    };
    let names = labels(&args)?;
    let comp_src = args.comparisons.display().to_string();
    let comparisons = io::parse_comparisons(&read_text(&args.comparisons)?, &comp_src)?;

    let mut methods = Vec::with_capacity(args.quality.len());
    let mut first_pairs: Option<Vec<Pair>> = None;
    for (path, name) in args.quality.iter().zip(names) {
        let src = path.display().to_string();
        let quality = io::parse_quality(&read_text(path)?, &src)?;
        let pairs = io::pairs(&comparisons, &quality, orientation, &comp_src)?;
        let curve = edc::edc(&pairs, args.fmr, protocol)?;
        methods.push(Method {
            name,
            file: src,
            edc: curve,
        });
        first_pairs.get_or_insert(pairs);
    }
    let pairs = first_pairs.ok_or_else(|| Error::Input("no --quality file given".into()))?;
    let random = if args.random_orders > 0 {
        Some(edc::random_baseline(
            &pairs,
            args.fmr,
            protocol,
            args.random_orders,
            args.random_seed,
        )?)
    } else {
        None
    };

    let genuine = pairs.iter().filter(|p| p.genuine).count();
    let value = to_json(
        &args,
        orientation,
        protocol,
        (pairs.len(), genuine),
        &methods,
        random.as_ref(),
    );
    let text = serde_json::to_string_pretty(&value).expect("JSON");
    if args.json.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
    } else {
        std::fs::write(&args.json, text + "\n").map_err(|e| Error::io(&args.json, e))?;
    }
    if let Some(path) = &args.csv {
        std::fs::write(path, to_csv(&methods, random.as_ref())).map_err(|e| Error::io(path, e))?;
    }
    if let Some(path) = &args.svg {
        let title = format!(
            "EDC: FNMR at FMR = {} ({} threshold)",
            args.fmr,
            protocol.name()
        );
        let svg = plot(&title, &methods, random.as_ref())?;
        std::fs::write(path, svg).map_err(|e| Error::io(path, e))?;
    }
    if !args.quiet {
        eprintln!(
            "{} comparisons ({genuine} genuine, {} impostor), FMR {}, {} threshold, quality {}",
            pairs.len(),
            pairs.len() - genuine,
            args.fmr,
            protocol.name(),
            orientation.name()
        );
        eprintln!(
            "{:<24} {:>9} {:>9} {:>9}",
            "method", "AUC", "pAUC0.2", "pAUC0.3"
        );
        let rows = methods
            .iter()
            .map(|m| (m.name.as_str(), &m.edc.curve))
            .chain(random.as_ref().map(|r| ("random", &r.curve)));
        for (name, c) in rows {
            eprintln!(
                "{name:<24} {:>9.5} {:>9.5} {:>9.5}",
                c.auc, c.pauc_02, c.pauc_03
            );
        }
    }
    Ok(0)
}

fn method_json(m: &Method, orientation: Orientation) -> Value {
    let mut v = json!({ "method": m.name, "quality_file": m.file, "orientation": orientation });
    if let (Value::Object(obj), Value::Object(curve)) = (&mut v, json!(m.edc)) {
        obj.extend(curve);
    }
    v
}

fn to_json(
    args: &EdcArgs,
    orientation: Orientation,
    protocol: Protocol,
    (total, genuine): (usize, usize),
    methods: &[Method],
    random: Option<&RandomBaseline>,
) -> Value {
    let mut v = json!({
        "protocol": protocol,
        "fmr": args.fmr,
        "orientation": orientation,
        "comparisons_file": args.comparisons.display().to_string(),
        "comparisons": { "total": total, "genuine": genuine, "impostor": total - genuine },
        "discard": edc::discard_fractions(),
    });
    let obj = v.as_object_mut().expect("object");
    if let [single] = methods {
        if let Value::Object(m) = method_json(single, orientation) {
            obj.extend(m);
        }
    } else {
        obj.insert(
            "methods".into(),
            Value::Array(
                methods
                    .iter()
                    .map(|m| method_json(m, orientation))
                    .collect(),
            ),
        );
    }
    obj.insert("random".into(), json!(random));
    v
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn to_csv(methods: &[Method], random: Option<&RandomBaseline>) -> String {
    let mut s =
        String::from("method,discard,fnmr,threshold,genuine_remaining,impostor_remaining\n");
    for m in methods {
        let e = &m.edc;
        let name = csv_field(&m.name);
        for k in 0..e.curve.fnmr.len() {
            s.push_str(&format!(
                "{name},{},{},{},{},{}\n",
                e.curve.discard[k],
                e.curve.fnmr[k],
                e.threshold[k],
                e.genuine_remaining[k],
                e.impostor_remaining[k]
            ));
        }
    }
    if let Some(r) = random {
        for (d, f) in r.curve.discard.iter().zip(&r.curve.fnmr) {
            s.push_str(&format!("random,{d},{f},,,\n"));
        }
    }
    s
}

fn plot(title: &str, methods: &[Method], random: Option<&RandomBaseline>) -> Result<String> {
    use plotters::prelude::*;

    let fail = |e: &dyn std::fmt::Display| Error::Input(format!("SVG plot: {e}"));
    let ymax = methods
        .iter()
        .flat_map(|m| m.edc.curve.fnmr.iter())
        .chain(random.iter().flat_map(|r| r.curve.fnmr.iter()))
        .fold(0.0f64, |a, &b| a.max(b));
    let ymax = if ymax > 0.0 { ymax * 1.05 } else { 1.0 };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (820, 560)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0f64..0.95f64, 0.0f64..ymax)
            .map_err(|e| fail(&e))?;
        chart
            .configure_mesh()
            .x_desc("fraction of comparisons discarded (lowest quality first)")
            .y_desc("FNMR")
            .x_labels(20)
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(|e| fail(&e))?;
        for (i, m) in methods.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let c = &m.edc.curve;
            chart
                .draw_series(LineSeries::new(
                    c.discard.iter().copied().zip(c.fnmr.iter().copied()),
                    color.stroke_width(2),
                ))
                .map_err(|e| fail(&e))?
                .label(format!("{} (AUC {:.4})", m.name, c.auc))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        if let Some(r) = random {
            let c = &r.curve;
            let style = BLACK.mix(0.6).stroke_width(2);
            chart
                .draw_series(DashedLineSeries::new(
                    c.discard.iter().copied().zip(c.fnmr.iter().copied()),
                    6,
                    4,
                    style,
                ))
                .map_err(|e| fail(&e))?
                .label(format!("random, {} orders (AUC {:.4})", r.orders, c.auc))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| fail(&e))?;
        root.present().map_err(|e| fail(&e))?;
    }
    Ok(svg)
}

#[derive(clap::Args)]
struct DegradeArgs {
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
fn detect_and_align(rows: Vec<super::LabelledFace>) -> Result<Vec<IdentifiedFace>> {
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

fn run_degrade(args: DegradeArgs) -> Result<i32> {
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
        scorer.model().meta.architecture,
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
    let sd = deg::same_different(
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
        "model": scorer.model().meta.architecture,
        "backend": scorer.backend().name(),
        "faces_dir": faces_dir.display().to_string(),
        "faces": report.faces,
        "degradations": Degradation::ALL.iter().map(|d| d.name()).collect::<Vec<_>>(),
        "spearman": spearman,
        "sweeps": report.sweeps,
        "same_different": same_different,
    })
}
