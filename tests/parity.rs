//! Parity with the independent PyTorch reference (`tests/reference/generate.py`).
//!
//! Tolerances: the reference runs in float64, the engine in float32. A score is a sum of
//! ~10⁵–10⁶ absolute gradient values obtained through dozens of layers; f32 accumulation
//! keeps it within ~1e-5 relative in practice, so rel ≤ 1e-3 leaves a wide margin while
//! still catching any wrong layer, statistic or normalisation (which move scores by ≫ 1 %).
//! Embeddings are O(1) values: max-abs ≤ 1e-4.

mod common;

use common::*;
use grafiqs::{ChannelOrder, Model, RgbImage, ScoreKind, Storage};

const SCORE_TOL: f64 = 1e-3;
const EMB_TOL: f64 = 1e-4;

#[test]
fn tiny_iresnet_matches_pytorch_reference() {
    let fx = json(fixtures().join("tiny_expected.json"));
    let model = tiny_model();
    let cfg = model.meta().iresnet.clone().unwrap();
    assert_eq!(
        serde_json::to_value(cfg.blocks).unwrap(),
        fx["config"]["blocks"]
    );
    assert_eq!(
        model.batchnorm_count() as u64,
        fx["bn_layers"].as_u64().unwrap()
    );
    for (backend, scorer) in scorers(&model) {
        let mut worst = 0f64;
        for case in fx["cases"].as_array().unwrap() {
            let file = case["file"].as_str().unwrap();
            let img = RgbImage::decode(&read(fixtures().join(file))).unwrap();
            let order = if case["bgr"].as_bool().unwrap() {
                ChannelOrder::Bgr
            } else {
                ChannelOrder::Rgb
            };
            let got = &scorer.score_ordered(&[img], order).unwrap()[0];
            let label = format!("[{backend}] {file} bgr={}", case["bgr"]);
            worst = worst.max(check_case(&label, got, case, SCORE_TOL, EMB_TOL));
        }
        eprintln!("tiny iresnet [{backend}]: worst relative score error {worst:.2e}");
    }
}

#[test]
fn batch_equals_single_passes() {
    let model = tiny_model();
    let faces: Vec<RgbImage> = (0..4)
        .map(|i| RgbImage::decode(&read(fixtures().join(format!("tiny_img{i}.png")))).unwrap())
        .collect();
    for (backend, scorer) in scorers(&model) {
        let batch = scorer.score(&faces).unwrap();
        for (i, f) in faces.iter().enumerate() {
            let single = &scorer.score(std::slice::from_ref(f)).unwrap()[0];
            for k in ScoreKind::ALL {
                let r = rel(batch[i].scores.get(k), single.scores.get(k));
                assert!(
                    r < 1e-5,
                    "[{backend}] image {i} {}: batch vs single rel {r:.2e}",
                    k.name()
                );
            }
            let e = batch[i]
                .embedding
                .iter()
                .zip(&single.embedding)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(e < 1e-5, "[{backend}] image {i}: embedding differs by {e}");
        }
    }
}

#[test]
fn converted_file_round_trips_f32_exactly_and_f16_closely() {
    let model = tiny_model();
    let faces: Vec<RgbImage> = (0..4)
        .map(|i| RgbImage::decode(&read(fixtures().join(format!("tiny_img{i}.png")))).unwrap())
        .collect();
    let base = grafiqs::Scorer::cpu(model.clone())
        .unwrap()
        .score(&faces)
        .unwrap();

    let f32_bytes = model.to_bytes(Storage::F32);
    let back = Model::from_bytes(&f32_bytes).unwrap();
    assert_eq!(back.params(), model.params());
    assert_eq!(back.graph(), model.graph());
    assert_eq!(back.meta(), model.meta());
    assert_eq!(
        grafiqs::Scorer::cpu(back).unwrap().score(&faces).unwrap(),
        base
    );

    let f16_bytes = model.to_bytes(Storage::F16);
    assert!(f16_bytes.len() < f32_bytes.len());
    let half = grafiqs::Scorer::cpu(Model::from_bytes(&f16_bytes).unwrap())
        .unwrap()
        .score(&faces)
        .unwrap();
    for (h, b) in half.iter().zip(&base) {
        for k in ScoreKind::ALL {
            let r = rel(h.scores.get(k), b.scores.get(k));
            assert!(r <= 1e-2, "f16 {}: rel {r:.2e}", k.name());
        }
    }
}

