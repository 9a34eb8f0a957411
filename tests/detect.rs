//! MTCNN face detection: parity with facenet-pytorch, detection rate, alignment, bad input.
//!
//! `tests/fixtures/mtcnn_expected.json` comes from `tests/reference/mtcnn_reference.py`
//! (facenet-pytorch's `MTCNN(keep_all=True)` on the same images, composites included).

mod common;

use std::path::Path;

use common::{assets, json, read};
use grafiqs::align::{ARCFACE_TEMPLATE, apply, similarity};
use grafiqs::capture::detect::BUNDLED_MODEL;
use grafiqs::{Detector, Error, Face, RgbImage};

/// One detector per backend this build can run: CPU always, wgpu with the `wgpu` feature.
fn detectors() -> Vec<(&'static str, Detector)> {
    #[allow(unused_mut)]
    let mut v = vec![("cpu", Detector::bundled().unwrap())];
    #[cfg(feature = "wgpu")]
    v.push((
        "wgpu",
        Detector::wgpu(BUNDLED_MODEL).expect("a wgpu adapter (Mesa lavapipe)"),
    ));
    v
}

fn decode(p: &Path) -> RgbImage {
    RgbImage::decode(&read(p)).unwrap()
}

/// A canvas filled with `fill`, with decoded images pasted at their top-left corners
/// (the placement is documented in the fixture, shared with the Python reference).
fn composite(faces: &Path, spec: &serde_json::Value) -> RgbImage {
    let (w, h) = (
        spec["width"].as_u64().unwrap() as usize,
        spec["height"].as_u64().unwrap() as usize,
    );
    let fill = spec["fill"].as_f64().unwrap() as f32;
    let mut data = vec![fill; w * h * 3];
    for part in spec["parts"].as_array().unwrap() {
        let img = decode(&faces.join(part[0].as_str().unwrap()));
        let (x0, y0) = (
            part[1].as_u64().unwrap() as usize,
            part[2].as_u64().unwrap() as usize,
        );
        for y in 0..img.height() {
            let dst = ((y0 + y) * w + x0) * 3;
            data[dst..dst + img.width() * 3]
                .copy_from_slice(&img.data()[y * img.width() * 3..(y + 1) * img.width() * 3]);
        }
    }
    RgbImage::new(w, h, data).unwrap()
}

fn crc(img: &RgbImage) -> u32 {
    let bytes: Vec<u8> = img.data().iter().map(|&v| v as u8).collect();
    crc32fast::hash(&bytes)
}

fn center(b: &[f32; 4]) -> (f32, f32) {
    ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0)
}

#[test]
fn parity_with_facenet_pytorch() {
    let Some(assets) = assets() else { return };
    let faces_dir = assets.join("faces");
    let expected = json(common::fixtures().join("mtcnn_expected.json"));
    let cases = expected["cases"].as_array().unwrap();
    let images: Vec<RgbImage> = cases
        .iter()
        .map(|c| {
            let name = c["image"].as_str().unwrap();
            let img = match name.strip_prefix("composite/") {
                Some(k) => composite(&faces_dir, &expected["composites"][k]),
                None => decode(&faces_dir.join(name)),
            };
            assert_eq!(
                (img.width() as u64, img.height() as u64),
                (c["width"].as_u64().unwrap(), c["height"].as_u64().unwrap()),
                "{name}"
            );
            assert_eq!(
                crc(&img) as u64,
                c["pixel_crc"].as_u64().unwrap(),
                "{name}: decoded pixels differ from PIL's"
            );
            img
        })
        .collect();
    let total: usize = cases
        .iter()
        .map(|c| c["faces"].as_array().unwrap().len())
        .sum();
    assert!(total >= cases.len(), "fixture should hold faces");
    for (backend, det) in detectors() {
        let mut worst = Errors::default();
        for (c, img) in cases.iter().zip(&images) {
            let name = format!("{backend} {}", c["image"].as_str().unwrap());
            worst = worst.max(compare(&name, &det.detect(img).unwrap(), &c["faces"]));
        }
        eprintln!(
            "{backend}: {} images, {total} faces; max box error {:.4} px, landmark error \
             {:.4} px, confidence error {:.2e}",
            cases.len(),
            worst.bbox,
            worst.landmarks,
            worst.confidence
        );
    }
}

/// Largest absolute differences from facenet-pytorch.
#[derive(Clone, Copy, Debug, Default)]
struct Errors {
    bbox: f32,
    landmarks: f32,
    confidence: f32,
}

impl Errors {
    fn max(self, o: Errors) -> Errors {
        Errors {
            bbox: self.bbox.max(o.bbox),
            landmarks: self.landmarks.max(o.landmarks),
            confidence: self.confidence.max(o.confidence),
        }
    }
}

