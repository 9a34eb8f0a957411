//! `grafiqs score`: the reference tool's interface and output files, plus batching, JSON,
//! explicit file lists, a progress bar and backend choice.

use std::io::Write;
use std::path::{Path, PathBuf};

use grafiqs::report::ScoreReport;
use grafiqs::{ChannelOrder, Error, Result, RgbImage, ScoreKind, Scored};
use indicatif::{ProgressBar, ProgressStyle};

use super::{BackendArg, ModelArgs, make_scorer, read};

#[derive(clap::Args)]
pub struct ScoreArgs {
    /// Folder whose `*.<image-extension>` files are scored (sorted by name).
    #[arg(long)]
    image_path: Option<PathBuf>,
    /// Extension of the images in --image-path.
    #[arg(long, default_value = "jpg")]
    image_extension: String,
    /// Image files to score (in addition to --image-path).
    files: Vec<PathBuf>,
    /// A text file listing image paths, one per line.
    #[arg(long)]
    file_list: Option<PathBuf>,
    /// Folder for GraFIQs_image.txt, GraFIQs_block1.txt … GraFIQs_block4.txt.
    #[arg(long, default_value = ".")]
    output_dir: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    /// Feed RGB to the network. Without it, channels are fed in BGR order exactly like the
    /// reference tool (which reads with OpenCV and only converts with this flag).
    #[arg(long)]
    bgr2rgb: bool,
    /// Rewrite this path prefix in the output files …
    #[arg(long, requires = "path_replace_with")]
    path_replace: Option<String>,
    /// … with this one.
    #[arg(long, requires = "path_replace")]
    path_replace_with: Option<String>,
    /// Accepted for compatibility with the reference tool (use --backend to pick a GPU).
    #[arg(long, num_args = 0..=1, default_missing_value = "0")]
    gpu: Option<String>,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendArg::Cpu)]
    backend: BackendArg,
    /// Images per forward/backward pass.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    batch_size: u32,
    /// Also write all results (five scores, quality 0-100, loss) as JSON to this file (`-` for stdout).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Include the face embeddings in the JSON output.
    #[arg(long, requires = "json")]
    embeddings: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

fn collect(args: &ScoreArgs) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if let Some(dir) = &args.image_path {
        let ext = args.image_extension.trim_start_matches('.');
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| {
                Path::new(n)
                    .extension()
                    .is_some_and(|x| x.to_string_lossy() == ext)
            })
            .collect();
        names.sort();
        out.extend(names.into_iter().map(|n| dir.join(n)));
    }
    if let Some(list) = &args.file_list {
        let text = String::from_utf8_lossy(&read(list)?).into_owned();
        out.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(PathBuf::from),
        );
    }
    out.extend(args.files.iter().cloned());
    if out.is_empty() {
        return Err(Error::Input(
            "no images: give --image-path, --file-list or image files".into(),
        ));
    }
    Ok(out)
}

fn display_path(p: &Path, args: &ScoreArgs) -> String {
    let s = p.display().to_string();
    match (&args.path_replace, &args.path_replace_with) {
        (Some(a), Some(b)) if s.starts_with(a.as_str()) => format!("{b}{}", &s[a.len()..]),
        _ => s,
    }
}

pub fn run(args: ScoreArgs) -> Result<i32> {
    let paths = collect(&args)?;
    let model = args.model.load()?;
    let scorer = make_scorer(model, args.backend)?;
    let order = if args.bgr2rgb {
        ChannelOrder::Rgb
    } else {
        ChannelOrder::Bgr
    };
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        let b = ProgressBar::new(paths.len() as u64);
        b.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} images {per_sec} eta {eta}")
                .expect("valid template"),
        );
        b
    };
    let mut results: Vec<(String, Scored)> = Vec::with_capacity(paths.len());
    let mut failures = 0usize;
    for chunk in paths.chunks(args.batch_size as usize) {
        let mut faces = Vec::with_capacity(chunk.len());
        let mut names = Vec::with_capacity(chunk.len());
        for p in chunk {
            match read(p).and_then(|b| RgbImage::decode(&b)) {
                Ok(img) => {
                    faces.push(img);
                    names.push(display_path(p, &args));
                }
                Err(e) => {
                    failures += 1;
                    bar.suspend(|| eprintln!("skipping {}: {e}", p.display()));
                }
            }
            bar.inc(1);
        }
        let scored = scorer.score_ordered(&faces, order)?;
        results.extend(names.into_iter().zip(scored));
    }
    bar.finish_and_clear();

    std::fs::create_dir_all(&args.output_dir).map_err(|e| Error::io(&args.output_dir, e))?;
    for kind in ScoreKind::ALL {
        let path = args.output_dir.join(format!("GraFIQs_{}.txt", kind.name()));
        let mut text = String::new();
        for (name, r) in &results {
            text.push_str(&format!("{name} {}\n", r.scores.get(kind) as f32));
        }
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    }
    if let Some(json) = &args.json {
        #[derive(serde::Serialize)]
        struct Item<'a> {
            path: &'a str,
            #[serde(flatten)]
            report: ScoreReport<'a>,
        }
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Report<'a> {
            model: &'a str,
            architecture: &'a str,
            backend: &'a str,
            channel_order: &'a str,
            results: Vec<Item<'a>>,
        }
        let model = scorer.model().name();
        let report = Report {
            model,
            architecture: &scorer.model().meta().architecture,
            backend: scorer.backend().name(),
            channel_order: if args.bgr2rgb { "rgb" } else { "bgr" },
            results: results
                .iter()
                .map(|(name, r)| Item {
                    path: name,
                    report: ScoreReport::new(r, model, args.embeddings),
                })
                .collect(),
        };
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| Error::Internal(format!("JSON: {e}")))?;
        if json.as_os_str() == "-" {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
        } else {
            std::fs::write(json, text).map_err(|e| Error::io(json, e))?;
        }
    }
    if !args.quiet {
        eprintln!(
            "scored {} image(s) on {} into {}{}",
            results.len(),
            scorer.backend().name(),
            args.output_dir.display(),
            if failures > 0 {
                format!("; {failures} unreadable image(s) skipped")
            } else {
                String::new()
            }
        );
    }
    Ok(if failures > 0 { 1 } else { 0 })
}
