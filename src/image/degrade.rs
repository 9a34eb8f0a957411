//! Controlled image degradations (used to validate that quality scores track image damage).

use crate::image::RgbImage;
use crate::rng::SplitMix64;

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

/// Lowers every pixel by `offset` 8-bit levels, clipping at black (an additive brightness
/// shift, as image editors' and augmentation libraries' brightness controls do: shadows are
/// crushed to black first).
pub fn darken_offset(img: &RgbImage, offset: f64) -> RgbImage {
    map(img, |v| {
        (v as f64 - offset).round().clamp(0.0, 255.0) as f32
    })
}

/// Adds zero-mean Gaussian noise of standard deviation `sigma` levels (deterministic in `seed`),
/// clipped and rounded to 8-bit levels.
pub fn gaussian_noise(img: &RgbImage, sigma: f64, seed: u64) -> RgbImage {
    let mut rng = SplitMix64::new(seed ^ 0x9E37_79B9_7F4A_7C15);
    let mut next = move || rng.next_f64();
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

/// Re-encodes as baseline JPEG at `quality` (1–100, libjpeg's quality scaling of the standard
/// tables) with 4:2:0 chroma subsampling — what OpenCV's `imwrite`, Pillow and most cameras
/// and browsers produce — and decodes again.
///
/// Errors: images wider or taller than 65,535 px (the JPEG limit) or empty.
pub fn jpeg(img: &RgbImage, quality: u8) -> crate::Result<RgbImage> {
    let bytes: Vec<u8> = img
        .data
        .iter()
        .map(|v| v.round().clamp(0.0, 255.0) as u8)
        .collect();
    let too_big = || {
        crate::Error::Image(format!(
            "JPEG encoding failed: {}x{} is outside 1..=65535 px per side",
            img.width, img.height
        ))
    };
    let (w, h) = (
        u16::try_from(img.width).map_err(|_| too_big())?,
        u16::try_from(img.height).map_err(|_| too_big())?,
    );
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, quality.clamp(1, 100));
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    // Box-averaged chroma, as libjpeg downsamples (the crate's default keeps one pixel of four).
    encoder.set_chroma_subsampling_method(jpeg_encoder::ChromaSubsamplingMethod::Average);
    encoder
        .encode(&bytes, w, h, jpeg_encoder::ColorType::Rgb)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: usize, h: usize) -> RgbImage {
        let data = (0..w * h * 3)
            .map(|i| ((i / 3) % w * 255 / (w - 1)) as f32)
            .collect();
        RgbImage::new(w, h, data).unwrap()
    }

    fn flat(w: usize, h: usize, v: f32) -> RgbImage {
        RgbImage::new(w, h, vec![v; w * h * 3]).unwrap()
    }

    #[test]
    fn noise_is_deterministic_in_its_seed_and_has_the_asked_spread() {
        let img = flat(64, 64, 128.0);
        let a = gaussian_noise(&img, 10.0, 7);
        assert_eq!(a, gaussian_noise(&img, 10.0, 7));
        assert_ne!(a, gaussian_noise(&img, 10.0, 8));
        let n = a.data.len() as f64;
        let mean = a.data.iter().map(|&v| v as f64).sum::<f64>() / n;
        let sd = (a
            .data
            .iter()
            .map(|&v| (v as f64 - mean).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        assert!((mean - 128.0).abs() < 0.5, "mean {mean}");
        assert!((sd - 10.0).abs() < 0.5, "sd {sd}");
        assert!(
            a.data
                .iter()
                .all(|v| v.fract() == 0.0 && (0.0..=255.0).contains(v))
        );
        assert_eq!(gaussian_noise(&img, 0.0, 3), img);
    }

    #[test]
    fn occlusion_blacks_out_the_lower_fraction_of_rows() {
        let img = flat(112, 112, 200.0);
        for (f, rows) in [
            (0.0, 0),
            (0.1, 11),
            (0.25, 28),
            (0.5, 56),
            (1.0, 112),
            (1.5, 112),
        ] {
            let out = occlude_lower(&img, f);
            let black = (0..112).filter(|&y| out.at(5, y, 1) == 0.0).count();
            assert_eq!(black, rows, "fraction {f}");
            assert!((112 - rows..112).all(|y| (0..112).all(|x| out.at(x, y, 0) == 0.0)));
            assert!((0..112 - rows).all(|y| out.at(111, y, 2) == 200.0));
        }
    }

    #[test]
    fn offset_darkening_clips_at_black() {
        let img = RgbImage::new(16, 16, (0..768).map(|i| (i % 256) as f32).collect()).unwrap();
        let out = darken_offset(&img, 100.0);
        for (a, b) in img.data.iter().zip(&out.data) {
            assert_eq!(*b, (a - 100.0).max(0.0));
        }
        assert_eq!(darken_offset(&img, 0.0), img);
        assert!(darken_offset(&img, 300.0).data.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn darkening_rounds_to_8_bit_levels() {
        let img = RgbImage::new(16, 16, (0..768).map(|i| (i % 256) as f32).collect()).unwrap();
        let out = darken(&img, 0.5);
        assert_eq!(out.at(0, 0, 0), 0.0);
        assert_eq!(out.at(0, 0, 1), 1.0); // 0.5 rounds away from zero
        assert_eq!(out.at(0, 0, 2), 1.0);
        assert_eq!(out.at(1, 0, 0), 2.0); // 3 · 0.5 = 1.5 → 2
        assert_eq!(out.data[255], 128.0); // 255 · 0.5 = 127.5 → 128
        assert!(out.data.iter().all(|v| v.fract() == 0.0));
        assert_eq!(darken(&img, 2.0).data[255], 255.0); // clamped
        assert_eq!(darken(&img, 1.0), img);
    }

    #[test]
    fn jpeg_round_trip_keeps_the_size_and_loses_more_at_low_quality() {
        let img = gradient(50, 38);
        let err = |q: u8| {
            let out = jpeg(&img, q).unwrap();
            assert_eq!((out.width, out.height), (50, 38), "quality {q}");
            out.data
                .iter()
                .zip(&img.data)
                .map(|(a, b)| (a - b).abs() as f64)
                .sum::<f64>()
                / img.data.len() as f64
        };
        let (hi, lo) = (err(95), err(5));
        assert!(hi < 2.0 && lo > hi, "mean abs error q95 {hi}, q5 {lo}");
        assert_eq!(jpeg(&img, 0).unwrap(), jpeg(&img, 1).unwrap()); // clamped to 1
    }

    #[test]
    fn jpeg_subsamples_the_chroma_like_common_encoders() {
        // 2×2 checkerboard of red and blue: at quality 100 the luma survives, but with 4:2:0
        // each 2×2 block shares one chroma sample, so both colours drift towards their mix.
        let data = (0..16 * 16)
            .flat_map(|i| {
                let (x, y) = (i % 16, i / 16);
                if (x + y) % 2 == 0 {
                    [255.0, 0.0, 0.0]
                } else {
                    [0.0, 0.0, 255.0]
                }
            })
            .collect();
        let img = RgbImage::new(16, 16, data).unwrap();
        let out = jpeg(&img, 100).unwrap();
        let red_error: f64 = (0..16 * 16)
            .filter(|i| (i % 16 + i / 16) % 2 == 0)
            .map(|i| (255.0 - out.data[i * 3]) as f64)
            .sum::<f64>()
            / 128.0;
        assert!(red_error > 40.0, "mean red loss {red_error}");
        let gray = gradient(16, 16);
        let gray_out = jpeg(&gray, 100).unwrap();
        let gray_error = gray_out
            .data
            .iter()
            .zip(&gray.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(gray_error <= 3.0, "max gray error {gray_error}");
    }

    #[test]
    fn blur_keeps_flat_images_and_smooths_edges() {
        let img = flat(20, 20, 77.0);
        let out = gaussian_blur(&img, 2.0);
        assert!(out.data.iter().all(|v| (v - 77.0).abs() < 1e-3));
        assert_eq!(gaussian_blur(&img, 0.0), img);
        let mut step = flat(20, 20, 0.0);
        for y in 0..20 {
            for x in 10..20 {
                for c in 0..3 {
                    step.data[(y * 20 + x) * 3 + c] = 255.0;
                }
            }
        }
        let b = gaussian_blur(&step, 1.5);
        assert!(b.at(9, 5, 0) > 50.0 && b.at(10, 5, 0) < 205.0);
        assert!((b.at(9, 5, 0) + b.at(10, 5, 0) - 255.0).abs() < 1e-2); // symmetric edge
    }
}
