//! The PyTorch MobileFaceNet with ReLU6 (`mobilefacenet-relu6`): import through the
//! maintained PyTorch reader (legacy, zip and whole-module saves), parity with the
//! independent PyTorch reference, and the f16 file the package ships.
//!
//! Tolerances as in `parity.rs` (float32 engine vs float64 reference): rel ≤ 1e-3 on every
//! score, ≤ 1e-4 max-abs on the embedding; from the f16 file rel ≤ 1e-2.

mod common;

use common::*;
use grafiqs::{Error, Model, RgbImage, ScoreKind, Storage};

#[test]
fn legacy_zip_and_module_saves_read_to_the_same_parameters() {
    let zip =
        grafiqs::model::torch::read_checkpoint(&read(fixtures().join("tiny_iresnet.pth"))).unwrap();
    let legacy =
        grafiqs::model::torch::read_checkpoint(&read(fixtures().join("tiny_iresnet_legacy.pth")))
            .unwrap();
    let module =
        grafiqs::model::torch::read_checkpoint(&read(fixtures().join("tiny_iresnet_module.pth")))
            .unwrap();
    use grafiqs::model::torch::CheckpointFormat as F;
    assert_eq!((zip.1, legacy.1, module.1), (F::Zip, F::Legacy, F::Zip));
    assert!(!zip.0.is_empty());
    assert_eq!(legacy.0, zip.0, "legacy format");
    assert_eq!(module.0, zip.0, "torch.save(model)");
    // And the importer builds the same model from each.
    for f in ["tiny_iresnet_legacy.pth", "tiny_iresnet_module.pth"] {
        let m = Model::from_torch(&read(fixtures().join(f)), "iresnet", f).unwrap();
        assert_eq!(m.params(), tiny_model().params(), "{f}");
    }
}

#[test]
fn truncated_legacy_checkpoints_are_errors() {
    let pth = read(fixtures().join("tiny_iresnet_legacy.pth"));
    for cut in [
        1,
        10,
        100,
        1000,
        pth.len() / 2,
        pth.len() - 30,
        pth.len() - 1,
    ] {
        let e = Model::from_torch(&pth[..cut], "iresnet", "x").unwrap_err();
        assert!(matches!(e, Error::Format(_)), "cut {cut}: {e}");
    }
    let mut flipped = pth.clone();
    for i in (0..flipped.len()).step_by(997) {
        flipped[i] ^= 0x5a;
    }
    // Damage anywhere is an error or, where it only hits weight bytes, a model: never a panic.
    let _ = Model::from_torch(&flipped, "iresnet", "x");
}

#[test]
fn architecture_mismatches_name_the_key() {
    // An iResNet checkpoint is not a MobileFaceNet, and says what it looks like.
    let pth = read(fixtures().join("tiny_iresnet.pth"));
    let m = Model::from_torch(&pth, "mobilefacenet-relu6", "x")
        .unwrap_err()
        .to_string();
    assert!(
        m.contains("mobilefacenet-relu6") && m.contains("missing key `conv1.0.weight`"),
        "{m}"
    );
    assert!(m.contains("looks like an iResNet"), "{m}");
    let Some(assets) = assets() else { return };
    let pt = read(assets.join("models/foamliu-mobilefacenet/mobilefacenet.pt"));
    let m = Model::from_torch(&pt, "iresnet50", "x")
        .unwrap_err()
        .to_string();
    assert!(m.contains("missing key"), "{m}");
    // A mis-shaped tensor is named with both shapes.
    let mut state = grafiqs::model::torch::read_state_dict(&pt).unwrap();
    let p = state.get_mut("features.3.conv.1.0.weight").unwrap();
    p.shape = vec![p.shape[0], 1, 1, 9];
    let (_, _) = (p.shape.clone(), ());
    let e = grafiqs::model::arch::mobilefacenet_relu6::from_state_dict(state).unwrap_err();
    let m = e.to_string();
    assert!(
        m.contains("features.3.conv.1.0.weight")
            && m.contains("[128, 1, 1, 9], expected [128, 1, 3, 3]"),
        "{m}"
    );
}

