//! Pixels: decoding ([`RgbImage::decode`], with the bit-exact baseline [`jpeg`] decoder),
//! resizing exactly like the reference tool, ArcFace [`align`]ment and the controlled
//! [`degrade`]ations. Nothing here knows about models.

pub mod align;
pub mod degrade;
pub mod jpeg;

use crate::error::{Error, Result};

/// Smallest accepted image side, in pixels. Anything smaller carries no usable face detail.
pub const MIN_SIDE: usize = 16;
/// Largest accepted image side, in pixels (guards memory against hostile inputs).
pub const MAX_SIDE: usize = 16384;
/// Largest accepted image, in pixels (40 megapixels: ≈ 0.5 GB as f32 RGB, which still fits a
/// 32-bit WebAssembly memory with room to spare). Checked from the header, before decoding.
pub const MAX_PIXELS: usize = 40_000_000;

/// An RGB image with `f32` samples in 0…255, row-major, interleaved (`[H, W, 3]`).
///
/// The fields are private: every constructor checks the size and the values, and nothing can
/// undo that afterwards.
#[derive(Clone, Debug, PartialEq)]
pub struct RgbImage {
    width: usize,
    height: usize,
    data: Vec<f32>,
}

impl RgbImage {
    /// Wraps interleaved RGB samples (0…255), checking size and finiteness.
    pub fn new(width: usize, height: usize, data: Vec<f32>) -> Result<Self> {
        check_dims(width, height)?;
        if data.len() != width * height * 3 {
            return Err(Error::Input(format!(
                "a {width}x{height} RGB image needs {} values, got {}",
                width * height * 3,
                data.len()
            )));
        }
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(Error::Input(format!("pixel value {i} is not finite")));
        }
        Ok(Self {
            width,
            height,
            data,
        })
    }

    /// From 8-bit RGB bytes.
    pub fn from_rgb8(width: usize, height: usize, rgb: &[u8]) -> Result<Self> {
        Self::new(width, height, rgb.iter().map(|&v| v as f32).collect())
    }

    /// From 8-bit RGBA bytes (e.g. a canvas `ImageData`); alpha is ignored.
    pub fn from_rgba8(width: usize, height: usize, rgba: &[u8]) -> Result<Self> {
        check_dims(width, height)?;
        if rgba.len() != width * height * 4 {
            return Err(Error::Input(format!(
                "a {width}x{height} RGBA image needs {} bytes, got {}",
                width * height * 4,
                rgba.len()
            )));
        }
        let data = rgba
            .chunks_exact(4)
            .flat_map(|p| [p[0] as f32, p[1] as f32, p[2] as f32])
            .collect();
        Ok(Self {
            width,
            height,
            data,
        })
    }

    /// Decodes an encoded image (JPEG, PNG, BMP, WebP) to RGB, applying its EXIF orientation.
    ///
    /// Baseline JPEGs are decoded bit-exactly like libjpeg-turbo (the decoder behind OpenCV,
    /// Pillow and Chromium; see [`jpeg`]); other files go through the `image` crate.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        if let Some(d) = jpeg::decode(bytes) {
            check_dims(d.width, d.height)?;
            return Self::from_rgb8(d.width, d.height, &d.rgb);
        }
        let fail = |e: image::ImageError| Error::Image(e.to_string());
        let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| Error::Image(e.to_string()))?;
        if reader.format().is_none() {
            return Err(Error::Image("unrecognised image format".into()));
        }
        let mut decoder = reader.into_decoder().map_err(fail)?;
        let orientation = image::ImageDecoder::orientation(&mut decoder).ok();
        let (w, h) = image::ImageDecoder::dimensions(&decoder);
        check_dims(w as usize, h as usize)?;
        let mut img = image::DynamicImage::from_decoder(decoder).map_err(fail)?;
        if let Some(o) = orientation {
            img.apply_orientation(o);
        }
        let (w, h) = (img.width() as usize, img.height() as usize);
        Self::from_rgb8(w, h, img.into_rgb8().as_raw())
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The `width · height · 3` samples, row-major, interleaved RGB.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The samples, consuming the image.
    pub fn into_data(self) -> Vec<f32> {
        self.data
    }

    /// 8-bit RGB bytes (each sample rounded and clamped to 0…255).
    pub fn to_rgb8(&self) -> Vec<u8> {
        self.data.iter().map(|&v| to_u8(v)).collect()
    }

    /// 8-bit RGBA bytes with opaque alpha (a canvas `ImageData`'s layout).
    pub fn to_rgba8(&self) -> Vec<u8> {
        self.data
            .chunks_exact(3)
            .flat_map(|p| [to_u8(p[0]), to_u8(p[1]), to_u8(p[2]), 255])
            .collect()
    }

    /// Pixel (x, y), channel c.
    #[inline]
    pub fn at(&self, x: usize, y: usize, c: usize) -> f32 {
        self.data[(y * self.width + x) * 3 + c]
    }

    /// This image resized to `width × height` with antialiased bilinear interpolation
    /// (the triangle filter widened by the downscale factor, as PIL and
    /// `torch.nn.functional.interpolate(..., mode="bilinear", antialias=True)` do).
    /// Returns a copy when the size already matches.
    pub fn resized(&self, width: usize, height: usize) -> RgbImage {
        if width == self.width && height == self.height {
            return self.clone();
        }
        let wx = filter_weights(self.width, width);
        let wy = filter_weights(self.height, height);
        // Horizontal pass: [H, width, 3].
        let mut tmp = vec![0f32; self.height * width * 3];
        for y in 0..self.height {
            for (x, (start, ws)) in wx.iter().enumerate() {
                for c in 0..3 {
                    let mut acc = 0f64;
                    for (k, w) in ws.iter().enumerate() {
                        acc += *w * self.at(start + k, y, c) as f64;
                    }
                    tmp[(y * width + x) * 3 + c] = acc as f32;
                }
            }
        }
        // Vertical pass.
        let mut out = vec![0f32; height * width * 3];
        for (y, (start, ws)) in wy.iter().enumerate() {
            for x in 0..width {
                for c in 0..3 {
                    let mut acc = 0f64;
                    for (k, w) in ws.iter().enumerate() {
                        acc += *w * tmp[((start + k) * width + x) * 3 + c] as f64;
                    }
                    out[(y * width + x) * 3 + c] = acc as f32;
                }
            }
        }
        RgbImage {
            width,
            height,
            data: out,
        }
    }
}

