//! Do the scores follow image damage? The degradation sweep on the real MobileFaceNet, the
//! same/different-person check, `grafiqs eval degrade`, and `grafiqs calibrate` round trips
//! through the command line. Skipped when the test assets are absent.

mod common;

use common::*;
use grafiqs::eval::same_different::{self, IdentifiedFace};
use grafiqs::eval::sweep::{self as degrade, Degradation, LEVELS};
use grafiqs::{Calibration, ScoreKind, Scorer};

fn identity(file: &str) -> String {
    file.rsplit_once('_').unwrap().0.to_string()
}

/// Holds every correlation of `report` to an independent reference sweep (`fixture` in
/// tests/fixtures, written by tests/reference/degrade_reference.py) at the same levels. Blur,
/// darkening, occlusion and JPEG are the same operations implemented twice (OpenCV's 8-bit
/// blur, its libjpeg-turbo encoder and fixed-point warp against ours): 0.02. The noise samples
/// differ (numpy's generator against ours); across six numpy seeds the reference moves by up to
/// 0.03 on image…block3 and 0.08 on block4, so those are the tolerances there.
fn assert_matches_reference(report: &degrade::DegradeReport, fixture: &str) {
    let reference = json(fixtures().join(fixture));
    for d in Degradation::ALL {
        let sweep = report.sweep(d).unwrap();
        let levels: Vec<f64> = reference["levels"][d.name()]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(
            levels, sweep.levels,
            "{d:?}: the reference used other levels"
        );
        eprintln!(
            "{:<10} image {:.3} block1 {:.3} block2 {:.3} block3 {:.3} block4 {:.3}",
            d.name(),
            sweep.spearman.image,
            sweep.spearman.block1,
            sweep.spearman.block2,
            sweep.spearman.block3,
            sweep.spearman.block4
        );
        for k in ScoreKind::ALL {
            let want = reference["spearman"][d.name()][k.name()].as_f64().unwrap();
            let got = sweep.spearman.get(k);
            let tol = match (d, k) {
                (Degradation::Noise, ScoreKind::Block4) => 0.08,
                (Degradation::Noise, _) => 0.03,
                _ => 0.02,
            };
            assert!(
                (got - want).abs() <= tol,
                "{d:?} {k:?}: {got:.3} here, {want:.3} in the reference (tolerance {tol})"
            );
        }
    }
}

/// The sweep over the 12 colour LFW faces: all 25 correlations finite, the clean level shared
/// by every sweep, parity with the independent Python sweep, and the published values.
#[test]
fn degradation_sweep_on_mobilefacenet() {
    let Some(assets) = assets() else { return };
    let scorer = Scorer::cpu(mobilefacenet(&assets)).unwrap();
    let faces = lfw_colour_aligned(&assets);
    assert_eq!(faces.len(), 12);
    let report = degrade::degrade_report(
        &scorer,
        &faces,
        &degrade::SweepLevels::default(),
        8,
        |_, _| {},
    )
    .unwrap();
    assert_eq!(report.sweeps.len(), 5);
    for (sweep, d) in report.sweeps.iter().zip(Degradation::ALL) {
        assert_eq!(sweep.degradation, d);
        assert_eq!(sweep.scores.len(), 12);
        for (row, first) in sweep.scores.iter().zip(&report.sweeps[0].scores) {
            assert_eq!(row.len(), LEVELS + 1);
            assert_eq!(row[0], first[0], "level 0 is the clean face in every sweep");
        }
        for k in ScoreKind::ALL {
            let r = sweep.spearman.get(k);
            assert!(r.is_finite() && r.abs() <= 1.0, "{d:?} {k:?}: {r}");
            // The library's correlation agrees with the tests' own implementation.
            let sev: Vec<f64> = (0..12)
                .flat_map(|_| (0..=LEVELS).map(|l| l as f64))
                .collect();
            let raw: Vec<f64> = sweep.scores.iter().flatten().map(|x| x.get(k)).collect();
            assert!((spearman(&sev, &raw) - r).abs() < 1e-12);
        }
    }
    let blur = report.sweep(Degradation::Blur).unwrap().spearman;
    assert!(blur.block1 >= 0.8, "blur block1 {}", blur.block1);
    assert!(blur.image >= 0.7, "blur image {}", blur.image);
    for d in [Degradation::Noise, Degradation::Dark] {
        let r = report.sweep(d).unwrap().spearman;
        assert!(r.image > 0.6 && r.block1 > 0.6, "{d:?}: {r:?}");
    }

    // Parity with the independent PyTorch + OpenCV + numpy sweep at the same levels.
    assert_matches_reference(&report, "degrade_expected.json");

    // The values GRAFIQS.md reports for an independent implementation whose level
    // parameters are not published (image, block1), reproduced within ±0.03 at the default
    // levels — except occlusion on `image`, where the shape of the occluder matters (README,
    // "Evaluating"): a full-width band gives 0.38, a band leaving 8 px at each side 0.40.
    let published = [
        (Degradation::Blur, 0.82, 0.84),
        (Degradation::Noise, 0.69, 0.75),
        (Degradation::Dark, 0.68, 0.65),
        (Degradation::Occlusion, 0.42, 0.45),
        (Degradation::Jpeg, 0.35, 0.35),
    ];
    for (d, image, block1) in published {
        let r = report.sweep(d).unwrap().spearman;
        let image_tol = if d == Degradation::Occlusion {
            0.05
        } else {
            0.03
        };
        assert!(
            (r.image - image).abs() <= image_tol,
            "{d:?} image {:.3}, published {image}",
            r.image
        );
        assert!(
            (r.block1 - block1).abs() <= 0.03,
            "{d:?} block1 {:.3}, published {block1}",
            r.block1
        );
    }
}

