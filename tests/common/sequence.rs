//! A fake-camera sequence for the tracking tests (native `tests/tracking.rs` and, through
//! `examples/track_sequence.rs`, the browser test): a face photo on a mid-grey 640×480 frame,
//! moving a few pixels and growing slightly every frame, then gone for a few frames, then back
//! at another place. Samples are whole numbers, so the frames survive PNG exactly.
#![allow(dead_code)]

use grafiqs::RgbImage;

pub const W: usize = 640;
pub const H: usize = 480;

/// Where the face is in one frame: `(side, x, y)` of its square, or `None`.
pub type Placement = Option<(usize, i64, i64)>;

/// The plan: 25 frames moving right/down by (4, 2) px and growing by 2 px (≈ 0.7 %) a frame,
/// 3 frames without a face, 12 frames at another place moving left by 3 px.
pub fn plan() -> Vec<Placement> {
    let mut v = Vec::new();
    for k in 0..25i64 {
        v.push(Some((280 + 2 * k as usize, 120 + 4 * k, 90 + 2 * k)));
    }
    v.extend([None; 3]);
    for j in 0..12i64 {
        v.push(Some((250, 360 - 3 * j, 200)));
    }
    v
}

/// `face` resized to `side × side` and pasted at `(x, y)` (clipped to the frame) on grey.
pub fn compose(face: &RgbImage, at: Placement) -> RgbImage {
    let mut data = vec![128f32; W * H * 3];
    if let Some((side, x0, y0)) = at {
        let f = face.resized(side, side);
        for y in 0..side {
            for x in 0..side {
                let (fx, fy) = (x0 + x as i64, y0 + y as i64);
                if (0..W as i64).contains(&fx) && (0..H as i64).contains(&fy) {
                    let d = (fy as usize * W + fx as usize) * 3;
                    for c in 0..3 {
                        data[d + c] = f.at(x, y, c).round().clamp(0.0, 255.0);
                    }
                }
            }
        }
    }
    RgbImage::new(W, H, data).expect("a 640x480 frame")
}

/// Every frame of [`plan`].
pub fn frames(face: &RgbImage) -> Vec<RgbImage> {
    plan().into_iter().map(|p| compose(face, p)).collect()
}

/// Largest landmark distance (px) between two faces.
pub fn landmark_error(a: &[[f32; 2]; 5], b: &[[f32; 2]; 5]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(p, q)| ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt())
        .fold(0.0, f32::max)
}