#[test]
fn matches_pytorch_reference() {
    let Some(assets) = assets() else { return };
    let fx = json(fixtures().join("foamliu_mobilefacenet_expected.json"));
    let model = foamliu(&assets);
    assert_eq!(model.batchnorm_count(), 50);
    assert_eq!(
        model.batchnorm_count() as u64,
        fx["bn_layers"].as_u64().unwrap()
    );
    assert_eq!(
        model.meta().stages,
        ["dw_conv", "features.4", "features.11", "features.14"]
    );
    assert_eq!(model.info().embedding_size, 128);
    let dir = assets.join("faces/aligned-112");
    for (backend, scorer) in scorers(&model) {
        let mut worst = 0f64;
        for case in fx["cases"].as_array().unwrap() {
            let file = case["file"].as_str().unwrap();
            let img = RgbImage::decode(&read(dir.join(file))).unwrap();
            let got = &scorer.score(&[img]).unwrap()[0];
            worst = worst.max(check_case(
                &format!("[{backend}] {file}"),
                got,
                case,
                1e-3,
                1e-4,
            ));
        }
        eprintln!("mobilefacenet-relu6 [{backend}]: worst relative score error {worst:.2e}");
    }
}

#[test]
fn bundled_model_is_the_calibrated_f16_conversion() {
    let model = Model::bundled().unwrap();
    assert_eq!(model.meta().architecture, "mobilefacenet-relu6");
    let cal = model
        .meta()
        .calibration
        .as_ref()
        .expect("the shipped model is calibrated");
    assert_eq!(cal.score, ScoreKind::Block1);
    let p = &model.meta().provenance;
    assert_eq!(
        p.sha256,
        "90a00ba1d8b0b688af3deb731ed53dca582e6106805d1bc3cfdef55f570493f4"
    );
    assert!(
        p.licence.as_deref().unwrap_or("").contains("Apache-2.0"),
        "{p:?}"
    );
    assert!(grafiqs::model::BUNDLED_MODEL.len() < 2_300_000);
    // Its numbers are the reference's within the f16 tolerance.
    let Some(assets) = assets() else { return };
    let fx = json(fixtures().join("foamliu_mobilefacenet_expected.json"));
    let dir = assets.join("faces/aligned-112");
    let scorer = grafiqs::Scorer::cpu(model).unwrap();
    for case in fx["cases"].as_array().unwrap() {
        let file = case["file"].as_str().unwrap();
        let img = RgbImage::decode(&read(dir.join(file))).unwrap();
        let got = &scorer.score(&[img]).unwrap()[0];
        assert!(got.calibrated);
        for k in ScoreKind::ALL {
            let w = case["scores"][k.name()].as_f64().unwrap();
            let r = rel(got.scores.get(k), w);
            assert!(r <= 1e-2, "f16 {file} {}: rel {r:.2e}", k.name());
        }
    }
}

#[test]
fn f16_conversion_is_close_to_f32() {
    let Some(assets) = assets() else { return };
    let model = foamliu(&assets);
    let bytes = model.to_bytes(Storage::F16);
    let half = Model::from_bytes(&bytes).unwrap();
    let faces: Vec<RgbImage> = ["1.jpg", "Aaron_Guiel_0001.jpg"]
        .iter()
        .map(|f| RgbImage::decode(&read(assets.join("faces/aligned-112").join(f))).unwrap())
        .collect();
    let a = grafiqs::Scorer::cpu(model).unwrap().score(&faces).unwrap();
    let b = grafiqs::Scorer::cpu(half).unwrap().score(&faces).unwrap();
    for (x, y) in a.iter().zip(&b) {
        for k in ScoreKind::ALL {
            let r = rel(y.scores.get(k), x.scores.get(k));
            assert!(r <= 1e-2, "f16 {}: rel {r:.2e}", k.name());
        }
    }
}

