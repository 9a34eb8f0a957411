//! How a model wants its input: per-channel normalisation of RGB pixels, and the conversion
//! of an [`RgbImage`] into the network's `[3, H, W]` input.

use serde::{Deserialize, Serialize};

use crate::image::RgbImage;

/// Input normalisation: the network sees `(pixel − mean[c]) · scale[c]` for RGB pixels in 0…255.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Preprocess {
    /// Per-channel (R, G, B) offset, in 0…255 pixel units.
    pub mean: [f32; 3],
    /// Per-channel (R, G, B) factor.
    pub scale: [f32; 3],
}

impl Preprocess {
    /// The iResNet / ArcFace convention: `(x/255 − 0.5) / 0.5`.
    pub const IRESNET: Preprocess = Preprocess {
        mean: [127.5; 3],
        scale: [1.0 / 127.5; 3],
    };
    /// torchvision's ImageNet convention: `(x/255 − mean) / std` with mean (0.485, 0.456,
    /// 0.406) and std (0.229, 0.224, 0.225), RGB.
    pub const IMAGENET: Preprocess = Preprocess {
        mean: [0.485 * 255.0, 0.456 * 255.0, 0.406 * 255.0],
        scale: [
            1.0 / (0.229 * 255.0),
            1.0 / (0.224 * 255.0),
            1.0 / (0.225 * 255.0),
        ],
    };
}

impl Preprocess {
    /// The network input for `img`: resized to `size` (`[height, width]`) if needed, channels
    /// in RGB order (or BGR when `bgr`, to reproduce tools that feed OpenCV's order),
    /// normalised, laid out `[3, H, W]`.
    pub fn apply(&self, img: &RgbImage, size: [usize; 2], bgr: bool) -> Vec<f32> {
        let [h, w] = size;
        let img = img.resized(w, h);
        let plane = h * w;
        let data = img.data();
        let mut out = vec![0f32; 3 * plane];
        for c in 0..3 {
            let src = if bgr { 2 - c } else { c };
            // Normalisation constants follow the network's channel, not the source channel.
            let (m, s) = (self.mean[c], self.scale[c]);
            for i in 0..plane {
                out[c * plane + i] = (data[i * 3 + src] - m) * s;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_swaps_channels() {
        let mut data = Vec::new();
        for _ in 0..112 * 112 {
            data.extend_from_slice(&[255.0, 127.5, 0.0]);
        }
        let img = RgbImage::new(112, 112, data).unwrap();
        let x = Preprocess::IRESNET.apply(&img, [112, 112], false);
        assert!((x[0] - 1.0).abs() < 1e-6 && x[112 * 112].abs() < 1e-6);
        assert!((x[2 * 112 * 112] + 1.0).abs() < 1e-6);
        let x = Preprocess::IRESNET.apply(&img, [112, 112], true);
        assert!((x[0] + 1.0).abs() < 1e-6 && (x[2 * 112 * 112] - 1.0).abs() < 1e-6);
    }
}
