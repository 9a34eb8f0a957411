//! Face alignment to the ArcFace 112×112 template from five landmarks.

use crate::error::{Error, Result};
use crate::image::RgbImage;

/// Side of the aligned face, in pixels: the ArcFace template's coordinate frame.
pub const ALIGNED_SIZE: usize = 112;

/// ArcFace template: left eye, right eye, nose tip, left and right mouth corner (112×112).
pub const ARCFACE_TEMPLATE: [[f64; 2]; 5] = [
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
];

/// A 2×3 affine matrix mapping source coordinates to destination coordinates.
pub type Affine = [[f64; 3]; 2];

/// Least-squares similarity transform (rotation, uniform scale, translation; no reflection)
/// taking `src` points onto `dst` points.
pub fn similarity(src: &[[f64; 2]], dst: &[[f64; 2]]) -> Result<Affine> {
    if src.len() != dst.len() || src.len() < 2 {
        return Err(Error::Input(
            "similarity transform needs at least two point pairs".into(),
        ));
    }
    if src.iter().chain(dst).flatten().any(|v| !v.is_finite()) {
        return Err(Error::Input("landmarks contain non-finite values".into()));
    }
    let n = src.len() as f64;
    let mean = |p: &[[f64; 2]]| {
        let (sx, sy) = p.iter().fold((0.0, 0.0), |a, q| (a.0 + q[0], a.1 + q[1]));
        [sx / n, sy / n]
    };
    let (ms, md) = (mean(src), mean(dst));
    // With centred points, x' = a·x − b·y, y' = b·x + a·y minimises the squared error for
    // a = Σ(x·u + y·v) / Σ(x² + y²), b = Σ(x·v − y·u) / Σ(x² + y²).
    let (mut num_a, mut num_b, mut den) = (0.0, 0.0, 0.0);
    for (s, d) in src.iter().zip(dst) {
        let (x, y) = (s[0] - ms[0], s[1] - ms[1]);
        let (u, v) = (d[0] - md[0], d[1] - md[1]);
        num_a += x * u + y * v;
        num_b += x * v - y * u;
        den += x * x + y * y;
    }
    if den <= 1e-12 {
        return Err(Error::Input("landmarks are all at one point".into()));
    }
    let (a, b) = (num_a / den, num_b / den);
    let tx = md[0] - (a * ms[0] - b * ms[1]);
    let ty = md[1] - (b * ms[0] + a * ms[1]);
    Ok([[a, -b, tx], [b, a, ty]])
}

/// Applies `m` to a point.
pub fn apply(m: &Affine, p: [f64; 2]) -> [f64; 2] {
    [
        m[0][0] * p[0] + m[0][1] * p[1] + m[0][2],
        m[1][0] * p[0] + m[1][1] * p[1] + m[1][2],
    ]
}

/// Inverse of an affine map.
pub fn invert(m: &Affine) -> Result<Affine> {
    let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
    if det.abs() < 1e-12 {
        return Err(Error::Input("degenerate (non-invertible) transform".into()));
    }
    let (a, b, c, d) = (m[1][1] / det, -m[0][1] / det, -m[1][0] / det, m[0][0] / det);
    Ok([
        [a, b, -(a * m[0][2] + b * m[1][2])],
        [c, d, -(c * m[0][2] + d * m[1][2])],
    ])
}

/// What a warp puts where the destination maps outside the source image.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fill {
    /// Zeros (`cv2.BORDER_CONSTANT`, `cv2.warpAffine`'s default).
    #[default]
    Black,
    /// The nearest border pixel (`cv2.BORDER_REPLICATE`).
    Edge,
}

/// Warps `img` with `m` (source → destination) into a `size × size` image, bilinear sampling
/// at pixel centres on integer coordinates, black outside the source (as `cv2.warpAffine`).
pub fn warp(img: &RgbImage, m: &Affine, size: usize) -> Result<RgbImage> {
    warp_fill(img, m, size, Fill::Black)
}

