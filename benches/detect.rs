//! MTCNN face detection time per 640×480 frame on the CPU backend (bundled weights); capture
//! guidance per frame without GraFIQs (detect or track + align + measures + advice) with full
//! detection on every frame and with tracking (`Tracker` defaults: a full detection every 10th
//! frame, windowed tracking in between; tracked only; and the same two with
//! `TrackMode::Refine`); and the full frame pipeline (detect + align + guidance + GraFIQs
//! with the MobileFaceNet).
//! The frame is `faces/lfw-colour/Alberto_Fujimori_0001.jpg` pasted at (195, 115) on a grey
//! (127) canvas, as the `frame_640x480` parity case; without ../shared/assets a synthetic
//! frame (no face) is used instead.

use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use grafiqs::{Assessor, Detector, Model, RgbImage, Scorer, TrackMode, Tracker};

fn frame() -> (RgbImage, &'static str) {
    let (w, h) = (640usize, 480usize);
    let mut data = vec![127f32; w * h * 3];
    let face = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/assets/faces/lfw-colour/Alberto_Fujimori_0001.jpg"),
    )
    .ok()
    .and_then(|b| RgbImage::decode(&b).ok());
    let kind = match &face {
        Some(f) => {
            for y in 0..f.height() {
                let dst = ((115 + y) * w + 195) * 3;
                data[dst..dst + f.width() * 3]
                    .copy_from_slice(&f.data()[y * f.width() * 3..(y + 1) * f.width() * 3]);
            }
            "face"
        }
        None => {
            eprintln!("../shared/assets not found: timing a synthetic frame without a face");
            for (i, v) in data.iter_mut().enumerate() {
                *v = ((i * 7 + i / 1920 * 3) % 256) as f32;
            }
            "synthetic"
        }
    };
    (RgbImage::new(w, h, data).unwrap(), kind)
}

fn bench(c: &mut Criterion) {
    let det = Detector::bundled().unwrap();
    let (img, kind) = frame();
    let found = det.detect(&img).unwrap();
    eprintln!("{kind} frame: {} face(s)", found.len());
    let mut g = c.benchmark_group("mtcnn_cpu");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(15));
    g.bench_function(format!("640x480_{kind}"), |b| {
        b.iter(|| det.detect(&img).unwrap())
    });
    g.finish();

    let guidance = Assessor::new(Detector::bundled().unwrap(), None);
    let mut g = c.benchmark_group("guidance_cpu");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10));
    g.bench_function(format!("640x480_{kind}_full_detection"), |b| {
        b.iter(|| guidance.assess(&img, false).unwrap())
    });
    let mut tracker = Tracker::new();
    g.bench_function(format!("640x480_{kind}_tracked_redetect_10"), |b| {
        b.iter(|| guidance.assess_tracked(&img, false, &mut tracker).unwrap())
    });
    let mut tracker = Tracker::new().with_redetect_every(u32::MAX);
    g.bench_function(format!("640x480_{kind}_tracked_only"), |b| {
        b.iter(|| guidance.assess_tracked(&img, false, &mut tracker).unwrap())
    });
    let mut tracker = Tracker::new().with_mode(TrackMode::Refine);
    g.bench_function(format!("640x480_{kind}_refined_redetect_10"), |b| {
        b.iter(|| guidance.assess_tracked(&img, false, &mut tracker).unwrap())
    });
    let mut tracker = Tracker::new()
        .with_redetect_every(u32::MAX)
        .with_mode(TrackMode::Refine);
    g.bench_function(format!("640x480_{kind}_refined_only"), |b| {
        b.iter(|| guidance.assess_tracked(&img, false, &mut tracker).unwrap())
    });
    g.finish();

    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/assets/models/insightface-mobilefacenet-y1");
    let model = std::fs::read(dir.join("model-0000.params"))
        .ok()
        .and_then(|p| {
            let s = std::fs::read_to_string(dir.join("model-symbol.json")).ok()?;
            Model::from_mxnet(&p, &s, "mobilefacenet", None, "bench").ok()
        });
    let Some(model) = model else {
        eprintln!("SKIPPED frame pipeline: ../shared/assets not found");
        return;
    };
    let assessor = Assessor::new(
        Detector::bundled().unwrap(),
        Some(Scorer::cpu(model).unwrap()),
    );
    let mut g = c.benchmark_group("frame_pipeline_cpu");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(15));
    g.bench_function(format!("640x480_{kind}_mobilefacenet"), |b| {
        b.iter(|| assessor.assess(&img, true).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