#[test]
fn mobilefacenet_matches_pytorch_reference() {
    let Some(assets) = assets() else { return };
    let fx = json(fixtures().join("mobilefacenet_expected.json"));
    let model = mobilefacenet(&assets);
    assert_eq!(
        model.batchnorm_count() as u64,
        fx["bn_layers"].as_u64().unwrap()
    );
    let dir = assets.join("faces/aligned-112");
    for (backend, scorer) in scorers(&model) {
        let mut worst = 0f64;
        for case in fx["cases"].as_array().unwrap() {
            let file = case["file"].as_str().unwrap();
            let bytes = read(dir.join(file));
            let img = RgbImage::decode(&bytes).unwrap();
            let sum: f64 = img.data().iter().map(|&v| v as f64).sum();
            let decoded_same = sum == case["pixel_sum"].as_f64().unwrap();
            let got = &scorer.score(&[img]).unwrap()[0];
            let label = format!("[{backend}] {file} (decoder agrees with PIL: {decoded_same})");
            worst = worst.max(check_case(&label, got, case, SCORE_TOL, EMB_TOL));
        }
        eprintln!("mobilefacenet [{backend}]: worst relative score error {worst:.2e}");
    }
}

#[test]
fn mobilefacenet_f16_file_is_small_and_close() {
    let Some(assets) = assets() else { return };
    let model = mobilefacenet(&assets);
    let bytes = model.to_bytes(Storage::F16);
    eprintln!("mobilefacenet f16 file: {} bytes", bytes.len());
    assert!(
        bytes.len() <= 2_200_000,
        "f16 model is {} bytes",
        bytes.len()
    );
    let faces: Vec<RgbImage> = ["1.jpg", "Aaron_Eckhart_0001.jpg"]
        .iter()
        .map(|f| RgbImage::decode(&read(assets.join("faces/aligned-112").join(f))).unwrap())
        .collect();
    let a = grafiqs::Scorer::cpu(model).unwrap().score(&faces).unwrap();
    let b = grafiqs::Scorer::cpu(Model::from_bytes(&bytes).unwrap())
        .unwrap()
        .score(&faces)
        .unwrap();
    for (x, y) in a.iter().zip(&b) {
        for k in ScoreKind::ALL {
            let r = rel(y.scores.get(k), x.scores.get(k));
            assert!(r <= 1e-2, "f16 {}: rel {r:.2e}", k.name());
        }
    }
}

/// GraFIQs must see blur: on the 12 LFW faces, block1 rises with Gaussian blur strength
/// (pooled Spearman over faces × levels; an independent implementation measured 0.84).
#[test]
fn blur_raises_block1_on_real_faces() {
    let Some(assets) = assets() else { return };
    let scorer = grafiqs::Scorer::cpu(mobilefacenet(&assets)).unwrap();
    let faces = lfw_colour_aligned(&assets);
    assert_eq!(faces.len(), 12);
    let sigmas = [0.0, 0.8, 1.6, 2.4, 3.2, 4.0];
    let (mut sev, mut score) = (Vec::new(), Vec::new());
    for (_, face) in &faces {
        let batch: Vec<RgbImage> = sigmas
            .iter()
            .map(|&s| grafiqs::degrade::gaussian_blur(face, s))
            .collect();
        for (level, r) in scorer.score(&batch).unwrap().iter().enumerate() {
            sev.push(level as f64);
            score.push(r.scores.block1);
        }
    }
    let rho = spearman(&sev, &score);
    eprintln!(
        "blur vs block1 Spearman over {} samples: {rho:.3}",
        sev.len()
    );
    assert!(rho >= 0.8, "Spearman {rho:.3} < 0.8");
}

