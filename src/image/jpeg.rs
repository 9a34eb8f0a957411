//! A baseline JPEG decoder that reproduces libjpeg-turbo's default output bit for bit.
//!
//! OpenCV (used by the reference GraFIQs tool), Pillow and Chromium all decode JPEG with
//! libjpeg-turbo using its defaults: the accurate integer IDCT (`jidctint.c`), "fancy"
//! (triangle) chroma upsampling (`jdsample.c`) and fixed-point YCbCr→RGB tables (`jdcolor.c`).
//! GraFIQs reacts to single-level pixel noise (it is a quality measure), so a decoder that is
//! off by ±1 on some pixels shifts scores by ~0.5 %. This module follows those three code
//! paths exactly so the same file gives the same pixels — and the same scores — as the
//! reference tool and the browser.
//!
//! Scope: 8-bit baseline (sequential, Huffman) JPEGs, grayscale or YCbCr, with 1×1, 2×1, 1×2
//! or 2×2 chroma sampling, restart markers and EXIF orientation. Anything else (progressive,
//! arithmetic coding, CMYK, 12-bit) returns `None` so the caller can fall back to a general
//! decoder.

/// A decoded image: interleaved 8-bit RGB.
#[derive(Debug)]
pub struct Decoded {
    /// Width in pixels (after EXIF orientation).
    pub width: usize,
    /// Height in pixels (after EXIF orientation).
    pub height: usize,
    /// `width · height · 3` bytes.
    pub rgb: Vec<u8>,
}

/// Decodes `bytes` if it is a JPEG this module handles exactly; `None` otherwise (including
/// corrupt data, which a general decoder will then report).
pub fn decode(bytes: &[u8]) -> Option<Decoded> {
    let mut d = Decoder {
        qt: [[0; 64]; 4],
        dc: Default::default(),
        ac: Default::default(),
        comps: Vec::new(),
        width: 0,
        height: 0,
        hmax: 1,
        vmax: 1,
        restart: 0,
        orientation: 1,
        adobe_transform: None,
        jfif: false,
    };
    d.run(bytes)
}

#[derive(Clone, Default)]
struct Huffman {
    /// (code length, code) → symbol lookup via canonical decoding tables.
    maxcode: [i32; 18],
    valptr: [i32; 17],
    mincode: [i32; 17],
    values: Vec<u8>,
}

impl Huffman {
    fn new(counts: &[u8; 16], values: Vec<u8>) -> Option<Self> {
        let mut h = Huffman {
            maxcode: [-1; 18],
            values,
            ..Default::default()
        };
        let mut code = 0i32;
        let mut k = 0i32;
        for len in 1..=16 {
            let n = counts[len - 1] as i32;
            h.valptr[len] = k;
            h.mincode[len] = code;
            code += n;
            k += n;
            h.maxcode[len] = if n > 0 { code - 1 } else { -1 };
            if code > (1 << len) {
                return None;
            }
            code <<= 1;
        }
        h.maxcode[17] = i32::MAX;
        if k as usize > h.values.len() {
            return None;
        }
        Some(h)
    }
}

#[derive(Clone, Default)]
struct Component {
    id: u8,
    h: usize,
    v: usize,
    tq: usize,
    /// Real (downsampled) size of the component.
    width: usize,
    height: usize,
    /// Block grid (padded to whole MCUs).
    bw: usize,
    bh: usize,
    coefs: Vec<[i16; 64]>,
    dc_pred: i32,
}

struct Decoder {
    qt: [[u16; 64]; 4],
    dc: [Option<Huffman>; 4],
    ac: [Option<Huffman>; 4],
    comps: Vec<Component>,
    width: usize,
    height: usize,
    hmax: usize,
    vmax: usize,
    restart: usize,
    orientation: u16,
    adobe_transform: Option<u8>,
    jfif: bool,
}

const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u64,
    n: u32,
    /// A marker was hit: feed zeros from here on (as libjpeg does).
    marker: bool,
}