/// The sweep on the shipped model's network (imported in f32 from its checkpoint), held to
/// the independent PyTorch + OpenCV sweep of the same network at the same levels
/// (`degrade_reference.py --model foamliu`) with the tolerances above.
#[test]
fn degradation_sweep_on_the_shipped_model() {
    let Some(assets) = assets() else { return };
    let scorer = Scorer::cpu(foamliu(&assets)).unwrap();
    let faces = lfw_colour_aligned(&assets);
    let report = degrade::degrade_report(
        &scorer,
        &faces,
        &degrade::SweepLevels::default(),
        8,
        |_, _| {},
    )
    .unwrap();
    assert_matches_reference(&report, "degrade_expected_foamliu.json");
    // The values measured for the asset by another independent implementation (image /
    // block1), whose darkening and occluder are not specified: blur, noise and JPEG agree
    // within 0.03; darkening comes out 0.03 higher here and lower-face occlusion 0.17 higher,
    // in both implementations of this project (README, "Evaluating").
    let independent = [
        (Degradation::Blur, 0.82, 0.84),
        (Degradation::Noise, 0.66, 0.71),
        (Degradation::Jpeg, 0.38, 0.38),
    ];
    for (d, image, block1) in independent {
        let r = report.sweep(d).unwrap().spearman;
        assert!(
            (r.image - image).abs() <= 0.03 && (r.block1 - block1).abs() <= 0.03,
            "{d:?}: image {:.3} / block1 {:.3}, independently measured {image} / {block1}",
            r.image,
            r.block1
        );
    }
}

/// The same/different-person routine on faces with identities (the colour LFW faces, which
/// carry landmarks): 12 faces of 5 people give 17 genuine and 49 impostor pairs.
#[test]
fn same_different_check_on_identified_faces() {
    let Some(assets) = assets() else { return };
    let scorer = Scorer::cpu(mobilefacenet(&assets)).unwrap();
    let faces: Vec<IdentifiedFace> = lfw_colour_aligned(&assets)
        .into_iter()
        .map(|(name, face)| IdentifiedFace {
            identity: identity(&name),
            name,
            face,
        })
        .collect();
    let sd = same_different::same_different(
        &scorer,
        &faces,
        8,
        1e-3,
        grafiqs::eval::Protocol::Reestimate,
        20,
    )
    .unwrap();
    assert_eq!((sd.faces, sd.identities), (12, 5));
    assert_eq!((sd.genuine, sd.impostor), (17, 49));
    assert!(
        sd.mean_similarity[0] > sd.mean_similarity[1] + 0.2,
        "{:?}",
        sd.mean_similarity
    );
    assert_eq!(sd.curves.len(), 5);
    for c in &sd.curves {
        assert_eq!(c.edc.curve.fnmr.len(), 20);
        assert!(c.edc.curve.auc.is_finite() && c.edc.curve.auc >= 0.0);
    }
    assert!(sd.random.curve.auc.is_finite());
}

