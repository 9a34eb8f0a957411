//! Hostile inputs never panic: truncated and bit-flipped JPEG/PNG files through the decoder,
//! and damaged model files through every loader. Each must return a value (`Ok` or `Err`).

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
                    assert_eq!(img.data.len(), img.width * img.height * 3);
                    ok += 1
                }
                Ok(Err(_)) => err += 1,
                Err(_) => panic!("decoding a damaged file panicked"),
            }
        }
    }
    eprintln!("damaged images: {ok} decoded, {err} rejected, none panicked");
}

#[test]
fn damaged_model_files_give_errors_not_panics() {
    let mut files = vec![
        read(fixtures().join("tiny_iresnet.pth")),
        tiny_model().to_bytes(Storage::F16),
    ];
    files.push(grafiqs::detect::BUNDLED_MODEL.to_vec());
    for f in &files {
        for m in mutations(f, 120) {
            let r = std::panic::catch_unwind(|| {
                let _ = Model::from_bytes(&m);
                let _ = Model::from_torch(&m, "iresnet", "x");
                let _ = grafiqs::Detector::cpu(&m);
            });
            assert!(r.is_ok(), "a damaged model file made a loader panic");
        }
    }
}