impl<'a> Bits<'a> {
    fn fill(&mut self) {
        while self.n <= 56 {
            let mut byte = 0u8;
            if !self.marker && self.pos < self.data.len() {
                byte = self.data[self.pos];
                if byte == 0xFF {
                    let next = self.data.get(self.pos + 1).copied().unwrap_or(0xD9);
                    if next == 0x00 {
                        self.pos += 2;
                    } else {
                        self.marker = true;
                        byte = 0;
                    }
                } else {
                    self.pos += 1;
                }
            }
            self.acc |= (byte as u64) << (56 - self.n);
            self.n += 8;
        }
    }
    fn bits(&mut self, k: u32) -> u32 {
        if k == 0 {
            return 0;
        }
        self.fill();
        let v = (self.acc >> (64 - k)) as u32;
        self.acc <<= k;
        self.n -= k;
        v
    }
    fn bit(&mut self) -> u32 {
        self.bits(1)
    }
    fn decode(&mut self, h: &Huffman) -> Option<u8> {
        let mut code = self.bit() as i32;
        let mut len = 1;
        while code > h.maxcode[len] {
            code = (code << 1) | self.bit() as i32;
            len += 1;
            if len > 16 {
                return None;
            }
        }
        let idx = h.valptr[len] + code - h.mincode[len];
        h.values.get(idx as usize).copied()
    }
    fn receive_extend(&mut self, s: u32) -> i32 {
        if s == 0 {
            return 0;
        }
        let v = self.bits(s) as i32;
        if v < (1 << (s - 1)) {
            v - (1 << s) + 1
        } else {
            v
        }
    }
    /// Skips to the restart marker at a restart interval boundary.
    fn restart(&mut self) -> Option<()> {
        self.acc = 0;
        self.n = 0;
        // Find the RSTn marker.
        while self.pos + 1 < self.data.len() {
            if self.data[self.pos] == 0xFF && (0xD0..=0xD7).contains(&self.data[self.pos + 1]) {
                self.pos += 2;
                self.marker = false;
                return Some(());
            }
            self.pos += 1;
        }
        None
    }
}

impl Decoder {
    fn run(&mut self, b: &[u8]) -> Option<Decoded> {
        if b.len() < 4 || b[0] != 0xFF || b[1] != 0xD8 {
            return None;
        }
        let mut pos = 2;
        let mut frame = false;
        let mut scanned = false;
        loop {
            while pos < b.len() && b[pos] != 0xFF {
                pos += 1;
            }
            while pos < b.len() && b[pos] == 0xFF {
                pos += 1;
            }
            let marker = *b.get(pos)?;
            pos += 1;
            if marker == 0xD9 {
                break;
            }
            if (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
                continue;
            }
            let len = u16::from_be_bytes([*b.get(pos)?, *b.get(pos + 1)?]) as usize;
            let seg = b.get(pos + 2..pos + len)?;
            match marker {
                0xC0 | 0xC1 => {
                    self.frame(seg)?;
                    frame = true;
                }
                0xC2..=0xCF if marker != 0xC4 && marker != 0xC8 && marker != 0xCC => {
                    return None; // progressive, lossless, arithmetic
                }
                0xC4 => self.dht(seg)?,
                0xDB => self.dqt(seg)?,
                0xDD => self.restart = u16::from_be_bytes([*seg.first()?, *seg.get(1)?]) as usize,
                0xE0 => self.jfif |= seg.starts_with(b"JFIF\0"),
                0xE1 if seg.starts_with(b"Exif\0\0") => {
                    self.orientation = exif_orientation(&seg[6..]).unwrap_or(1);
                }
                0xEE if seg.starts_with(b"Adobe") && seg.len() >= 12 => {
                    self.adobe_transform = Some(seg[11]);
                }
                0xDA => {
                    if !frame {
                        return None;
                    }
                    pos = self.scan(b, pos + len, seg)?;
                    scanned = true;
                    continue;
                }
                _ => {}
            }
            pos += len;
        }
        if !scanned {
            return None;
        }
        let rgb = self.output()?;
        Some(orient(self.width, self.height, rgb, self.orientation))
    }

