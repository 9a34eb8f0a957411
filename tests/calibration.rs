//! The score → quality map: its shape, the shipped default, and the fit round trip through
//! the model file.

mod common;

use common::*;
use grafiqs::calibrate;
use grafiqs::{Calibration, Model, RgbImage, ScoreKind, Scorer, Storage};

#[test]
fn quality_map_is_monotone_clamped_and_hits_its_knots() {
    let c = Calibration::default_mapping();
    c.validate().unwrap();
    for &(raw, q) in &c.knots {
        assert!((c.quality(raw as f64) - q as f64).abs() < 1e-3);
    }
    let mut prev = f64::INFINITY;
    for i in 0..400 {
        let raw = 10f64.powf(0.5 + i as f64 * 0.01);
        let q = c.quality(raw);
        assert!((0.0..=100.0).contains(&q) && q <= prev, "raw {raw}: {q}");
        prev = q;
    }
    assert_eq!(c.quality(1e-9), 100.0);
    assert_eq!(c.quality(1e9), 0.0);
    assert_eq!(c.quality(f64::NAN), 0.0);
    let bad = Calibration {
        score: ScoreKind::Block1,
        knots: vec![(10.0, 50.0), (5.0, 40.0)],
        method: "x".into(),
    };
    assert!(bad.validate().is_err());
}

/// The default map is a measurement: refitting on the same reference faces reproduces it.
#[test]
fn default_mapping_is_reproduced_from_the_reference_faces() {
    let Some(assets) = assets() else { return };
    let scorer = Scorer::cpu(mobilefacenet(&assets)).unwrap();
    let mut faces: Vec<RgbImage> = lfw_colour_aligned(&assets)
        .into_iter()
        .map(|f| f.1)
        .collect();
    let mut names: Vec<_> = std::fs::read_dir(assets.join("faces/aligned-112"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    faces.extend(names.iter().map(|p| RgbImage::decode(&read(p)).unwrap()));
    let (clean, bad) = calibrate::reference_scores(&scorer, &faces, 8).unwrap();
    let fitted = calibrate::fit(&clean, &bad, "test").unwrap();
    let default = Calibration::default_mapping();
    for (f, d) in fitted.knots.iter().zip(&default.knots) {
        assert!(
            rel(f.0 as f64, d.0 as f64) < 1e-3,
            "fitted {:?} vs default {:?}",
            fitted.knots,
            default.knots
        );
        assert_eq!(f.1, d.1);
    }
    // Clean faces score well above degraded ones on average.
    let q = |v: &[f64]| v.iter().map(|&r| default.quality(r)).sum::<f64>() / v.len() as f64;
    assert!(
        q(&clean) > q(&bad) + 25.0,
        "clean {} vs degraded {}",
        q(&clean),
        q(&bad)
    );
}

#[test]
fn calibration_travels_in_the_model_file_and_drives_quality() {
    let mut model = tiny_model();
    let face = RgbImage::decode(&read(fixtures().join("tiny_img0.png"))).unwrap();
    let uncal = Scorer::cpu(model.clone())
        .unwrap()
        .score(std::slice::from_ref(&face))
        .unwrap();
    assert!(!uncal[0].calibrated);
    let raw = uncal[0].scores.block1;
    model
        .set_calibration(Some(Calibration {
            score: ScoreKind::Block1,
            knots: vec![((raw / 2.0) as f32, 80.0), ((raw * 2.0) as f32, 20.0)],
            method: "test".into(),
        }))
        .unwrap();
    let back = Model::from_bytes(&model.to_bytes(Storage::F32)).unwrap();
    assert_eq!(back.meta().calibration, model.meta().calibration);
    let cal = Scorer::cpu(back).unwrap().score(&[face]).unwrap();
    assert!(cal[0].calibrated);
    assert!((cal[0].quality - 50.0).abs() < 1e-3, "{}", cal[0].quality);
}
