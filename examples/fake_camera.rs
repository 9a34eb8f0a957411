//! Writes a Y4M video for Chromium's fake camera (`--use-file-for-fake-video-capture`): a face
//! photo on a 640×480 frame in three segments — clean, darkened, blurred — each marked by a
//! coloured square in the top-left corner (red, green, blue) so a test can tell which segment a
//! captured frame came from.
//!
//! `cargo run --release --example fake_camera -- <face.jpg> <out.y4m> [seconds per segment] [frames/s, default 10]`

use std::io::Write;

use grafiqs::RgbImage;
use grafiqs::degrade;

const W: usize = 640;
const H: usize = 480;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let face = args
        .next()
        .ok_or("usage: fake_camera <face.jpg> <out.y4m> [seconds] [fps]")?;
    let out = args
        .next()
        .ok_or("usage: fake_camera <face.jpg> <out.y4m> [seconds] [fps]")?;
    let seconds: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(6);
    let fps: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(10);
    let face = RgbImage::decode(&std::fs::read(face)?)?;
    let side = 400;
    let face = face.resized(side, side);
    let segments: [(&str, [f32; 3], RgbImage); 3] = [
        ("clean", [255.0, 0.0, 0.0], face.clone()),
        ("dark", [0.0, 255.0, 0.0], degrade::darken(&face, 0.2)),
        (
            "blur",
            [0.0, 0.0, 255.0],
            degrade::gaussian_blur(&face, 4.0),
        ),
    ];
    let mut file = std::io::BufWriter::new(std::fs::File::create(&out)?);
    writeln!(file, "YUV4MPEG2 W{W} H{H} F{fps}:1 Ip A1:1 C420")?;
    for (name, marker, img) in &segments {
        let frame = compose(img, *marker);
        let yuv = to_i420(&frame);
        for _ in 0..seconds * fps {
            file.write_all(b"FRAME\n")?;
            file.write_all(&yuv)?;
        }
        eprintln!("segment {name}: {seconds} s");
    }
    file.flush()?;
    eprintln!("wrote {out}");
    Ok(())
}

/// The face centred on a mid-grey 640×480 frame with a 32×32 marker square at (8, 8).
fn compose(face: &RgbImage, marker: [f32; 3]) -> Vec<f32> {
    let mut f = vec![128f32; W * H * 3];
    let (ox, oy) = ((W - face.width()) / 2, (H - face.height()) / 2);
    for y in 0..face.height() {
        for x in 0..face.width() {
            for c in 0..3 {
                f[((oy + y) * W + ox + x) * 3 + c] = face.at(x, y, c);
            }
        }
    }
    for y in 8..40 {
        for x in 8..40 {
            f[(y * W + x) * 3..(y * W + x) * 3 + 3].copy_from_slice(&marker);
        }
    }
    f
}

/// RGB → I420, BT.601 limited range (what a camera delivers).
fn to_i420(rgb: &[f32]) -> Vec<u8> {
    let mut out = vec![0u8; W * H * 3 / 2];
    let px = |x: usize, y: usize| {
        let p = &rgb[(y * W + x) * 3..(y * W + x) * 3 + 3];
        (p[0] as f64, p[1] as f64, p[2] as f64)
    };
    for y in 0..H {
        for x in 0..W {
            let (r, g, b) = px(x, y);
            out[y * W + x] = (16.0 + 0.257 * r + 0.504 * g + 0.098 * b)
                .round()
                .clamp(0.0, 255.0) as u8;
        }
    }
    let (u0, v0) = (W * H, W * H + W * H / 4);
    for y in 0..H / 2 {
        for x in 0..W / 2 {
            let (mut r, mut g, mut b) = (0.0, 0.0, 0.0);
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let p = px(2 * x + dx, 2 * y + dy);
                r += p.0 / 4.0;
                g += p.1 / 4.0;
                b += p.2 / 4.0;
            }
            let i = y * W / 2 + x;
            out[u0 + i] = (128.0 - 0.148 * r - 0.291 * g + 0.439 * b)
                .round()
                .clamp(0.0, 255.0) as u8;
            out[v0 + i] = (128.0 + 0.439 * r - 0.368 * g - 0.071 * b)
                .round()
                .clamp(0.0, 255.0) as u8;
        }
    }
    out
}
