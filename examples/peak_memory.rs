//! Peak resident memory of scoring one face with iResNet-50 (synthetic weights) on the CPU.
//! `cargo run --release --example peak_memory [iresnet50|iresnet100] [batch]`

use grafiqs::model::arch::iresnet::IResNetConfig;
use grafiqs::{Model, RgbImage, Scorer};

fn vm_hwm_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let arch = args.next().unwrap_or_else(|| "iresnet50".into());
    let batch: usize = args.next().and_then(|b| b.parse().ok()).unwrap_or(1);
    let cfg = IResNetConfig::named(&arch).expect("iresnet18|34|50|100");
    let model = Model::synthetic_iresnet(cfg, 1).expect("valid model");
    let before = vm_hwm_mb();
    let scorer = Scorer::cpu(model).unwrap();
    let faces: Vec<RgbImage> = (0..batch)
        .map(|i| {
            let data = (0..112 * 112 * 3)
                .map(|k| ((k * 31 + i) % 256) as f32)
                .collect();
            RgbImage::new(112, 112, data).unwrap()
        })
        .collect();
    for _ in 0..3 {
        scorer.score(&faces).expect("scores");
    }
    println!(
        "{arch} batch {batch}: peak RSS {:.0} MB (model in host memory before upload: {:.0} MB)",
        vm_hwm_mb(),
        before
    );
}