/// Checks detections against facenet-pytorch's (same count; each expected face matched to
/// the detection with the nearest box centre; boxes and landmarks within 1 px, probability
/// within 1e-3) and returns the largest errors.
fn compare(name: &str, got: &[Face], want: &serde_json::Value) -> Errors {
    let want = want.as_array().unwrap();
    assert_eq!(
        got.len(),
        want.len(),
        "{name}: {} faces, facenet-pytorch finds {}: {got:?}",
        got.len(),
        want.len()
    );
    let f = |v: &serde_json::Value| v.as_f64().unwrap() as f32;
    let mut worst = Errors::default();
    for wf in want {
        let b = wf["box"].as_array().unwrap();
        let wb = [f(&b[0]), f(&b[1]), f(&b[2]), f(&b[3])];
        let wc = center(&wb);
        let d = |g: &Face| {
            let c = center(&g.bbox);
            (c.0 - wc.0).powi(2) + (c.1 - wc.1).powi(2)
        };
        let g = got.iter().min_by(|a, b| d(a).total_cmp(&d(b))).unwrap();
        let mut e = Errors {
            confidence: (g.confidence - f(&wf["prob"])).abs(),
            ..Default::default()
        };
        for (a, b) in g.bbox.iter().zip(&wb) {
            e.bbox = e.bbox.max((a - b).abs());
        }
        for (k, p) in wf["landmarks"].as_array().unwrap().iter().enumerate() {
            for c in 0..2 {
                e.landmarks = e.landmarks.max((g.landmarks[k][c] - f(&p[c])).abs());
            }
        }
        assert!(
            e.bbox <= 1.0 && e.landmarks <= 1.0 && e.confidence <= 1e-3,
            "{name}: {e:?}\n got {g:?}\n want {wf}"
        );
        worst = worst.max(e);
    }
    worst
}

/// All 100 grayscale crops: exactly one face in at least 98, and the same detections as
/// facenet-pytorch (CPU backend).
#[test]
fn one_face_in_lfw_gray_crops() {
    let Some(assets) = assets() else { return };
    let dir = assets.join("faces/lfw-gray-crops");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 100);
    let expected = json(common::fixtures().join("mtcnn_expected.json"));
    let expected = expected["gray_crops"].as_array().unwrap();
    assert_eq!(expected.len(), 100);
    let det = Detector::bundled().unwrap();
    let mut ones = 0;
    let mut other = Vec::new();
    let mut worst = Errors::default();
    for (f, want) in files.iter().zip(expected) {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        assert_eq!(want["image"].as_str().unwrap(), name);
        let img = decode(f);
        assert_eq!(
            crc(&img) as u64,
            want["pixel_crc"].as_u64().unwrap(),
            "{name}"
        );
        let found = det.detect(&img).unwrap();
        worst = worst.max(compare(&name, &found, &want["faces"]));
        if found.len() == 1 {
            ones += 1;
        } else {
            other.push(format!("{name} ({})", found.len()));
        }
    }
    eprintln!(
        "lfw-gray-crops: exactly one face in {ones}/100 (others: {other:?}); vs facenet-pytorch \
         max box error {:.4} px, landmark error {:.4} px, confidence error {:.2e}",
        worst.bbox, worst.landmarks, worst.confidence
    );
    assert!(ones >= 98, "exactly one face in only {ones}/100: {other:?}");
}

/// The 12 colour LFW faces with their annotated landmarks.
fn lfw_colour(assets: &Path) -> Vec<(String, RgbImage, [[f64; 2]; 5])> {
    let dir = assets.join("faces/lfw-colour");
    let csv = String::from_utf8(read(dir.join("labels.csv"))).unwrap();
    csv.lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split(',').collect();
            let v: Vec<f64> = cols[5]
                .split_whitespace()
                .map(|s| s.parse().unwrap())
                .collect();
            (v.len() == 10).then(|| {
                (
                    cols[0].to_string(),
                    decode(&dir.join(cols[0])),
                    std::array::from_fn(|i| [v[2 * i], v[2 * i + 1]]),
                )
            })
        })
        .collect()
}

/// The detected face whose landmarks lie closest to `annotated`.
fn nearest<'a>(faces: &'a [Face], annotated: &[[f64; 2]; 5]) -> &'a Face {
    let dist = |f: &Face| {
        f.landmarks_f64()
            .iter()
            .zip(annotated)
            .map(|(p, q)| ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt())
            .sum::<f64>()
    };
    faces
        .iter()
        .min_by(|a, b| dist(a).total_cmp(&dist(b)))
        .expect("at least one face")
}

