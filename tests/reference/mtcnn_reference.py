#!/usr/bin/env python3
"""Runs facenet-pytorch's MTCNN on test images and writes tests/fixtures/mtcnn_expected.json.

    pip install --no-deps facenet-pytorch && pip install torchvision tqdm requests
    python3 tests/reference/mtcnn_reference.py

`MTCNN(keep_all=True)` with its defaults (min_face_size 20, thresholds [0.6, 0.7, 0.7],
factor 0.709, CPU, float32) and `detect(img, landmarks=True)` on PIL RGB images:

* every `faces/lfw-colour/*.jpg` (250x250 colour LFW originals),
* four `faces/lfw-gray-crops/*.jpg` (sorted names, indices 0, 25, 50, 75; grayscale JPEGs
  converted to RGB by PIL, i.e. the grey value replicated),
* two composites built on the fly from asset files (never saved), exactly as
  `tests/detect.rs` builds them: a canvas filled with RGB (127, 127, 127) and decoded images
  pasted with their top-left corner at the given pixel (see COMPOSITES).

and, separately (`gray_crops`), every one of the 100 `faces/lfw-gray-crops/*.jpg`, which the
Rust test compares on the CPU backend.

Only numbers are written (image sizes, a CRC-32 of the decoded RGB bytes so the Rust test can
confirm it decodes identically, and per face the box, probability and landmarks).
Nothing from ../shared/assets is written into the repository.
"""

import json
import os
import sys
import zlib

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
ASSETS = os.path.normpath(os.path.join(ROOT, "..", "shared", "assets"))
OUT = os.path.join(ROOT, "tests", "fixtures", "mtcnn_expected.json")

# name -> (width, height, [(asset path relative to faces/, x, y), ...])
COMPOSITES = {
    "two_faces": (
        560,
        300,
        [("lfw-colour/Albert_Costa_0001.jpg", 20, 25), ("lfw-colour/Alberto_Gonzales_0001.jpg", 290, 25)],
    ),
    "frame_640x480": (640, 480, [("lfw-colour/Alberto_Fujimori_0001.jpg", 195, 115)]),
}
CANVAS_FILL = 127
GRAY_PICKS = (0, 25, 50, 75)


def load_rgb(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def composite(spec):
    w, h, parts = spec
    canvas = np.full((h, w, 3), CANVAS_FILL, dtype=np.uint8)
    for rel, x, y in parts:
        img = load_rgb(os.path.join(ASSETS, "faces", rel))
        ih, iw = img.shape[:2]
        canvas[y : y + ih, x : x + iw] = img
    return canvas


def images():
    colour = os.path.join(ASSETS, "faces", "lfw-colour")
    for f in sorted(os.listdir(colour)):
        if f.endswith(".jpg"):
            yield f"lfw-colour/{f}", load_rgb(os.path.join(colour, f))
    gray = os.path.join(ASSETS, "faces", "lfw-gray-crops")
    files = sorted(f for f in os.listdir(gray) if f.endswith(".jpg"))
    for i in GRAY_PICKS:
        yield f"lfw-gray-crops/{files[i]}", load_rgb(os.path.join(gray, files[i]))
    for name, spec in COMPOSITES.items():
        yield f"composite/{name}", composite(spec)


def detect(mtcnn, rgb):
    boxes, probs, points = mtcnn.detect(Image.fromarray(rgb), landmarks=True)
    faces = []
    if boxes is not None:
        for b, p, l in zip(boxes, probs, points):
            faces.append(
                {
                    "box": [float(v) for v in b],
                    "prob": float(p),
                    "landmarks": [[float(x), float(y)] for x, y in l],
                }
            )
    return faces


def main():
    if not os.path.isdir(ASSETS):
        sys.exit(f"assets not found at {ASSETS}")
    from facenet_pytorch import MTCNN
    from importlib import metadata

    torch.set_num_threads(1)
    mtcnn = MTCNN(keep_all=True, device="cpu")
    cases = []
    for name, rgb in images():
        faces = detect(mtcnn, rgb)
        cases.append(
            {
                "image": name,
                "width": int(rgb.shape[1]),
                "height": int(rgb.shape[0]),
                "pixel_crc": zlib.crc32(rgb.tobytes()) & 0xFFFFFFFF,
                "faces": faces,
            }
        )
        print(f"{name}: {len(faces)} face(s) " + " ".join(f"{f['prob']:.6f}" for f in faces))

    gray_dir = os.path.join(ASSETS, "faces", "lfw-gray-crops")
    gray = []
    for f in sorted(f for f in os.listdir(gray_dir) if f.endswith(".jpg")):
        rgb = load_rgb(os.path.join(gray_dir, f))
        gray.append({"image": f, "pixel_crc": zlib.crc32(rgb.tobytes()) & 0xFFFFFFFF,
                     "faces": detect(mtcnn, rgb)})
    print(f"lfw-gray-crops: exactly one face in {sum(len(g['faces']) == 1 for g in gray)}/{len(gray)}")

    doc = {
        "description": (
            "facenet-pytorch MTCNN(keep_all=True) defaults (min_face_size 20, thresholds "
            "[0.6, 0.7, 0.7], factor 0.709, CPU float32), detect(PIL RGB, landmarks=True). "
            "box = [x0, y0, x1, y1], landmarks = left eye, right eye, nose, left mouth, right "
            "mouth (image px). Faces in facenet-pytorch's order (largest box first). "
            "pixel_crc = zlib crc32 of the HxWx3 uint8 RGB bytes. Composites: canvas filled "
            f"with {CANVAS_FILL}, images pasted at their top-left corner (x, y)."
        ),
        "facenet_pytorch": metadata.version("facenet-pytorch"),
        "torch": torch.__version__,
        "composites": {
            k: {"width": w, "height": h, "fill": CANVAS_FILL, "parts": [[r, x, y] for r, x, y in p]}
            for k, (w, h, p) in COMPOSITES.items()
        },
        "cases": cases,
        "gray_crops": gray,
    }
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    main()
