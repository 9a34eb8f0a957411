//! The two reverse passes side by side on the CPU backend: the engine's own
//! ([`grafiqs::grafiqs::score`]) and Burn's autodiff ([`grafiqs::grafiqs::score_autodiff`]).
//! Prints ms per image for each and the largest relative difference of their scores.
//!
//! ```sh
//! cargo run --release --features wgpu --example reverse_pass -- [shipped|iresnet50|FILE.grafiqs] [BATCH] [REPS] [manual|autodiff|both]
//! ```
//! `manual` or `autodiff` alone runs just that path (for a profiler).

use std::time::Instant;

use burn::tensor::Device;
use grafiqs::device::block_on;
use grafiqs::engine::Network;
use grafiqs::model::arch::iresnet::IResNetConfig;
use grafiqs::{Model, Result};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().map_or("shipped", String::as_str);
    let batch: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let reps: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
    let mode = args.get(3).map_or("both", String::as_str);
    let model = match which {
        "shipped" => Model::bundled()?,
        "iresnet50" => {
            Model::synthetic_iresnet(IResNetConfig::named("iresnet50").expect("a known name"), 50)?
        }
        file => Model::from_bytes(
            &std::fs::read(file).map_err(|e| grafiqs::Error::Input(format!("{file}: {e}")))?,
        )?,
    };
    let [h, w] = model.meta().input_size;
    let data: Vec<f32> = (0..batch * 3 * h * w)
        .map(|k| ((k * 7919 % 1000) as f32 / 500.0) - 1.0)
        .collect();
    let net = Network::new(&model, &Device::flex())?;
    let time = |label: &str, f: &dyn Fn() -> Result<Vec<grafiqs::grafiqs::Raw>>| {
        let first = f()?; // warm-up
        let t = Instant::now();
        for _ in 0..reps {
            f()?;
        }
        let ms = t.elapsed().as_secs_f64() * 1e3 / (reps * batch) as f64;
        println!("{which} batch {batch}: {label} {ms:.2} ms/image");
        Ok::<_, grafiqs::Error>(first)
    };
    let manual = (mode != "autodiff")
        .then(|| {
            time("engine reverse pass", &|| {
                block_on(grafiqs::grafiqs::score(&net, data.clone(), batch))
            })
        })
        .transpose()?;
    let autodiff = (mode != "manual")
        .then(|| {
            time("burn autodiff", &|| {
                block_on(grafiqs::grafiqs::score_autodiff(&net, data.clone(), batch))
            })
        })
        .transpose()?;
    if let (Some(a), Some(b)) = (manual, autodiff) {
        let mut worst = 0f64;
        for (x, y) in a.iter().zip(&b) {
            for k in grafiqs::ScoreKind::ALL {
                let (u, v) = (x.scores.get(k), y.scores.get(k));
                worst = worst.max((u - v).abs() / v.abs().max(1e-12));
            }
            worst = worst.max((x.loss - y.loss).abs() / y.loss.abs().max(1e-12));
        }
        println!("largest relative difference (scores, loss): {worst:.2e}");
    }
    Ok(())
}