/// `eval degrade` on a small labelled folder writes the JSON and Markdown reports; the
/// landmark-less gray crops are found with the face detector, aligned, and the
/// same/different-person EDC with GraFIQs sits at or below the random-order curve.
#[test]
fn cli_eval_degrade() {
    let Some(assets) = assets() else { return };
    let src = assets.join("faces/lfw-colour");
    let dir = tmpdir("faces");
    let csv = std::fs::read_to_string(src.join("labels.csv")).unwrap();
    let mut lines = csv.lines();
    let mut out = format!("{}\n", lines.next().unwrap());
    let keep = [
        "Albert_Costa_0001.jpg",
        "Albert_Costa_0002.jpg",
        "Alberto_Fujimori_0001.jpg",
    ];
    for l in lines.filter(|l| keep.iter().any(|k| l.starts_with(k))) {
        out.push_str(l);
        out.push('\n');
    }
    std::fs::write(dir.join("labels.csv"), out).unwrap();
    for k in keep {
        std::fs::copy(src.join(k), dir.join(k)).unwrap();
    }
    let weights = assets.join("models/insightface-mobilefacenet-y1/model-0000.params");
    let tmp = tmpdir("out");
    let (json_path, md_path) = (tmp.join("r.json"), tmp.join("r.md"));
    let base = [
        "eval",
        "degrade",
        "--weights",
        s(&weights),
        "--backbone",
        "mobilefacenet",
        "--faces",
        s(&dir),
        "--json",
        s(&json_path),
        "--markdown",
        s(&md_path),
        "--quiet",
    ];

    let crops = assets.join("faces/lfw-gray-crops");
    let mut args = base.to_vec();
    args.extend(["--crops", s(&crops)]);
    let o = grafiqs(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("block1") && text.contains("occlusion"),
        "{text}"
    );
    assert!(
        text.contains("same/different-person EDC (100 faces"),
        "{text}"
    );
    let j = json(&json_path);
    assert_eq!(j["faces"].as_array().unwrap().len(), 3);
    let sd = &j["same_different"];
    let random = sd["random"]["auc"].as_f64().unwrap();
    for c in sd["curves"].as_array().unwrap() {
        let (name, auc) = (c["score"].as_str().unwrap(), c["auc"].as_f64().unwrap());
        eprintln!("same/different EDC AUC {name}: {auc:.5} (random {random:.5})");
        if name == "image" || name == "block1" {
            assert!(
                auc <= random,
                "{name}: EDC AUC {auc} above the random order's {random}"
            );
        }
    }
    for d in Degradation::ALL {
        for k in ScoreKind::ALL {
            let v = &j["spearman"][d.name()][k.name()];
            assert!(v.as_f64().is_some_and(f64::is_finite), "{d:?} {k:?}: {v}");
        }
    }
    let sweeps = j["sweeps"].as_array().unwrap();
    assert_eq!(sweeps.len(), 5);
    assert_eq!(sweeps[0]["scores"][2].as_array().unwrap().len(), LEVELS + 1);
    assert_eq!(sweeps[4]["levels"][4], 5.0);
    let md = std::fs::read_to_string(&md_path).unwrap();
    assert!(
        md.contains("| blur |") && md.contains("| jpeg | JPEG quality |"),
        "{md}"
    );

    let mut args = base.to_vec();
    args.extend(["--crops", s(&dir)]);
    let o = grafiqs(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = json(&json_path);
    assert_eq!(j["same_different"]["genuine"], 1);
    assert_eq!(j["same_different"]["impostor"], 2);
    assert_eq!(j["same_different"]["curves"].as_array().unwrap().len(), 5);

    // Other level parameters: used and reported; invalid ones are refused before any work.
    let mut args = base.to_vec();
    args.extend([
        "--crops",
        s(&dir),
        "--levels",
        "blur=1,2,3,4,5",
        "--levels",
        "jpeg=50,30,20,10,5",
    ]);
    let o = grafiqs(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = json(&json_path);
    let levels = |i: usize| j["sweeps"][i]["levels"].clone();
    assert_eq!(levels(0), serde_json::json!([1.0, 2.0, 3.0, 4.0, 5.0]));
    assert_eq!(levels(1), serde_json::json!([10.0, 15.0, 20.0, 25.0, 30.0]));
    assert_eq!(levels(4), serde_json::json!([50.0, 30.0, 20.0, 10.0, 5.0]));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("Gaussian sigma (px) = 1, 2, 3, 4, 5"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    for (spec, why) in [
        ("blur=3,2,1,4,5", "strictly more severe"),
        ("haze=1,2,3,4,5", "unknown degradation"),
    ] {
        let mut args = base.to_vec();
        args.extend(["--levels", spec]);
        let o = grafiqs(&args);
        assert_eq!(o.status.code(), Some(2), "{spec}");
        assert!(stderr(&o).contains(why), "{spec}: {}", stderr(&o));
    }

    // A folder whose faces cannot be aligned is an error, exit code 2.
    let mut args = base.to_vec();
    args[7] = s(&crops);
    let o = grafiqs(&args);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no landmarks"), "{}", stderr(&o));
}

/// convert → calibrate → inspect shows the calibration → score reports calibrated quality.
/// On the reference faces of the default map, `calibrate` reproduces its knots.
#[test]
fn cli_calibrate_round_trip() {
    let Some(assets) = assets() else { return };
    let tmp = tmpdir("calibrate");
    let (plain, cal) = (tmp.join("mfn.grafiqs"), tmp.join("mfn-cal.grafiqs"));
    let weights = assets.join("models/insightface-mobilefacenet-y1/model-0000.params");
    let o = grafiqs(&[
        "convert",
        "--weights",
        s(&weights),
        "--backbone",
        "mobilefacenet",
        "--out",
        s(&plain),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let face = assets.join("faces/aligned-112/Aaron_Eckhart_0001.jpg");
    let score = |model: &std::path::Path| {
        let o = grafiqs(&[
            "score",
            s(&face),
            "--model",
            s(model),
            "--bgr2rgb",
            "--output-dir",
            s(&tmp),
            "--json",
            "-",
            "--quiet",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["results"][0].clone()
    };
    assert_eq!(score(&plain)["calibrated"], false);

    let o = grafiqs(&[
        "calibrate",
        "--model",
        s(&plain),
        "--faces",
        s(&assets.join("faces/lfw-colour")),
        "--images",
        s(&assets.join("faces/aligned-112")),
        "--out",
        s(&cal),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("median of clean faces") && text.contains("19 clean faces"),
        "{text}"
    );

    let o = grafiqs(&["inspect", s(&cal), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let info: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = &info["calibration"];
    assert_eq!(c["score"], "block1");
    let knots = c["knots"].as_array().unwrap();
    let default = Calibration::default_mapping();
    assert_eq!(knots.len(), default.knots.len());
    for (k, d) in knots.iter().zip(&default.knots) {
        assert!(rel(k[0].as_f64().unwrap(), d.0 as f64) < 1e-3, "{knots:?}");
        assert_eq!(k[1].as_f64().unwrap(), d.1 as f64);
    }

    let r = score(&cal);
    assert_eq!(r["calibrated"], true);
    let q = r["quality"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&q), "{q}");
    let raw = r["scores"]["block1"].as_f64().unwrap();
    assert!(
        (q - default.quality(raw)).abs() < 0.05,
        "{q} vs {}",
        default.quality(raw)
    );

    // Typed errors, exit code 2: too few faces, unaligned images, nothing given.
    let few = tmpdir("few");
    std::fs::copy(&face, few.join("a.jpg")).unwrap();
    let o = grafiqs(&[
        "calibrate",
        "--model",
        s(&plain),
        "--images",
        s(&few),
        "--out",
        s(&tmp.join("x.grafiqs")),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("at least 5 reference faces"),
        "{}",
        stderr(&o)
    );
    let o = grafiqs(&[
        "calibrate",
        "--model",
        s(&plain),
        "--images",
        s(&assets.join("faces/lfw-colour")),
        "--out",
        s(&tmp.join("x.grafiqs")),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("112x112"), "{}", stderr(&o));
    let o = grafiqs(&[
        "calibrate",
        "--model",
        s(&plain),
        "--out",
        s(&tmp.join("x.grafiqs")),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!tmp.join("x.grafiqs").exists());
}