    fn frame(&mut self, s: &[u8]) -> Option<()> {
        if s.len() < 6 || s[0] != 8 || !self.comps.is_empty() {
            return None;
        }
        self.height = u16::from_be_bytes([s[1], s[2]]) as usize;
        self.width = u16::from_be_bytes([s[3], s[4]]) as usize;
        let n = *s.get(5)? as usize;
        if self.width == 0 || self.height == 0 || !(n == 1 || n == 3) {
            return None;
        }
        // Nothing is allocated for a frame the caller would refuse anyway: a 20-byte header can
        // claim 65535x65535 px. (The general decoder then reports the size.)
        let max = crate::image::MAX_SIDE;
        if self.width > max
            || self.height > max
            || self.width * self.height > crate::image::MAX_PIXELS
        {
            return None;
        }
        for i in 0..n {
            let c = s.get(6 + 3 * i..9 + 3 * i)?;
            let (h, v) = ((c[1] >> 4) as usize, (c[1] & 15) as usize);
            if !(1..=2).contains(&h) || !(1..=2).contains(&v) || c[2] > 3 {
                return None;
            }
            self.comps.push(Component {
                id: c[0],
                h,
                v,
                tq: c[2] as usize,
                ..Default::default()
            });
        }
        if n == 1 {
            self.comps[0].h = 1;
            self.comps[0].v = 1;
        }
        self.hmax = self.comps.iter().map(|c| c.h).max()?;
        self.vmax = self.comps.iter().map(|c| c.v).max()?;
        // Chroma must be 1x1 relative to the full-resolution component (4:4:4, 4:2:2, 4:4:0, 4:2:0).
        if n == 3 && self.comps[1..].iter().any(|c| c.h != 1 || c.v != 1) {
            return None;
        }
        let mcux = self.width.div_ceil(8 * self.hmax);
        let mcuy = self.height.div_ceil(8 * self.vmax);
        for c in &mut self.comps {
            c.width = (self.width * c.h).div_ceil(self.hmax);
            c.height = (self.height * c.v).div_ceil(self.vmax);
            c.bw = mcux * c.h;
            c.bh = mcuy * c.v;
            c.coefs = vec![[0i16; 64]; c.bw * c.bh];
        }
        Some(())
    }

    fn dht(&mut self, mut s: &[u8]) -> Option<()> {
        while !s.is_empty() {
            let tc = s[0] >> 4;
            let th = (s[0] & 15) as usize;
            if th > 3 || tc > 1 {
                return None;
            }
            let counts: [u8; 16] = s.get(1..17)?.try_into().ok()?;
            let total: usize = counts.iter().map(|&c| c as usize).sum();
            let values = s.get(17..17 + total)?.to_vec();
            let h = Huffman::new(&counts, values)?;
            if tc == 0 {
                self.dc[th] = Some(h);
            } else {
                self.ac[th] = Some(h);
            }
            s = &s[17 + total..];
        }
        Some(())
    }

    fn dqt(&mut self, mut s: &[u8]) -> Option<()> {
        while !s.is_empty() {
            let (pq, tq) = (s[0] >> 4, (s[0] & 15) as usize);
            if tq > 3 {
                return None;
            }
            for (k, &zz) in ZIGZAG.iter().enumerate() {
                let v = if pq == 0 {
                    *s.get(1 + k)? as u16
                } else {
                    u16::from_be_bytes([*s.get(1 + 2 * k)?, *s.get(2 + 2 * k)?])
                };
                self.qt[tq][zz] = v;
            }
            s = &s[if pq == 0 { 65 } else { 129 }..];
        }
        Some(())
    }

