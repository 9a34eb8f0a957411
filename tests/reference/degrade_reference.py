#!/usr/bin/env python3
"""Independent reference for `grafiqs eval degrade`: the degradation sweep in PyTorch + OpenCV.

    python3 tests/reference/degrade_reference.py [--out tests/fixtures/degrade_expected.json]
    python3 tests/reference/degrade_reference.py --model foamliu   # -> degrade_expected_foamliu.json

The 12 colour LFW faces of ../shared/assets/faces/lfw-colour are aligned to the ArcFace
112x112 template with a least-squares similarity transform (Umeyama, numpy) and OpenCV's
bilinear warpAffine, damaged with OpenCV / numpy implementations of the five degradations,
scored with the MobileFaceNet y1 graph interpreted by grafiqs_ref.py (float32), and for every
degradation and raw score the pooled Spearman correlation (scipy) of severity 0..5 with the
raw score over faces x levels is written -- numbers only; nothing from ../shared/assets enters
the repository.

Everything here is written separately from the Rust code: other alignment code, OpenCV's
Gaussian blur (8-bit output), numpy's noise generator (so the noise samples differ from the
Rust ones; the correlations agree statistically, not bit for bit), OpenCV's libjpeg-turbo JPEG
encoder, scipy's rank correlation.

It also measures how much the correlations depend on the level parameters (`sensitivity`):
the same sweep at other conventional level sets, and at the settings the README discusses.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys

import cv2
import numpy as np
import torch
from scipy.stats import spearmanr

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
import grafiqs_ref as gr  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
ASSETS = os.environ.get("GRAFIQS_ASSETS") or os.path.normpath(os.path.join(ROOT, "..", "shared", "assets"))
MFN_DIR = os.path.join(ASSETS, "models", "insightface-mobilefacenet-y1")
FACES_DIR = os.path.join(ASSETS, "faces", "lfw-colour")

ARCFACE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                    [41.5493, 92.3655], [70.7299, 92.2041]])

# The levels of `grafiqs eval degrade` (src/eval/sweep.rs), severity 1..5.
LEVELS = {
    "blur": [0.5, 1, 2, 3, 4],            # Gaussian sigma, px
    "noise": [10, 15, 20, 25, 30],        # Gaussian sigma, 8-bit levels
    "dark": [60, 80, 100, 120, 140],      # brightness offset subtracted, 8-bit levels
    "occlusion": [0.2, 0.3, 0.4, 0.5, 0.6],  # lower fraction of the aligned face blacked out
    "jpeg": [70, 50, 30, 15, 5],          # JPEG quality, 4:2:0
}

# Other level sets and operators, to show how much the correlations move with them.
SENSITIVITY = [
    ("blur", "sigma 1, 2, 3, 4, 5", [1, 2, 3, 4, 5]),
    ("blur", "sigma 0.5, 1, 1.5, 2, 2.5", [0.5, 1, 1.5, 2, 2.5]),
    ("noise", "sigma 5, 10, 20, 30, 40", [5, 10, 20, 30, 40]),
    ("noise", "sigma 5, 10, 15, 20, 25", [5, 10, 15, 20, 25]),
    ("dark_factor", "factor 0.8, 0.65, 0.5, 0.35, 0.2", [0.8, 0.65, 0.5, 0.35, 0.2]),
    ("dark_factor", "factor 0.9, 0.75, 0.6, 0.45, 0.3", [0.9, 0.75, 0.6, 0.45, 0.3]),
    ("dark", "offset 20, 40, 60, 80, 100", [20, 40, 60, 80, 100]),
    ("occlusion", "fraction 0.1 ... 0.5", [0.1, 0.2, 0.3, 0.4, 0.5]),
    ("occlusion_band", "fraction 0.2 ... 0.6, x 8..104 only", [0.2, 0.3, 0.4, 0.5, 0.6]),
    ("occlusion_patch", "mouth patch, side 8 ... 40 px", [8, 16, 24, 32, 40]),
    ("jpeg", "quality 50, 30, 20, 10, 5", [50, 30, 20, 10, 5]),
    ("jpeg", "quality 90, 70, 50, 30, 10", [90, 70, 50, 30, 10]),
    ("jpeg444", "quality 50, 30, 20, 10, 5, 4:4:4", [50, 30, 20, 10, 5]),
]


def umeyama_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 least-squares similarity transform mapping src points onto dst."""
    n = src.shape[0]
    ms, md = src.mean(0), dst.mean(0)
    s, d = src - ms, dst - md
    cov = d.T @ s / n
    u, sig, vt = np.linalg.svd(cov)
    e = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        e[1, 1] = -1
    r = u @ e @ vt
    scale = np.trace(np.diag(sig) @ e) / ((s ** 2).sum() / n)
    t = md - scale * r @ ms
    return np.hstack([scale * r, t[:, None]])


def load_faces():
    faces = []
    with open(os.path.join(FACES_DIR, "labels.csv")) as f:
        rows = list(csv.reader(f))[1:]
    for row in rows:
        if not row:
            continue
        img = gr.load_rgb(os.path.join(FACES_DIR, row[0]))
        lm = np.array([float(v) for v in row[5].split()]).reshape(5, 2)
        m = umeyama_similarity(lm, ARCFACE)
        faces.append((row[0], cv2.warpAffine(img, m, (112, 112), flags=cv2.INTER_LINEAR,
                                             borderMode=cv2.BORDER_CONSTANT, borderValue=0)))
    return faces


