//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use grafiqs::{Model, RgbImage, ScoreKind, Scorer};

/// `tests/fixtures`.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The shared test assets (`../shared/assets`, or `$GRAFIQS_ASSETS`). `None` (and a note on
/// stderr) when absent, unless `GRAFIQS_REQUIRE_ASSETS=1`, which turns absence into a failure.
pub fn assets() -> Option<PathBuf> {
    let dir = std::env::var_os("GRAFIQS_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/assets"));
    if dir.join("models").is_dir() {
        return Some(dir);
    }
    if std::env::var("GRAFIQS_REQUIRE_ASSETS").as_deref() == Ok("1") {
        panic!(
            "test assets not found at {} (GRAFIQS_REQUIRE_ASSETS=1)",
            dir.display()
        );
    }
    eprintln!("SKIPPED: test assets not found at {}", dir.display());
    None
}

/// Relative difference `|a − b| / max(|b|, tiny)`.
pub fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-30)
}

pub fn read(p: impl AsRef<std::path::Path>) -> Vec<u8> {
    std::fs::read(p.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", p.as_ref().display()))
}

pub fn json(p: impl AsRef<std::path::Path>) -> serde_json::Value {
    serde_json::from_slice(&read(p)).expect("valid JSON")
}

/// The real InsightFace MobileFaceNet, imported from its MXNet files.
pub fn mobilefacenet(assets: &std::path::Path) -> Model {
    let dir = assets.join("models/insightface-mobilefacenet-y1");
    let params = read(dir.join("model-0000.params"));
    let symbol = String::from_utf8(read(dir.join("model-symbol.json"))).unwrap();
    Model::from_mxnet(&params, &symbol, "mobilefacenet", None, "model-0000.params").unwrap()
}

/// The Apache-2.0 PyTorch MobileFaceNet (ReLU6), imported from its legacy-format checkpoint.
pub fn foamliu(assets: &std::path::Path) -> Model {
    let pt = assets.join("models/foamliu-mobilefacenet/mobilefacenet.pt");
    Model::from_torch(&read(pt), "mobilefacenet-relu6", "mobilefacenet.pt").unwrap()
}

/// The tiny iResNet fixture checkpoint.
pub fn tiny_model() -> Model {
    Model::from_torch(
        &read(fixtures().join("tiny_iresnet.pth")),
        "iresnet",
        "tiny_iresnet.pth",
    )
    .unwrap()
}

/// One scorer per backend this build can run: CPU always, wgpu with the `wgpu` feature
/// (whose absence of an adapter is a failure: the test command installs Mesa's lavapipe).
pub fn scorers(model: &Model) -> Vec<(&'static str, Scorer)> {
    #[allow(unused_mut)]
    let mut v = vec![("cpu", Scorer::cpu(model.clone()).unwrap())];
    #[cfg(feature = "wgpu")]
    v.push((
        "wgpu",
        Scorer::wgpu(model.clone()).expect("a wgpu adapter (Mesa lavapipe)"),
    ));
    v
}

/// The 12 colour LFW faces aligned to 112×112 with their annotated landmarks.
pub fn lfw_colour_aligned(assets: &std::path::Path) -> Vec<(String, RgbImage)> {
    let dir = assets.join("faces/lfw-colour");
    let csv = String::from_utf8(read(dir.join("labels.csv"))).unwrap();
    let mut out = Vec::new();
    for line in csv.lines().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        let nums: Vec<f64> = cols[5]
            .split_whitespace()
            .map(|v| v.parse().unwrap())
            .collect();
        if nums.len() != 10 {
            continue;
        }
        let lm: [[f64; 2]; 5] = std::array::from_fn(|i| [nums[2 * i], nums[2 * i + 1]]);
        let img = RgbImage::decode(&read(dir.join(cols[0]))).unwrap();
        out.push((
            cols[0].to_string(),
            grafiqs::align::align_face(&img, &lm).unwrap(),
        ));
    }
    out
}

/// Spearman rank correlation (the library's implementation, average ranks for ties).
#[allow(unused_imports)]
pub use grafiqs::eval::stats::spearman;

/// Runs the `grafiqs` binary built for these tests.
pub fn grafiqs(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_grafiqs"))
        .args(args)
        .output()
        .expect("run grafiqs")
}

/// A fresh, empty temporary folder for one test.
pub fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("grafiqs-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A path as `&str` for command arguments.
pub fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

/// The standard error of a finished command.
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Compares one scored face with a reference case (`scores`, `loss`, `embedding`): every
/// score and the loss within relative `tol`, the embedding within max-abs `emb_tol`. Returns
/// the worst relative score error.
pub fn check_case(
    label: &str,
    got: &grafiqs::Scored,
    want: &serde_json::Value,
    tol: f64,
    emb_tol: f64,
) -> f64 {
    let mut worst = 0f64;
    for k in ScoreKind::ALL {
        let w = want["scores"][k.name()].as_f64().unwrap();
        let g = got.scores.get(k);
        let r = rel(g, w);
        worst = worst.max(r);
        assert!(
            r <= tol,
            "{label} {}: got {g}, want {w} (rel {r:.2e})",
            k.name()
        );
    }
    let wl = want["loss"].as_f64().unwrap();
    assert!(
        rel(got.loss, wl) <= tol,
        "{label} loss: got {}, want {wl}",
        got.loss
    );
    let we: Vec<f64> = want["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(got.embedding.len(), we.len(), "{label} embedding length");
    let e = got
        .embedding
        .iter()
        .zip(&we)
        .map(|(a, b)| (*a as f64 - b).abs())
        .fold(0.0, f64::max);
    assert!(e <= emb_tol, "{label} embedding max-abs error {e:.2e}");
    worst
}