/// `--model default` and no model at all both score with the shipped model (and say so when
/// it was not asked for); `inspect default` describes it.
#[test]
fn cli_uses_the_shipped_model_by_default() {
    let Some(assets) = assets() else { return };
    let fx = json(fixtures().join("foamliu_mobilefacenet_expected.json"));
    let face = assets.join("faces/aligned-112/1.jpg");
    let want = fx["cases"][0]["scores"]["block1"].as_f64().unwrap();
    for explicit in [true, false] {
        let out = tmpdir(if explicit {
            "default-model"
        } else {
            "no-model"
        });
        let mut args = vec!["score", "--bgr2rgb", "--quiet", "--output-dir", s(&out)];
        if explicit {
            args.extend(["--model", "default"]);
        }
        args.push(s(&face));
        let o = grafiqs(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(
            stderr(&o).contains("using the shipped model"),
            !explicit,
            "{}",
            stderr(&o)
        );
        let text = std::fs::read_to_string(out.join("GraFIQs_block1.txt")).unwrap();
        let got: f64 = text.trim().rsplit_once(' ').unwrap().1.parse().unwrap();
        assert!(rel(got, want) <= 1e-2, "block1 {got} vs reference {want}");
    }
    let o = grafiqs(&["inspect", "default", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["name"], "foamliu-mobilefacenet");
    assert_eq!(v["architecture"], "mobilefacenet-relu6");
    assert_eq!(v["batchnormLayers"], 50);
}

/// `eval pairs` on a slice of the LFWcrop protocol: the report's accuracy, TAR and EDC areas
/// are consistent with the comparison and quality files written beside it, which `eval edc`
/// turns into the same curve.
#[test]
fn cli_eval_pairs_reports_and_files_agree_with_eval_edc() {
    let Some(assets) = assets() else { return };
    let dir = assets.join("faces/lfwcrop-folds1-5");
    let all = std::fs::read_to_string(dir.join("pairs.txt")).unwrap();
    // 30 genuine and 30 impostor pairs from each of folds 1 and 2.
    let mut picked = Vec::new();
    for fold in ["1", "2"] {
        for kind in ["same", "diff"] {
            picked.extend(
                all.lines()
                    .filter(|l| l.ends_with(&format!(" {kind} {fold}")))
                    .take(30)
                    .map(str::to_string),
            );
        }
    }
    let out = tmpdir("eval-pairs");
    let pairs = out.join("pairs.txt");
    std::fs::write(&pairs, picked.join("\n") + "\n").unwrap();
    let report = out.join("report.json");
    let o = grafiqs(&[
        "eval",
        "pairs",
        "--images",
        s(&dir),
        "--labels",
        s(&dir.join("labels.csv")),
        "--pairs",
        s(&pairs),
        "--model",
        "default",
        "--fill",
        "edge",
        "--fmr",
        "0.05",
        "--json",
        s(&report),
        "--random-orders",
        "10",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&report);
    assert_eq!(v["pairs"]["total"], 120);
    assert_eq!(v["pairs"]["genuine"], 60);
    assert_eq!(v["folds"], serde_json::json!([1, 2]));
    assert_eq!(v["fill"], "edge");
    let acc = v["accuracy"]["mean"].as_f64().unwrap();
    assert!(acc > 0.85 && acc <= 1.0, "accuracy {acc}");
    assert_eq!(v["accuracy"]["folds"].as_array().unwrap().len(), 2);
    let tar = v["tar"]["tar"].as_f64().unwrap();
    assert!(tar > 0.5, "TAR {tar}");
    let med = v["outside_fraction"]["median"].as_f64().unwrap();
    assert!(med > 0.3 && med < 0.8, "median outside fraction {med}");
    // The files beside the report reproduce the block2 curve through `eval edc`.
    let comparisons = out.join("report_comparisons.txt");
    let quality = out.join("report_GraFIQs_block2.txt");
    assert_eq!(
        std::fs::read_to_string(&comparisons)
            .unwrap()
            .lines()
            .count(),
        120
    );
    let redo = out.join("redo.json");
    let o = grafiqs(&[
        "eval",
        "edc",
        "--comparisons",
        s(&comparisons),
        "--quality",
        s(&quality),
        "--fmr",
        "0.05",
        "--protocol",
        "reestimate",
        "--json",
        s(&redo),
        "--random-orders",
        "0",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = json(&redo);
    assert_eq!(r["fnmr"], v["edc"]["block2"]["fnmr"]);
    assert_eq!(r["auc"], v["edc"]["block2"]["auc"]);
    // A pair naming an image without landmarks is an error that names it.
    std::fs::write(&pairs, "nobody.png Aaron_Sorkin_0001.png diff 1\n").unwrap();
    let o = grafiqs(&[
        "eval",
        "pairs",
        "--images",
        s(&dir),
        "--labels",
        s(&dir.join("labels.csv")),
        "--pairs",
        s(&pairs),
        "--json",
        s(&report),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nobody.png"), "{}", stderr(&o));
}