    fn scan(&mut self, b: &[u8], data_start: usize, s: &[u8]) -> Option<usize> {
        let n = *s.first()? as usize;
        let mut sel = Vec::with_capacity(n);
        for i in 0..n {
            let id = *s.get(1 + 2 * i)?;
            let t = *s.get(2 + 2 * i)?;
            let ci = self.comps.iter().position(|c| c.id == id)?;
            sel.push((ci, (t >> 4) as usize, (t & 15) as usize));
        }
        let (ss, se) = (*s.get(1 + 2 * n)?, *s.get(2 + 2 * n)?);
        if ss != 0 || se != 63 {
            return None;
        }
        for c in &mut self.comps {
            c.dc_pred = 0;
        }
        let mut bits = Bits {
            data: b,
            pos: data_start,
            acc: 0,
            n: 0,
            marker: false,
        };
        let (mcus_x, mcus_y) = if n == 1 {
            let c = &self.comps[sel[0].0];
            (c.width.div_ceil(8), c.height.div_ceil(8))
        } else {
            (
                self.width.div_ceil(8 * self.hmax),
                self.height.div_ceil(8 * self.vmax),
            )
        };
        let total = mcus_x * mcus_y;
        for m in 0..total {
            if self.restart > 0 && m > 0 && m % self.restart == 0 {
                bits.restart()?;
                for c in &mut self.comps {
                    c.dc_pred = 0;
                }
            }
            let (mx, my) = (m % mcus_x, m / mcus_x);
            for &(ci, td, ta) in &sel {
                let (ch, cv) = if n == 1 {
                    (1, 1)
                } else {
                    (self.comps[ci].h, self.comps[ci].v)
                };
                for v in 0..cv {
                    for h in 0..ch {
                        let (bx, by) = (mx * ch + h, my * cv + v);
                        let dc = self.dc.get(td)?.as_ref()?;
                        let ac = self.ac.get(ta)?.as_ref()?;
                        let mut blk = [0i16; 64];
                        let t = bits.decode(dc)? as u32;
                        if t > 11 {
                            return None;
                        }
                        let diff = bits.receive_extend(t);
                        let comp = &mut self.comps[ci];
                        comp.dc_pred = comp.dc_pred.wrapping_add(diff);
                        blk[0] = comp.dc_pred as i16;
                        let mut k = 1;
                        while k < 64 {
                            let rs = bits.decode(ac)?;
                            let (r, sz) = ((rs >> 4) as usize, (rs & 15) as u32);
                            if sz == 0 {
                                if r != 15 {
                                    break;
                                }
                                k += 16;
                                continue;
                            }
                            k += r;
                            if k > 63 {
                                return None;
                            }
                            blk[ZIGZAG[k]] = bits.receive_extend(sz) as i16;
                            k += 1;
                        }
                        if bx < comp.bw && by < comp.bh {
                            comp.coefs[by * comp.bw + bx] = blk;
                        }
                    }
                }
            }
        }
        // Continue after the entropy-coded data: next marker that is not RSTn or a stuffed byte.
        let mut p = bits.pos;
        while p + 1 < b.len() {
            if b[p] == 0xFF && b[p + 1] != 0 && !(0xD0..=0xD7).contains(&b[p + 1]) {
                return Some(p);
            }
            p += 1;
        }
        Some(b.len())
    }

