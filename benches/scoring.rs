//! Per-image GraFIQs time (forward + backward + the five score sums) on the CPU backend:
//! the real InsightFace MobileFaceNet (from ../shared/assets, skipped when absent), the shipped
//! model (foamliu-mobilefacenet) and iResNet-50 with synthetic weights (no pretrained iResNet
//! is available offline), at batch 1 and 8.
//! `scripts/bench.sh` runs this and the PyTorch script on the same machine and prints ratios.

use std::path::PathBuf;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use grafiqs::model::arch::iresnet::IResNetConfig;
use grafiqs::{Model, RgbImage, Scorer};

fn assets() -> Option<PathBuf> {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/assets");
    d.is_dir().then_some(d)
}

fn faces(n: usize) -> Vec<RgbImage> {
    let seed_face = assets().and_then(|a| {
        let b = std::fs::read(a.join("faces/aligned-112/1.jpg")).ok()?;
        RgbImage::decode(&b).ok()
    });
    (0..n)
        .map(|i| match &seed_face {
            Some(f) => {
                let data = f
                    .data()
                    .iter()
                    .map(|v| (*v + i as f32).min(255.0))
                    .collect();
                RgbImage::new(f.width(), f.height(), data).unwrap()
            }
            None => {
                let data = (0..112 * 112 * 3)
                    .map(|k| ((k * 7 + i * 13) % 256) as f32)
                    .collect();
                RgbImage::new(112, 112, data).unwrap()
            }
        })
        .collect()
}

fn iresnet50() -> Model {
    Model::synthetic_iresnet(IResNetConfig::named("iresnet50").unwrap(), 50).unwrap()
}

fn mobilefacenet() -> Option<Model> {
    let dir = assets()?.join("models/insightface-mobilefacenet-y1");
    let params = std::fs::read(dir.join("model-0000.params")).ok()?;
    let symbol = std::fs::read_to_string(dir.join("model-symbol.json")).ok()?;
    Model::from_mxnet(&params, &symbol, "mobilefacenet", None, "bench").ok()
}

fn bench(c: &mut Criterion) {
    // As the CLI does (these numbers are the CLI's): feature maps stay on the heap.
    grafiqs::device::tune_system_allocator();
    let mut models = vec![];
    match mobilefacenet() {
        Some(m) => models.push(("mobilefacenet", m)),
        None => eprintln!("SKIPPED mobilefacenet: ../shared/assets not found"),
    }
    models.push((
        "foamliu-mobilefacenet",
        Model::bundled().expect("the shipped model loads"),
    ));
    models.push(("iresnet50", iresnet50()));
    let mut g = c.benchmark_group("grafiqs_cpu");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(20));
    for (name, model) in models {
        let scorer = Scorer::cpu(model).unwrap();
        for batch in [1usize, 8] {
            let input = faces(batch);
            g.throughput(Throughput::Elements(batch as u64));
            g.bench_with_input(BenchmarkId::new(name, batch), &input, |b, input| {
                b.iter(|| scorer.score(input).unwrap())
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
