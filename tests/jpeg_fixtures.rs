//! The JPEG decoder's bit-exactness on committed fixtures (no ../shared needed): baseline
//! 4:2:0, 4:2:2, 4:4:4, grayscale and restart-marker files decode to exactly the pixels
//! libjpeg-turbo gives (Pillow's CRC-32 in `tests/fixtures/jpeg/expected.json`, written by
//! `tests/reference/jpeg_fixtures.py`). Progressive files are outside the exact decoder and go
//! to the general one (the `image` crate), which decodes them close to, not exactly like,
//! libjpeg-turbo.

mod common;

use common::*;
use grafiqs::RgbImage;

#[test]
fn baseline_fixtures_decode_bit_exactly_like_libjpeg_turbo() {
    let dir = fixtures().join("jpeg");
    let expected = json(dir.join("expected.json"));
    let files = expected["files"].as_object().unwrap();
    assert_eq!(files.len(), 6);
    for (name, want) in files {
        let bytes = read(dir.join(name));
        let (w, h) = (
            want["width"].as_u64().unwrap() as usize,
            want["height"].as_u64().unwrap() as usize,
        );
        let exact = grafiqs::image::jpeg::decode(&bytes);
        let img = RgbImage::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((img.width(), img.height()), (w, h), "{name}");
        if want["progressive"].as_bool().unwrap() {
            assert!(
                exact.is_none(),
                "{name}: progressive is not the exact decoder's"
            );
            continue;
        }
        let d = exact.unwrap_or_else(|| panic!("{name}: the exact decoder declined it"));
        assert_eq!((d.width, d.height), (w, h), "{name}");
        assert_eq!(
            crc32fast::hash(&d.rgb) as u64,
            want["crc32"].as_u64().unwrap(),
            "{name}: pixels differ from libjpeg-turbo's"
        );
        let bytes_of: Vec<u8> = img.data().iter().map(|&v| v as u8).collect();
        assert_eq!(
            bytes_of, d.rgb,
            "{name}: RgbImage::decode uses the exact decoder"
        );
    }
}