/// [`warp`] with a choice of what fills the area outside the source.
pub fn warp_fill(img: &RgbImage, m: &Affine, size: usize, fill: Fill) -> Result<RgbImage> {
    let inv = invert(m)?;
    let mut out = vec![0f32; size * size * 3];
    let (w, h) = (img.width as isize, img.height as isize);
    for y in 0..size {
        for x in 0..size {
            let [sx, sy] = apply(&inv, [x as f64, y as f64]);
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let (x0, y0) = (x0 as isize, y0 as isize);
            for c in 0..3 {
                let px = |xx: isize, yy: isize| -> f64 {
                    let inside = xx >= 0 && yy >= 0 && xx < w && yy < h;
                    match (inside, fill) {
                        (true, _) => img.at(xx as usize, yy as usize, c) as f64,
                        (false, Fill::Black) => 0.0,
                        (false, Fill::Edge) => {
                            img.at(xx.clamp(0, w - 1) as usize, yy.clamp(0, h - 1) as usize, c)
                                as f64
                        }
                    }
                };
                let v = px(x0, y0) * (1.0 - fx) * (1.0 - fy)
                    + px(x0 + 1, y0) * fx * (1.0 - fy)
                    + px(x0, y0 + 1) * (1.0 - fx) * fy
                    + px(x0 + 1, y0 + 1) * fx * fy;
                out[(y * size + x) * 3 + c] = v as f32;
            }
        }
    }
    RgbImage::new(size, size, out)
}

/// Aligns a face to the 112×112 ArcFace template from its five landmarks (image pixels).
pub fn align_face(img: &RgbImage, landmarks: &[[f64; 2]; 5]) -> Result<RgbImage> {
    align_face_fill(img, landmarks, Fill::Black)
}

/// [`align_face`] with a choice of what fills the part of the template outside the image.
pub fn align_face_fill(img: &RgbImage, landmarks: &[[f64; 2]; 5], fill: Fill) -> Result<RgbImage> {
    let m = similarity(landmarks, &ARCFACE_TEMPLATE)?;
    warp_fill(img, &m, ALIGNED_SIZE, fill)
}

/// Share of the 112×112 aligned face that maps outside the source image (what a [`Fill`]
/// invents), in 0…1.
pub fn outside_fraction(img: &RgbImage, landmarks: &[[f64; 2]; 5]) -> Result<f64> {
    let inv = invert(&similarity(landmarks, &ARCFACE_TEMPLATE)?)?;
    let (w, h) = (img.width as f64, img.height as f64);
    let mut outside = 0usize;
    for y in 0..ALIGNED_SIZE {
        for x in 0..ALIGNED_SIZE {
            let [sx, sy] = apply(&inv, [x as f64, y as f64]);
            if sx < 0.0 || sy < 0.0 || sx > w - 1.0 || sy > h - 1.0 {
                outside += 1;
            }
        }
    }
    Ok(outside as f64 / (ALIGNED_SIZE * ALIGNED_SIZE) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_known_similarity() {
        let (s, t) = (1.7f64, 0.3f64);
        let m0: Affine = [
            [s * t.cos(), -s * t.sin(), 12.0],
            [s * t.sin(), s * t.cos(), -4.0],
        ];
        let src: Vec<[f64; 2]> = ARCFACE_TEMPLATE.to_vec();
        let dst: Vec<[f64; 2]> = src.iter().map(|p| apply(&m0, *p)).collect();
        let m = similarity(&src, &dst).unwrap();
        for r in 0..2 {
            for c in 0..3 {
                assert!((m[r][c] - m0[r][c]).abs() < 1e-9);
            }
        }
        let back = apply(&invert(&m).unwrap(), dst[2]);
        assert!((back[0] - src[2][0]).abs() < 1e-9 && (back[1] - src[2][1]).abs() < 1e-9);
        assert!(similarity(&[[1.0, 1.0]; 5], &ARCFACE_TEMPLATE).is_err());
    }

    #[test]
    fn identity_warp_keeps_pixels() {
        let data: Vec<f32> = (0..112 * 112 * 3).map(|i| (i % 251) as f32).collect();
        let img = RgbImage::new(112, 112, data).unwrap();
        let id: Affine = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]];
        assert_eq!(warp(&img, &id, 112).unwrap(), img);
    }
}