    fn output(&self) -> Option<Vec<u8>> {
        // IDCT every component into a plane of its real size.
        let planes: Vec<Vec<u8>> = self
            .comps
            .iter()
            .map(|c| {
                let q = &self.qt[c.tq];
                let stride = c.bw * 8;
                let mut full = vec![0u8; stride * c.bh * 8];
                for by in 0..c.bh {
                    for bx in 0..c.bw {
                        let out = idct_islow(&c.coefs[by * c.bw + bx], q);
                        for y in 0..8 {
                            let row = (by * 8 + y) * stride + bx * 8;
                            full[row..row + 8].copy_from_slice(&out[y * 8..y * 8 + 8]);
                        }
                    }
                }
                let mut plane = vec![0u8; c.width * c.height];
                for y in 0..c.height {
                    plane[y * c.width..(y + 1) * c.width]
                        .copy_from_slice(&full[y * stride..y * stride + c.width]);
                }
                plane
            })
            .collect();
        let (w, h) = (self.width, self.height);
        let mut rgb = vec![0u8; w * h * 3];
        if self.comps.len() == 1 {
            for (i, &y) in planes[0].iter().enumerate() {
                rgb[i * 3..i * 3 + 3].fill(y);
            }
            return Some(rgb);
        }
        // Three components: YCbCr unless the file says RGB.
        let is_rgb = match self.adobe_transform {
            Some(t) => t == 0,
            None => !self.jfif && self.comps.iter().map(|c| c.id).eq(*b"RGB"),
        };
        if is_rgb {
            return None;
        }
        let y = &planes[0];
        let up = |k: usize| -> Vec<u8> {
            let c = &self.comps[k];
            upsample(&planes[k], c.width, c.height, self.hmax, self.vmax, w, h)
        };
        let (cb, cr) = (up(1), up(2));
        let t = ColorTables::new();
        for i in 0..w * h {
            let (yy, b, r) = (y[i] as i32, cb[i] as usize, cr[i] as usize);
            rgb[i * 3] = clamp(yy + t.cr_r[r]);
            rgb[i * 3 + 1] = clamp(yy + ((t.cb_g[b] + t.cr_g[r]) >> 16) as i32);
            rgb[i * 3 + 2] = clamp(yy + t.cb_b[b]);
        }
        Some(rgb)
    }
}

