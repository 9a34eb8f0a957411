#!/usr/bin/env python3
"""Tiny JPEG fixtures for the decoder's bit-exactness, without ../shared:

    python3 tests/reference/jpeg_fixtures.py      # rewrites tests/fixtures/jpeg/*

One synthetic 53x37 image (odd sizes: partial MCUs; gradients, a sharp-edged block) encoded by
Pillow's libjpeg-turbo as baseline 4:2:0, 4:2:2 and 4:4:4, grayscale, 4:2:0 with a restart
marker after every MCU, and progressive. `expected.json` holds, per file, Pillow's decoded size
and the zlib CRC-32 of its H x W x 3 RGB bytes (libjpeg-turbo's pixels).
"""
import io
import json
import os
import zlib

import numpy as np
import PIL
from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "jpeg")

CASES = {
    "q75_420.jpg": dict(quality=75, subsampling=2),
    "q80_422.jpg": dict(quality=80, subsampling=1),
    "q90_444.jpg": dict(quality=90, subsampling=0),
    "gray.jpg": dict(quality=85),
    "restart.jpg": dict(quality=85, subsampling=2, restart_marker_blocks=1),
    "progressive.jpg": dict(quality=80, subsampling=2, progressive=True),
}


def image():
    h, w = 37, 53
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x * y) % 256], -1).astype(np.uint8)
    img[10:20, 15:30] = [250, 20, 30]
    return Image.fromarray(img, "RGB")


def main():
    os.makedirs(OUT, exist_ok=True)
    src = image()
    expected = {"pillow": PIL.__version__, "files": {}}
    for name, kw in CASES.items():
        b = io.BytesIO()
        (src.convert("L") if name == "gray.jpg" else src).save(b, "JPEG", **kw)
        data = b.getvalue()
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        expected["files"][name] = {
            "width": rgb.shape[1],
            "height": rgb.shape[0],
            "crc32": zlib.crc32(np.ascontiguousarray(rgb).tobytes()) & 0xFFFFFFFF,
            "progressive": bool(kw.get("progressive")),
        }
        print(name, len(data), expected["files"][name])
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
