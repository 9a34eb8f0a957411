//! Controlled image degradations (used to validate that quality scores track image damage).

use crate::preprocess::RgbImage;

/// Gaussian blur with standard deviation `sigma` pixels (kernel radius ⌈3σ⌉, mirrored borders
/// without repeating the edge pixel). `sigma <= 0` returns the image unchanged.
pub fn gaussian_blur(img: &RgbImage, sigma: f64) -> RgbImage {
    if sigma <= 0.0 {
        return img.clone();
    }
    let r = (3.0 * sigma).ceil() as isize;
    let mut k: Vec<f64> = (-r..=r)
        .map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let s: f64 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= s);
    let (w, h) = (img.width as isize, img.height as isize);
    let reflect = |i: isize, n: isize| -> usize {
        let mut i = i;
        while i < 0 || i >= n {
            i = if i < 0 { -i } else { 2 * (n - 1) - i };
        }
        i as usize
    };
    let mut tmp = vec![0f32; img.data.len()];
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let mut acc = 0.0;
                for (j, kv) in k.iter().enumerate() {
                    let xx = reflect(x + j as isize - r, w);
                    acc += kv * img.at(xx, y as usize, c) as f64;
                }
                tmp[((y * w + x) * 3) as usize + c] = acc as f32;
            }
        }
    }
    let mut out = vec![0f32; img.data.len()];
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let mut acc = 0.0;
                for (j, kv) in k.iter().enumerate() {
                    let yy = reflect(y + j as isize - r, h);
                    acc += kv * tmp[(yy * w as usize + x as usize) * 3 + c] as f64;
                }
                out[((y * w + x) * 3) as usize + c] = acc as f32;
            }
        }
    }
    RgbImage {
        width: img.width,
        height: img.height,
        data: out,
    }
}

/// Scales every pixel by `factor` (0…1 darkens), rounding to 8-bit levels like a camera would.
pub fn darken(img: &RgbImage, factor: f64) -> RgbImage {
    map(img, |v| {
        (v as f64 * factor).round().clamp(0.0, 255.0) as f32
    })
}

/// Adds zero-mean Gaussian noise of standard deviation `sigma` levels (deterministic in `seed`),
/// clipped and rounded to 8-bit levels.
pub fn gaussian_noise(img: &RgbImage, sigma: f64, seed: u64) -> RgbImage {
    let mut state = seed ^ 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    map(img, |v| {
        let (u1, u2) = (next().max(1e-12), next());
        let n = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        (v as f64 + sigma * n).round().clamp(0.0, 255.0) as f32
    })
}

/// Blacks out the lower `fraction` of the image (a mask or hand over mouth and chin on an
/// aligned face).
pub fn occlude_lower(img: &RgbImage, fraction: f64) -> RgbImage {
    let mut out = img.clone();
    let start = ((1.0 - fraction.clamp(0.0, 1.0)) * img.height as f64).round() as usize;
    out.data[start * img.width * 3..].fill(0.0);
    out
}

/// Re-encodes as baseline JPEG at `quality` (1–100) and decodes again.
pub fn jpeg(img: &RgbImage, quality: u8) -> crate::Result<RgbImage> {
    let bytes: Vec<u8> = img
        .data
        .iter()
        .map(|v| v.round().clamp(0.0, 255.0) as u8)
        .collect();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100))
        .encode(
            &bytes,
            img.width as u32,
            img.height as u32,
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| crate::Error::Image(format!("JPEG encoding failed: {e}")))?;
    RgbImage::decode(&out)
}

fn map(img: &RgbImage, f: impl FnMut(f32) -> f32) -> RgbImage {
    RgbImage {
        width: img.width,
        height: img.height,
        data: img.data.iter().copied().map(f).collect(),
    }
}
