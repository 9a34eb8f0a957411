//! Device-memory growth across many consecutive scores (same engine as in the browser):
//! `cargo run --release --features wgpu --example soak -- <model.grafiqs> [n=1000] [cpu|wgpu]`
//! prints the backend pool's bytes in use / reserved every n/10 scores.

use grafiqs::{Model, RgbImage, Scorer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let model = Model::from_bytes(&std::fs::read(
        args.next()
            .ok_or("usage: soak <model.grafiqs> [n] [cpu|wgpu]")?,
    )?)?;
    let n: usize = args.next().map(|v| v.parse()).transpose()?.unwrap_or(1000);
    let scorer = match args.next().as_deref() {
        #[cfg(feature = "wgpu")]
        Some("wgpu") => Scorer::wgpu(model)?,
        _ => Scorer::cpu(model)?,
    };
    let face = RgbImage::new(
        112,
        112,
        (0..112 * 112 * 3).map(|i| (i % 251) as f32).collect(),
    )?;
    let mb = |v: u64| v as f64 / 1e6;
    for i in 0..n {
        scorer.score(std::slice::from_ref(&face))?;
        if i == 0 || (i + 1) % (n / 10).max(1) == 0 {
            match scorer.device().memory_pool_usage() {
                Some(u) => println!(
                    "{:>5} scores: {:.2} MB in use, {:.2} MB reserved",
                    i + 1,
                    mb(u.bytes_in_use),
                    mb(u.bytes_reserved)
                ),
                None => println!("{:>5} scores: the backend reports no pool usage", i + 1),
            }
        }
    }
    Ok(())
}