/// A sample (0…255 scale) as a byte: rounded half away from zero, clamped; NaN gives 0.
#[inline]
pub fn to_u8(v: f32) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

/// Checks an image size against [`MIN_SIDE`], [`MAX_SIDE`] and [`MAX_PIXELS`].
pub fn check_dims(width: usize, height: usize) -> Result<()> {
    if width < MIN_SIDE || height < MIN_SIDE {
        return Err(Error::Image(format!(
            "image is {width}x{height} px; at least {MIN_SIDE}x{MIN_SIDE} is needed"
        )));
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(Error::Image(format!(
            "image is {width}x{height} px; at most {MAX_SIDE} px per side is supported"
        )));
    }
    if width * height > MAX_PIXELS {
        return Err(Error::Image(format!(
            "image is {width}x{height} px ({:.1} megapixels); at most {} megapixels are supported",
            (width * height) as f64 / 1e6,
            MAX_PIXELS / 1_000_000
        )));
    }
    Ok(())
}

/// For each output index: first input index and normalised weights of the antialiased
/// bilinear (triangle) filter.
fn filter_weights(input: usize, output: usize) -> Vec<(usize, Vec<f64>)> {
    let scale = input as f64 / output as f64;
    let support = if scale > 1.0 { scale } else { 1.0 };
    let inv = if scale > 1.0 { 1.0 / scale } else { 1.0 };
    (0..output)
        .map(|i| {
            let center = scale * (i as f64 + 0.5);
            let xmin = ((center - support + 0.5).floor().max(0.0)) as usize;
            let xmax = ((center + support + 0.5).floor() as usize).min(input);
            let mut w: Vec<f64> = (xmin..xmax)
                .map(|j| {
                    let t = (j as f64 - center + 0.5) * inv;
                    (1.0 - t.abs()).max(0.0)
                })
                .collect();
            let total: f64 = w.iter().sum();
            if total > 0.0 {
                w.iter_mut().for_each(|v| *v /= total);
            }
            (xmin, w)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_preserves_constant_images_and_identity() {
        let img = RgbImage::new(40, 30, vec![77.0; 40 * 30 * 3]).unwrap();
        let r = img.resized(112, 112);
        assert!(r.data.iter().all(|v| (v - 77.0).abs() < 1e-3));
        let r = img.resized(17, 19);
        assert!(r.data.iter().all(|v| (v - 77.0).abs() < 1e-3));
        assert_eq!(img.resized(40, 30), img);
    }

    #[test]
    fn rejects_bad_sizes_and_values() {
        assert!(RgbImage::new(8, 8, vec![0.0; 192]).is_err());
        assert!(RgbImage::new(20, 20, vec![0.0; 10]).is_err());
        let mut v = vec![0.0; 20 * 20 * 3];
        v[5] = f32::NAN;
        assert!(matches!(RgbImage::new(20, 20, v), Err(Error::Input(_))));
        assert!(RgbImage::from_rgba8(20, 20, &[0; 20 * 20 * 3]).is_err());
        assert!(matches!(
            RgbImage::decode(b"not an image"),
            Err(Error::Image(_))
        ));
    }
}
