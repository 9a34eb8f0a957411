//! Writes the tracking tests' fake-camera sequence (`tests/common/sequence.rs`) as PNG frames,
//! with the native results for each frame in `native.json`: the tracked faces and the path the
//! frame took (`Tracker` with its defaults, `TrackMode::Window`), the same with
//! `TrackMode::Refine` (`refined`), and the faces of full detection. The browser test
//! (`tests/browser/tracking.test.mjs`) runs the same frames through `assessFrame(…, { track:
//! true })` and compares.
//!
//! `cargo run --release --example track_sequence -- <face.jpg> <out-dir>`

#[path = "../tests/common/sequence.rs"]
mod sequence;

use grafiqs::capture::guidance::GUIDANCE_MIN_FACE;
use grafiqs::{Detector, Face, RgbImage, TrackMode, Tracker};
use serde_json::json;

fn faces(v: &[Face]) -> serde_json::Value {
    json!(
        v.iter()
            .map(|f| json!({ "box": f.bbox, "landmarks": f.landmarks, "confidence": f.confidence }))
            .collect::<Vec<_>>()
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: track_sequence <face.jpg> <out-dir>";
    let face = RgbImage::decode(&std::fs::read(args.next().ok_or(usage)?)?)?;
    let out = std::path::PathBuf::from(args.next().ok_or(usage)?);
    std::fs::create_dir_all(&out)?;
    let det = Detector::bundled()?;
    let full = Detector::bundled()?.with_min_face_size(GUIDANCE_MIN_FACE);
    let mut tracker = Tracker::new();
    let mut refiner = Tracker::new().with_mode(TrackMode::Refine);
    let mut results = Vec::new();
    for (i, frame) in sequence::frames(&face).iter().enumerate() {
        let file = format!("frame-{i:02}.png");
        let bytes = frame.to_rgb8();
        image::save_buffer(
            out.join(&file),
            &bytes,
            frame.width() as u32,
            frame.height() as u32,
            image::ExtendedColorType::Rgb8,
        )?;
        let t = tracker.track(&det, frame)?;
        let r = refiner.track(&det, frame)?;
        results.push(json!({
            "file": file,
            "path": t.path,
            "faces": faces(&t.faces),
            "refined": { "path": r.path, "faces": faces(&r.faces) },
            "full": faces(&full.detect(frame)?),
        }));
    }
    std::fs::write(
        out.join("native.json"),
        serde_json::to_string_pretty(&json!({ "frames": results }))?,
    )?;
    eprintln!("wrote {} frames to {}", results.len(), out.display());
    Ok(())
}
