//! Frame assessment (detect → align → measure → advise → GraFIQs) through the library and the
//! `grafiqs assess` CLI, including bad frames.

mod common;

use std::process::Command;

use common::*;
use grafiqs::capture::guidance::Advice;
use grafiqs::{Assessor, Detector, RgbImage, Scorer};

/// A face photo placed at (x, y) on a grey canvas.
fn canvas(w: usize, h: usize, faces: &[(&RgbImage, usize, usize)]) -> RgbImage {
    let mut data = vec![128f32; w * h * 3];
    for (face, x0, y0) in faces {
        for y in 0..face.height() {
            let dst = ((y0 + y) * w + x0) * 3;
            data[dst..dst + face.width() * 3]
                .copy_from_slice(&face.data()[y * face.width() * 3..(y + 1) * face.width() * 3]);
        }
    }
    RgbImage::new(w, h, data).unwrap()
}

#[test]
fn frames_with_one_two_and_no_faces() {
    let Some(assets) = assets() else { return };
    let face = RgbImage::decode(&read(
        assets.join("faces/lfw-colour/Alberto_Fujimori_0001.jpg"),
    ))
    .unwrap();
    let other =
        RgbImage::decode(&read(assets.join("faces/lfw-colour/Albert_Costa_0002.jpg"))).unwrap();
    let assessor = Assessor::new(
        Detector::bundled().unwrap(),
        Some(Scorer::cpu(mobilefacenet(&assets)).unwrap()),
    );

    let one = assessor
        .assess(&canvas(640, 480, &[(&face, 195, 115)]), true)
        .unwrap();
    assert_eq!(one.faces.len(), 1);
    let f = &one.faces[0];
    eprintln!("one face: advice {:?}, quality {:?}", one.advice, f.quality);
    assert!(f.quality.is_some_and(|q| (0.0..=100.0).contains(&q)));
    assert!(f.scores.is_some());
    assert!(f.measures.quality.is_some());
    assert!(!one.advice.contains(&Advice::MultipleFaces));
    assert!(f.measures.face_size.value > 30.0);

    let two = assessor
        .assess(
            &canvas(640, 480, &[(&face, 40, 115), (&other, 350, 115)]),
            true,
        )
        .unwrap();
    assert_eq!(two.faces.len(), 2);
    assert_eq!(two.advice.first(), Some(&Advice::MultipleFaces));

    let none = assessor.assess(&canvas(640, 480, &[]), true).unwrap();
    assert!(none.faces.is_empty());
    assert_eq!(none.advice, vec![Advice::NoFace]);
    assert!(!none.ready());

    // Huge frames are downscaled for detection, not rejected.
    let huge = canvas(4000, 3000, &[(&face, 1800, 1400)]);
    let a = assessor.assess(&huge, false).unwrap();
    assert_eq!((a.width, a.height), (4000, 3000));
    assert!(a.faces.len() <= 1);
    // Degenerate frames are clear errors, never panics.
    assert!(RgbImage::new(1, 1, vec![0.0; 3]).is_err());
    assert!(RgbImage::from_rgba8(0, 0, &[]).is_err());
}

#[test]
fn cli_assess_json() {
    let Some(assets) = assets() else { return };
    let dir = std::env::temp_dir().join(format!("grafiqs-assess-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let blank = dir.join("blank.png");
    image::save_buffer(
        &blank,
        &vec![90u8; 320 * 240 * 3],
        320,
        240,
        image::ExtendedColorType::Rgb8,
    )
    .unwrap();
    let broken = dir.join("broken.jpg");
    std::fs::write(&broken, b"\xff\xd8\xff\xe0 not really").unwrap();
    let photo = assets.join("faces/lfw-colour/Albert_Costa_0001.jpg");
    let weights = assets.join("models/insightface-mobilefacenet-y1/model-0000.params");
    let crops = dir.join("crops");
    let o = Command::new(env!("CARGO_BIN_EXE_grafiqs"))
        .args([
            "assess",
            "--json",
            "--backbone",
            "mobilefacenet",
            "--weights",
        ])
        .arg(&weights)
        .arg("--crops")
        .arg(&crops)
        .args([&photo, &blank, &broken])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("broken.jpg"));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let items = v.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(
        items[0]["path"]
            .as_str()
            .unwrap()
            .ends_with("Albert_Costa_0001.jpg")
    );
    let face = &items[0]["faces"][0];
    assert_eq!(face["box"].as_array().unwrap().len(), 4);
    assert_eq!(face["landmarks"].as_array().unwrap().len(), 5);
    assert!(face["confidence"].as_f64().unwrap() > 0.9);
    assert!(face["measures"]["faceSize"]["value"].as_f64().unwrap() > 20.0);
    assert!(face["quality"].as_f64().is_some());
    assert!(
        face["advice"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["code"].is_string() && a["message"].is_string())
    );
    assert!(items[0]["ready"].is_boolean());
    assert_eq!(items[0]["model"], "mobilefacenet");
    assert_eq!(items[1]["faces"].as_array().unwrap().len(), 0);
    assert_eq!(items[1]["ready"], false);
    assert_eq!(items[1]["advice"][0]["code"], "no_face");
    assert!(crops.join("Albert_Costa_0001.png").is_file());
}