/// Aligning the 12 colour LFW faces from detected landmarks versus from annotated ones.
///
/// Reported per face (112×112 template pixels):
/// * `vs template`: where the annotated landmarks land under the detected-landmark transform,
///   against the template. This includes how far the annotated landmarks themselves are from
///   the template (a face is not the template: up to 14.5 px for the turned face
///   `Alberto_Ruiz_Gallardon_0002`), so it says little about the detector;
/// * `vs annotated alignment`: where the annotated landmarks land under the detected-landmark
///   transform, against where they land under their own transform, i.e. how far apart the
///   two aligned images are at the landmarks. This is the asserted measure.
///
/// The detector reproduces facenet-pytorch's landmarks to 1e-4 px (see the parity test);
/// what remains is MTCNN's landmark definition versus the annotation's (on these faces MTCNN's
/// points sit on average ≈ 1 px right of and ≈ 1.3 px below the annotated ones, 250×250 px).
#[test]
fn alignment_from_detected_landmarks_matches_annotations() {
    let Some(assets) = assets() else { return };
    let faces = lfw_colour(&assets);
    assert_eq!(faces.len(), 12);
    let det = Detector::bundled().unwrap();
    let dist = |p: [f64; 2], q: [f64; 2]| ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt();
    let (mut worst_template, mut errors, mut means) = (0f64, Vec::new(), Vec::new());
    for (name, img, annotated) in &faces {
        let found = det.detect(img).unwrap();
        let face = nearest(&found, annotated);
        let m_det = similarity(&face.landmarks_f64(), &ARCFACE_TEMPLATE).unwrap();
        let m_ann = similarity(annotated, &ARCFACE_TEMPLATE).unwrap();
        let (mut vs_template, mut vs_annotated, mut mean) = (0f64, 0f64, 0f64);
        for (p, t) in annotated.iter().zip(&ARCFACE_TEMPLATE) {
            let q = apply(&m_det, *p);
            let d = dist(q, apply(&m_ann, *p));
            vs_template = vs_template.max(dist(q, *t));
            vs_annotated = vs_annotated.max(d);
            mean += d / 5.0;
        }
        eprintln!(
            "{name}: vs annotated alignment mean {mean:.2} px, max {vs_annotated:.2} px, vs template {vs_template:.2} px"
        );
        means.push(mean);
        worst_template = worst_template.max(vs_template);
        errors.push(vs_annotated);
        let aligned = grafiqs::align::align_face(img, &face.landmarks_f64()).unwrap();
        assert_eq!((aligned.width(), aligned.height()), (112, 112));
    }
    let worst = errors.iter().copied().fold(0f64, f64::max);
    let within3 = errors.iter().filter(|&&e| e <= 3.0).count();
    eprintln!(
        "alignment (max over 5 points, 112x112): vs annotated alignment max {worst:.2} px, \
         {within3}/12 faces within 3 px; vs template max {worst_template:.2} px"
    );
    let worst_mean = means.iter().copied().fold(0f64, f64::max);
    eprintln!("alignment: mean landmark displacement per face at most {worst_mean:.2} px");
    // Where the five annotated points land, averaged per face: within 3 px except on the one
    // strongly turned face (Alberto_Ruiz_Gallardon_0002), where MTCNN's landmark convention and
    // the annotation disagree most (the detector itself matches facenet-pytorch to 1e-4 px).
    let mean_within3 = means.iter().filter(|&&m| m <= 3.0).count();
    assert!(
        mean_within3 >= 11,
        "mean alignment within 3 px on only {mean_within3}/12 faces"
    );
    assert!(
        worst_mean <= 4.0,
        "mean alignment difference {worst_mean:.2} px"
    );
    assert!(worst < 6.0, "alignment differs by {worst:.2} px");
    assert!(within3 >= 10, "only {within3}/12 faces within 3 px");
}

#[test]
fn large_frames_are_downscaled_and_mapped_back() {
    let Some(assets) = assets() else { return };
    let (name, face, annotated) = lfw_colour(&assets).swap_remove(0);
    // A 2600×1800 frame: detection runs at 1280×886 and maps back.
    let (w, h, x0, y0) = (2600usize, 1800usize, 1700usize, 900usize);
    let mut data = vec![127f32; w * h * 3];
    for y in 0..face.height() {
        let dst = ((y0 + y) * w + x0) * 3;
        data[dst..dst + face.width() * 3]
            .copy_from_slice(&face.data()[y * face.width() * 3..(y + 1) * face.width() * 3]);
    }
    let frame = RgbImage::new(w, h, data).unwrap();
    for (backend, det) in detectors() {
        let found = det.detect(&frame).unwrap();
        assert!(!found.is_empty(), "{backend}: no face in the large frame");
        let moved = annotated.map(|p| [p[0] + x0 as f64, p[1] + y0 as f64]);
        let f = nearest(&found, &moved);
        let err = f
            .landmarks_f64()
            .iter()
            .zip(&moved)
            .map(|(p, q)| ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt())
            .fold(0f64, f64::max);
        eprintln!("{backend} {name} in {w}x{h}: landmarks within {err:.2} px of the annotation");
        assert!(err < 8.0, "{backend}: landmark error {err:.2} px");
        let c = center(&f.bbox);
        assert!(
            (x0 as f32..(x0 + 250) as f32).contains(&c.0)
                && (y0 as f32..(y0 + 250) as f32).contains(&c.1),
            "{backend}: box {:?} outside the pasted face",
            f.bbox
        );
    }
}

