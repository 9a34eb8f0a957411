//! Hostile inputs never panic: truncated and bit-flipped JPEG/PNG files through the decoder,
//! damaged model files through every loader (PyTorch zip and legacy, MXNet, the container,
//! the detector), and damaged evaluation files through their parsers. Each must return a value
//! (`Ok` or `Err`). Seeded: the same inputs every run; `GRAFIQS_FUZZ_ITERS` (or `make fuzz`)
//! tries more.

mod common;

use common::*;
use grafiqs::{Model, RgbImage, Storage};

/// Deterministic byte mutations of `bytes`: truncations at many points and random bit flips.
fn mutations(bytes: &[u8], n: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut state = 0x2545_F491_4F6C_DD1Du64 ^ bytes.len() as u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for k in 1..=n {
        out.push(bytes[..bytes.len() * k / (n + 1)].to_vec());
        let mut flipped = bytes.to_vec();
        for _ in 0..1 + k % 8 {
            let i = (next() % bytes.len() as u64) as usize;
            flipped[i] ^= 1 << (next() % 8);
        }
        out.push(flipped);
    }
    out
}

#[test]
fn damaged_images_give_errors_not_panics() {
    let mut files = vec![read(fixtures().join("tiny_img0.png"))];
    if let Some(assets) = assets() {
        files.push(read(assets.join("faces/aligned-112/1.jpg")));
        files.push(read(
            assets.join("faces/lfw-gray-crops/Ariel_Sharon_0001.jpg"),
        ));
        files.push(read(assets.join("faces/lfw-colour/Albert_Costa_0001.jpg")));
    }
    // More iterations on demand: GRAFIQS_FUZZ_ITERS=5000 cargo test --release --test robustness
    let iters = std::env::var("GRAFIQS_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    let (mut ok, mut err) = (0, 0);
    for f in &files {
        for m in mutations(f, iters) {
            match std::panic::catch_unwind(|| RgbImage::decode(&m)) {
                Ok(Ok(img)) => {
                    assert_eq!(img.data().len(), img.width() * img.height() * 3);
                    ok += 1
                }
                Ok(Err(_)) => err += 1,
                Err(_) => panic!("decoding a damaged file panicked"),
            }
        }
    }
    eprintln!("damaged images: {ok} decoded, {err} rejected, none panicked");
}

/// A JPEG header that claims a huge frame in a few bytes is refused from the header, without
/// allocating for it (it used to allocate gigabytes, which traps a WebAssembly instance).
#[test]
fn huge_dimensions_in_a_tiny_file_are_refused_from_the_header() {
    // A real baseline JPEG whose frame header is rewritten to claim a huge frame: the exact
    // decoder declines from the header (it used to allocate coefficient and pixel buffers for
    // the claimed frame first, gigabytes), and decoding as a whole is a quick error.
    let real = read(fixtures().join("jpeg/q75_420.jpg"));
    let sof = real.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    for (w, h) in [(65535u16, 65535u16), (20000, 20000), (8000, 6000)] {
        let mut jpeg = real.clone();
        jpeg[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
        jpeg[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
        let t = std::time::Instant::now();
        assert!(grafiqs::image::jpeg::decode(&jpeg).is_none(), "{w}x{h}");
        assert!(RgbImage::decode(&jpeg).is_err(), "{w}x{h}");
        assert!(
            t.elapsed().as_secs_f64() < 2.0,
            "{w}x{h}: {:?}",
            t.elapsed()
        );
    }
    // A PNG header claiming 16384x16384 px: refused by size, not decoded.
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(16384u32.to_be_bytes());
    ihdr.extend(16384u32.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0d".to_vec();
    png.extend(&ihdr);
    png.extend(crc32fast::hash(&ihdr).to_be_bytes());
    for chunk in [&b"IDAT"[..], &b"IEND"[..]] {
        png.extend(0u32.to_be_bytes());
        png.extend(chunk);
        png.extend(crc32fast::hash(chunk).to_be_bytes());
    }
    let e = RgbImage::decode(&png).unwrap_err().to_string();
    assert!(e.contains("megapixels"), "{e}");
}

fn iters(default: usize) -> usize {
    std::env::var("GRAFIQS_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn damaged_model_files_give_errors_not_panics() {
    let mut files = vec![
        read(fixtures().join("tiny_iresnet.pth")),
        read(fixtures().join("tiny_iresnet_legacy.pth")),
        read(fixtures().join("tiny_iresnet_module.pth")),
        tiny_model().to_bytes(Storage::F16),
        grafiqs::model::BUNDLED_MODEL.to_vec(),
    ];
    files.push(grafiqs::capture::detect::BUNDLED_MODEL.to_vec());
    let mut tried = 0;
    for f in &files {
        for m in mutations(f, iters(120)) {
            let r = std::panic::catch_unwind(|| {
                let _ = Model::from_bytes(&m);
                let _ = Model::from_torch(&m, "iresnet", "x");
                let _ = Model::from_torch(&m, "mobilefacenet-relu6", "x");
                let _ = grafiqs::Detector::cpu(&m);
            });
            assert!(r.is_ok(), "a damaged model file made a loader panic");
            tried += 1;
        }
    }
    if let Some(assets) = assets() {
        let dir = assets.join("models/insightface-mobilefacenet-y1");
        let params = read(dir.join("model-0000.params"));
        let symbol = read(dir.join("model-symbol.json"));
        for m in mutations(&params, iters(40)) {
            let r = std::panic::catch_unwind(|| {
                let s = String::from_utf8_lossy(&symbol);
                let _ = Model::from_mxnet(&m, &s, "mobilefacenet", None, "x");
            });
            assert!(r.is_ok(), "damaged MXNet params made the importer panic");
            tried += 1;
        }
        for m in mutations(&symbol, iters(40)) {
            let r = std::panic::catch_unwind(|| {
                let s = String::from_utf8_lossy(&m);
                let _ = Model::from_mxnet(&params, &s, "mobilefacenet", None, "x");
            });
            assert!(r.is_ok(), "a damaged MXNet symbol made the importer panic");
            tried += 1;
        }
    }
    eprintln!("damaged model files: {tried} inputs, none panicked");
}

#[test]
fn damaged_evaluation_files_give_errors_not_panics() {
    use grafiqs::eval::{io, labels, pairs};
    let mut texts = vec![
        read(fixtures().join("edc_comparisons.txt")),
        read(fixtures().join("edc_quality_a.txt")),
    ];
    if let Some(assets) = assets() {
        let dir = assets.join("faces/lfwcrop-folds1-5");
        texts.push(read(dir.join("pairs.txt"))[..4000].to_vec());
        texts.push(read(dir.join("labels.csv"))[..4000].to_vec());
    }
    let mut tried = 0;
    for t in &texts {
        for m in mutations(t, iters(150)) {
            let s = String::from_utf8_lossy(&m);
            let r = std::panic::catch_unwind(|| {
                let _ = io::parse_comparisons(&s, "c");
                let _ = io::parse_quality(&s, "q");
                let _ = labels::parse_labels(&s, "l");
                if let Ok(p) = pairs::parse_pairs(&s, "p") {
                    let sims: Vec<f64> = (0..p.len()).map(|i| (i % 7) as f64 / 7.0).collect();
                    let _ = pairs::accuracy(&p, &sims);
                    let _ = pairs::tar_at_fmr(&p, &sims, 1e-2);
                }
            });
            assert!(r.is_ok(), "a damaged evaluation file made a parser panic");
            tried += 1;
        }
    }
    eprintln!("damaged evaluation files: {tried} inputs, none panicked");
}
