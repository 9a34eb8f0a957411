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