fn clamp(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

/// `jdcolor.c` fixed-point tables (SCALEBITS = 16).
struct ColorTables {
    cr_r: [i32; 256],
    cb_b: [i32; 256],
    cr_g: [i64; 256],
    cb_g: [i64; 256],
}

impl ColorTables {
    fn new() -> Self {
        const ONE_HALF: i64 = 1 << 15;
        let fix = |x: f64| (x * 65536.0 + 0.5) as i64;
        let mut t = ColorTables {
            cr_r: [0; 256],
            cb_b: [0; 256],
            cr_g: [0; 256],
            cb_g: [0; 256],
        };
        for i in 0..256 {
            let x = i as i64 - 128;
            t.cr_r[i] = ((fix(1.40200) * x + ONE_HALF) >> 16) as i32;
            t.cb_b[i] = ((fix(1.77200) * x + ONE_HALF) >> 16) as i32;
            t.cr_g[i] = -fix(0.71414) * x;
            t.cb_g[i] = -fix(0.34414) * x + ONE_HALF;
        }
        t
    }
}

/// libjpeg-turbo's fancy upsampling (h2v1, h1v2, h2v2) of a chroma plane to `w × h`.
fn upsample(p: &[u8], cw: usize, ch: usize, hs: usize, vs: usize, w: usize, h: usize) -> Vec<u8> {
    let at = |x: usize, y: isize| -> i32 {
        let y = y.clamp(0, ch as isize - 1) as usize;
        p[y * cw + x] as i32
    };
    let mut out = vec![0u8; w * h];
    let (ow, oh) = (cw * hs, ch * vs);
    let mut full = vec![0u8; ow * oh];
    match (hs, vs) {
        (1, 1) => full.copy_from_slice(p),
        (2, 1) => {
            for y in 0..ch {
                let row = &mut full[y * ow..(y + 1) * ow];
                for x in 0..cw {
                    let v = at(x, y as isize);
                    if cw == 1 {
                        row[0] = v as u8;
                        row[1] = v as u8;
                        continue;
                    }
                    let (l, r) = if x == 0 {
                        (v * 4 - 1, v * 3 + at(x + 1, y as isize))
                    } else if x == cw - 1 {
                        (v * 3 + at(x - 1, y as isize), v * 4 - 2)
                    } else {
                        (v * 3 + at(x - 1, y as isize), v * 3 + at(x + 1, y as isize))
                    };
                    row[2 * x] = ((l + 1) >> 2) as u8;
                    row[2 * x + 1] = ((r + 2) >> 2) as u8;
                }
            }
        }
        (1, 2) => {
            for y in 0..ch {
                for (v, bias) in [(0isize, 1), (1, 2)] {
                    let other = if v == 0 {
                        y as isize - 1
                    } else {
                        y as isize + 1
                    };
                    let row = &mut full[(2 * y + v as usize) * ow..(2 * y + v as usize + 1) * ow];
                    for (x, o) in row[..cw].iter_mut().enumerate() {
                        let s = at(x, y as isize) * 3 + at(x, other);
                        *o = ((s + bias) >> 2) as u8;
                    }
                }
            }
        }
        _ => {
            for y in 0..ch {
                for v in 0..2usize {
                    let other = if v == 0 {
                        y as isize - 1
                    } else {
                        y as isize + 1
                    };
                    let sum = |x: usize| at(x, y as isize) * 3 + at(x, other);
                    let row = &mut full[(2 * y + v) * ow..(2 * y + v + 1) * ow];
                    if cw == 1 {
                        let t = sum(0);
                        row[0] = ((t * 4 + 8) >> 4) as u8;
                        row[1] = ((t * 4 + 7) >> 4) as u8;
                        continue;
                    }
                    for x in 0..cw {
                        let this = sum(x);
                        let left = if x == 0 { None } else { Some(sum(x - 1)) };
                        let right = if x + 1 == cw { None } else { Some(sum(x + 1)) };
                        row[2 * x] = match left {
                            None => ((this * 4 + 8) >> 4) as u8,
                            Some(l) => ((this * 3 + l + 8) >> 4) as u8,
                        };
                        row[2 * x + 1] = match right {
                            None => ((this * 4 + 7) >> 4) as u8,
                            Some(r) => ((this * 3 + r + 7) >> 4) as u8,
                        };
                    }
                }
            }
        }
    }
    for y in 0..h {
        out[y * w..(y + 1) * w].copy_from_slice(&full[y * ow..y * ow + w]);
    }
    out
}

const CONST_BITS: i64 = 13;
const PASS1_BITS: i64 = 2;

/// One 8-point pass of `jidctint.c` (inputs in natural order), outputs scaled by
/// 2^`CONST_BITS` and not yet descaled.
#[inline(always)]
fn idct_islow_1d(x: [i64; 8]) -> [i64; 8] {
    const F0_298: i64 = 2446;
    const F0_390: i64 = 3196;
    const F0_541: i64 = 4433;
    const F0_765: i64 = 6270;
    const F0_899: i64 = 7373;
    const F1_175: i64 = 9633;
    const F1_501: i64 = 12299;
    const F1_847: i64 = 15137;
    const F1_961: i64 = 16069;
    const F2_053: i64 = 16819;
    const F2_562: i64 = 20995;
    const F3_072: i64 = 25172;
    // Even part.
    let (z2, z3) = (x[2], x[6]);
    let z1 = (z2 + z3) * F0_541;
    let tmp2 = z1 + z3 * -F1_847;
    let tmp3 = z1 + z2 * F0_765;
    let tmp0 = (x[0] + x[4]) << CONST_BITS;
    let tmp1 = (x[0] - x[4]) << CONST_BITS;
    let (t10, t13, t11, t12) = (tmp0 + tmp3, tmp0 - tmp3, tmp1 + tmp2, tmp1 - tmp2);
    // Odd part.
    let (mut o0, mut o1, mut o2, mut o3) = (x[7], x[5], x[3], x[1]);
    let (z1, z2, z3, z4) = (o0 + o3, o1 + o2, o0 + o2, o1 + o3);
    let z5 = (z3 + z4) * F1_175;
    o0 *= F0_298;
    o1 *= F2_053;
    o2 *= F3_072;
    o3 *= F1_501;
    let (z1, z2) = (z1 * -F0_899, z2 * -F2_562);
    let (z3, z4) = (z3 * -F1_961 + z5, z4 * -F0_390 + z5);
    o0 += z1 + z3;
    o1 += z2 + z4;
    o2 += z2 + z3;
    o3 += z1 + z4;
    [
        t10 + o3,
        t11 + o2,
        t12 + o1,
        t13 + o0,
        t13 - o0,
        t12 - o1,
        t11 - o2,
        t10 - o3,
    ]
}

/// `jidctint.c` `jpeg_idct_islow`, including its range-limit table semantics.
fn idct_islow(c: &[i16; 64], q: &[u16; 64]) -> [u8; 64] {
    let descale = |x: i64, n: i64| (x + (1 << (n - 1))) >> n;
    let limit = |v: i64| -> u8 {
        let i = (v & 1023) as usize;
        match i {
            0..128 => (i + 128) as u8,
            128..512 => 255,
            512..896 => 0,
            _ => (i - 896) as u8,
        }
    };
    let mut ws = [0i64; 64];
    for col in 0..8 {
        if (1..8).all(|r| c[r * 8 + col] == 0) {
            let dc = (c[col] as i64 * q[col] as i64) << PASS1_BITS;
            for r in 0..8 {
                ws[r * 8 + col] = dc;
            }
            continue;
        }
        let x = std::array::from_fn(|r| c[r * 8 + col] as i64 * q[r * 8 + col] as i64);
        for (r, v) in idct_islow_1d(x).into_iter().enumerate() {
            ws[r * 8 + col] = descale(v, CONST_BITS - PASS1_BITS);
        }
    }
    let mut out = [0u8; 64];
    for row in 0..8 {
        let w: [i64; 8] = ws[row * 8..row * 8 + 8].try_into().expect("8 values");
        let o = &mut out[row * 8..row * 8 + 8];
        if w[1..].iter().all(|&v| v == 0) {
            o.fill(limit(descale(w[0], PASS1_BITS + 3)));
            continue;
        }
        for (o, v) in o.iter_mut().zip(idct_islow_1d(w)) {
            *o = limit(descale(v, CONST_BITS + PASS1_BITS + 3));
        }
    }
    out
}

/// Reads the orientation tag (0x0112) from an EXIF TIFF block.
fn exif_orientation(t: &[u8]) -> Option<u16> {
    let le = match t.get(0..2)? {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    let u16_at = |o: usize| -> Option<u16> {
        let b: [u8; 2] = t.get(o..o + 2)?.try_into().ok()?;
        Some(if le {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let u32_at = |o: usize| -> Option<u32> {
        let b: [u8; 4] = t.get(o..o + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let ifd = u32_at(4)? as usize;
    let n = u16_at(ifd)? as usize;
    (0..n).find_map(|i| {
        let e = ifd + 2 + 12 * i;
        (u16_at(e)? == 0x0112).then(|| u16_at(e + 8)).flatten()
    })
}

/// Applies an EXIF orientation (1–8) to interleaved RGB.
fn orient(w: usize, h: usize, rgb: Vec<u8>, o: u16) -> Decoded {
    if !(2..=8).contains(&o) {
        return Decoded {
            width: w,
            height: h,
            rgb,
        };
    }
    let (nw, nh) = if o >= 5 { (h, w) } else { (w, h) };
    let mut out = vec![0u8; rgb.len()];
    for y in 0..h {
        for x in 0..w {
            let (nx, ny) = match o {
                2 => (w - 1 - x, y),
                3 => (w - 1 - x, h - 1 - y),
                4 => (x, h - 1 - y),
                5 => (y, x),
                6 => (h - 1 - y, x),
                7 => (h - 1 - y, w - 1 - x),
                _ => (y, w - 1 - x),
            };
            let (s, d) = ((y * w + x) * 3, (ny * nw + nx) * 3);
            out[d..d + 3].copy_from_slice(&rgb[s..s + 3]);
        }
    }
    Decoded {
        width: nw,
        height: nh,
        rgb: out,
    }
}