/// The inspection pass exposes what GraFIQs compares: per-layer BatchNorm input statistics
/// (recomputing the loss from them gives the scoring pass's loss), the stage outputs at
/// 56/28/14/7 px, and the same embedding.
#[test]
fn activations_expose_batchnorm_statistics_and_stages() {
    let mut cases = vec![(
        "tiny",
        tiny_model(),
        [8usize, 8, 16, 16],
        RgbImage::decode(&read(fixtures().join("tiny_img1.png"))).unwrap(),
    )];
    if let Some(assets) = assets() {
        let face = RgbImage::decode(&read(assets.join("faces/aligned-112/1.jpg"))).unwrap();
        cases.push((
            "mobilefacenet",
            mobilefacenet(&assets),
            [64, 64, 128, 128],
            face,
        ));
    }
    for (name, model, widths, face) in cases {
        let layers = model.batchnorm_count();
        for (backend, scorer) in scorers(&model) {
            let a = &scorer.activations(std::slice::from_ref(&face)).unwrap()[0];
            let s = &scorer.score(std::slice::from_ref(&face)).unwrap()[0];
            assert_eq!(a.batchnorms.len(), layers);
            let r = rel(a.loss(), s.loss);
            assert!(
                r < 1e-4,
                "[{backend}] {name}: loss from statistics {} vs {}",
                a.loss(),
                s.loss
            );
            for (k, st) in a.stages.iter().enumerate() {
                let side = 56 >> k;
                assert_eq!(
                    st.shape,
                    [widths[k], side, side],
                    "[{backend}] {name} {}",
                    st.name
                );
                assert_eq!(st.data.len(), widths[k] * side * side);
            }
            let e = a
                .embedding
                .iter()
                .zip(&s.embedding)
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max);
            assert!(e < 1e-4, "[{backend}] {name}: embedding differs by {e}");
            eprintln!(
                "{name} [{backend}]: {layers} BatchNorm layers, loss from statistics rel err {r:.1e}"
            );
        }
    }
}

/// The engine's reverse pass (closed-form BatchNorm-loss gradients, fused CPU kernels) against
/// Burn's autodiff on the same network and input: every score, the loss and the embedding, on
/// the tiny iResNet (BatchNorm + PReLU + strided and 1×1 convolutions) and, with the assets,
/// both MobileFaceNets (depthwise convolutions, ReLU6, PReLU), at batch 2. Both run in f32; only
/// the summation order differs (the autodiff run takes Burn's convolutions, the engine its
/// own), so they agree far more closely than either agrees with the float64 reference:
/// rel ≤ 1e-5 (embeddings: max-abs difference ≤ 1e-5 of the largest component).
#[test]
fn reverse_pass_equals_burn_autodiff() {
    use grafiqs::device::block_on;
    use grafiqs::engine::Network;
    let mut models = vec![("tiny iresnet", tiny_model())];
    match assets() {
        Some(a) => {
            models.push(("insightface mobilefacenet", mobilefacenet(&a)));
            models.push(("foamliu mobilefacenet", foamliu(&a)));
        }
        None => eprintln!("SKIPPED the MobileFaceNets: ../shared/assets not found"),
    }
    for (name, model) in models {
        let [h, w] = model.meta().input_size;
        let data: Vec<f32> = (0..2 * 3 * h * w)
            .map(|k| ((k * 7919 % 1000) as f32 / 500.0) - 1.0)
            .collect();
        let net = Network::new(&model, &burn::tensor::Device::flex()).unwrap();
        let ours = block_on(grafiqs::grafiqs::score(&net, data.clone(), 2)).unwrap();
        let theirs = block_on(grafiqs::grafiqs::score_autodiff(&net, data, 2)).unwrap();
        for (a, b) in ours.iter().zip(&theirs) {
            for k in ScoreKind::ALL {
                let (x, y) = (a.scores.get(k), b.scores.get(k));
                assert!(rel(x, y) <= 1e-5, "{name} {k:?}: {x} vs autodiff {y}");
            }
            assert!(rel(a.loss, b.loss) <= 1e-5, "{name} loss");
            let e = a
                .embedding
                .iter()
                .zip(&b.embedding)
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max);
            let scale = b.embedding.iter().fold(1f32, |m, v| m.max(v.abs()));
            assert!(
                e <= 1e-5 * scale,
                "{name}: embeddings differ by {e} (largest component {scale})"
            );
        }
    }
}