#[test]
fn bad_input_never_panics() {
    for (backend, det) in detectors() {
        // Malformed images cannot be built (the fields are private): every constructor
        // refuses them, so the detector never sees one.
        for (w, h) in [(0, 0), (1, 1), (0, 5), (19, 15)] {
            assert!(matches!(
                RgbImage::new(w, h, vec![0.0; w * h * 3]),
                Err(Error::Image(_))
            ));
        }
        assert!(RgbImage::new(64, 64, vec![0.0; 10]).is_err());
        assert!(RgbImage::new(usize::MAX, 2, vec![]).is_err());
        assert!(RgbImage::from_rgba8(usize::MAX, 2, &[]).is_err());
        let mut nan = vec![0.0; 32 * 32 * 3];
        nan[7] = f32::NAN;
        assert!(matches!(RgbImage::new(32, 32, nan), Err(Error::Input(_))));
        // The smallest images accepted hold no face.
        let narrow = RgbImage::new(19, 400, vec![0.0; 19 * 400 * 3]).unwrap();
        assert!(det.detect(&narrow).unwrap().is_empty(), "{backend}");
        // Out-of-range samples are clamped, not an error.
        let loud = RgbImage::new(64, 48, vec![1e30; 64 * 48 * 3]).unwrap();
        assert!(det.detect(&loud).unwrap().is_empty());

        let blank16 = RgbImage::new(16, 16, vec![0.0; 16 * 16 * 3]).unwrap();
        assert!(det.detect(&blank16).unwrap().is_empty());
        let blank = RgbImage::new(4000, 3000, vec![200.0; 4000 * 3000 * 3]).unwrap();
        assert!(det.detect(&blank).unwrap().is_empty());
        drop(blank);
        // A long strip: 16000×40 → 1280×3 after downscaling, no faces.
        let strip = RgbImage::new(16000, 40, vec![90.0; 16000 * 40 * 3]).unwrap();
        assert!(det.detect(&strip).unwrap().is_empty());
        // No face: smooth colour gradients.
        let (w, h) = (320, 240);
        let grad: Vec<f32> = (0..w * h)
            .flat_map(|i| {
                let (x, y) = ((i % w) as f32, (i / w) as f32);
                [x * 0.7, y, 255.0 - (x + y) * 0.4]
            })
            .collect();
        let grad = RgbImage::new(w, h, grad).unwrap();
        assert!(
            det.detect(&grad).unwrap().is_empty(),
            "{backend}: a gradient is not a face"
        );
    }
}

#[test]
fn detector_files_are_checked() {
    assert!(Detector::from_bytes(BUNDLED_MODEL).is_ok());
    assert!(matches!(
        Detector::from_bytes(b"not a model"),
        Err(Error::Format(_))
    ));
    assert!(matches!(
        Detector::from_bytes(&BUNDLED_MODEL[..BUNDLED_MODEL.len() - 9]),
        Err(Error::Format(_))
    ));
    // A face-recognition model is not a detector.
    let model = common::tiny_model().to_bytes(grafiqs::Storage::F32);
    assert!(matches!(
        Detector::from_bytes(&model),
        Err(Error::Format(_))
    ));
    // A detector file missing a tensor, or with a wrong shape, is an architecture error.
    let (header, mut params) = grafiqs::model::container::read(BUNDLED_MODEL).unwrap();
    params.remove("onet.dense6_3.bias");
    let bytes = grafiqs::model::container::write(header.clone(), &params, &Default::default());
    assert!(matches!(
        Detector::from_bytes(&bytes),
        Err(Error::Architecture { .. })
    ));
    let (_, mut params) = grafiqs::model::container::read(BUNDLED_MODEL).unwrap();
    params.insert(
        "pnet.conv1.bias".into(),
        grafiqs::model::graph::Param::new(vec![11], vec![0.0; 11]).unwrap(),
    );
    let bytes = grafiqs::model::container::write(header, &params, &Default::default());
    assert!(matches!(
        Detector::from_bytes(&bytes),
        Err(Error::Architecture { .. })
    ));
    // The model is not a recognition model either.
    assert!(grafiqs::Model::from_bytes(BUNDLED_MODEL).is_err());
}
