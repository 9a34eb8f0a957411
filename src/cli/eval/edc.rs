//! `grafiqs eval edc`: Error-versus-Discard curves of quality files (JSON, CSV, SVG).

use std::io::Write;
use std::path::PathBuf;

use grafiqs::eval::edc::{self, DEFAULT_RANDOM_ORDERS, DEFAULT_RANDOM_SEED, Edc, RandomBaseline};
use grafiqs::eval::{Orientation, Pair, Protocol, io};
use grafiqs::{Error, Result};
use serde_json::{Value, json};

use super::{ProtocolArg, read_text};

#[derive(clap::Args)]
pub struct EdcArgs {
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

pub fn run(args: EdcArgs) -> Result<i32> {
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