def degrade(kind: str, img: np.ndarray, p: float, seed: int) -> np.ndarray:
    f = img.astype(np.float64)
    if kind == "blur":
        return cv2.GaussianBlur(img, (0, 0), sigmaX=p, sigmaY=p, borderType=cv2.BORDER_REFLECT_101)
    if kind == "noise":
        rng = np.random.default_rng(seed)
        return np.clip(np.round(f + rng.normal(0.0, p, img.shape)), 0, 255).astype(np.uint8)
    if kind == "dark":
        return np.clip(f - p, 0, 255).astype(np.uint8)
    if kind == "dark_factor":
        return np.clip(np.round(f * p), 0, 255).astype(np.uint8)
    if kind in ("occlusion", "occlusion_band"):
        out = img.copy()
        y0 = int(round((1.0 - p) * img.shape[0]))
        x0, x1 = (8, 104) if kind == "occlusion_band" else (0, img.shape[1])
        out[y0:, x0:x1] = 0
        return out
    if kind == "occlusion_patch":
        out = img.copy()
        h = int(p // 2)
        out[92 - h:92 + h, 56 - h:56 + h] = 0
        return out
    if kind in ("jpeg", "jpeg444"):
        params = [cv2.IMWRITE_JPEG_QUALITY, int(p)]
        if kind == "jpeg444":
            params += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
        ok, buf = cv2.imencode(".jpg", img[:, :, ::-1], params)
        assert ok
        return cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]
    raise ValueError(kind)


FOAMLIU_PT = os.path.join(ASSETS, "models", "foamliu-mobilefacenet", "mobilefacenet.pt")


class Scorer:
    """GraFIQs scores of a list of aligned RGB uint8 faces, float32."""

    def __init__(self, which="insightface"):
        self.which = which
        if which == "insightface":
            self.model = gr.MXNetGraph(os.path.join(MFN_DIR, "model-symbol.json"),
                                       os.path.join(MFN_DIR, "model-0000.params")).float().eval()
        else:
            self.model = gr.MobileFaceNetReLU6()
            self.model.load_state_dict(torch.load(FOAMLIU_PT, map_location="cpu", weights_only=True))
            self.model = self.model.float().eval()

    def __call__(self, images):
        x = torch.from_numpy(np.stack(images).astype(np.float32)).permute(0, 3, 1, 2)
        if self.which == "insightface":
            res = gr.grafiqs(self.model, (x - 127.5) * 0.0078125, gr.MOBILEFACENET_STAGES)
        else:
            mean = torch.tensor(gr.IMAGENET_MEAN).view(1, 3, 1, 1)
            std = torch.tensor(gr.IMAGENET_STD).view(1, 3, 1, 1)
            res = gr.grafiqs(self.model, (x / 255.0 - mean) / std)
        return np.stack([res["scores"][k].numpy().astype(np.float64) for k in gr.SCORE_KEYS], 1)


def sweep(score, faces, clean, kind, levels):
    cols = [clean]
    for li, p in enumerate(levels, start=1):
        cols.append(score([degrade(kind, img, p, 1000 * i + li) for i, (_, img) in enumerate(faces)]))
    a = np.stack(cols, 1)  # faces x 6 x 5
    sev = np.tile(np.arange(len(cols)), (a.shape[0], 1)).ravel()
    return {k: float(spearmanr(sev, a[:, :, j].ravel())[0]) for j, k in enumerate(gr.SCORE_KEYS)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", choices=["insightface", "foamliu"], default="insightface")
    ap.add_argument("--out")
    args = ap.parse_args()
    suffix = "" if args.model == "insightface" else "_foamliu"
    args.out = args.out or os.path.join(ROOT, "tests", "fixtures", f"degrade_expected{suffix}.json")
    if not os.path.isdir(FACES_DIR) or not os.path.isdir(MFN_DIR):
        sys.exit(f"{FACES_DIR} or {MFN_DIR} not found")
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    faces = load_faces()
    score = Scorer(args.model)
    clean = score([img for _, img in faces])
    spearman = {}
    for kind, levels in LEVELS.items():
        spearman[kind] = sweep(score, faces, clean, kind, levels)
        print(f"{kind:10s} " + " ".join(f"{spearman[kind][k]:6.3f}" for k in gr.SCORE_KEYS), flush=True)
    sensitivity = []
    for kind, label, levels in SENSITIVITY if args.model == "insightface" else []:
        r = sweep(score, faces, clean, kind, levels)
        sensitivity.append({"degradation": kind, "levels": label, "spearman": r})
        print(f"  {kind:16s} {label:38s} " + " ".join(f"{r[k]:6.3f}" for k in gr.SCORE_KEYS), flush=True)
    out = {
        "description": "Pooled Spearman correlation of severity (0 = clean, 1..5) with each raw "
                       "GraFIQs score, " + ("InsightFace MobileFaceNet y1" if args.model == "insightface"
                                            else "foamliu MobileFaceNet (ReLU6)") + " on the 12 lfw-colour faces "
                       "aligned with their landmarks; independent PyTorch + OpenCV + numpy "
                       "implementation (tests/reference/degrade_reference.py), float32.",
        "faces": [name for name, _ in faces],
        "levels": LEVELS,
        "score_keys": list(gr.SCORE_KEYS),
        "spearman": spearman,
        "sensitivity": sensitivity,
        "versions": {"torch": torch.__version__, "opencv": cv2.__version__, "numpy": np.__version__},
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
