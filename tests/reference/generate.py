#!/usr/bin/env python3
"""Writes the committed GraFIQs test fixtures into tests/fixtures/ (deterministic, seeded).

    python3 tests/reference/generate.py [--skip-mobilefacenet]

* tiny_iresnet.pth, tiny_img*.png, tiny_expected.json   -- synthetic, always generated.
* mobilefacenet_expected.json                           -- numbers only, computed from the real
  model and faces in ../shared/assets (skipped with a message when the folder is absent).
  Nothing from ../shared/assets is written into the repository.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import zlib

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep __pycache__ out of the repository
sys.path.insert(0, HERE)
import grafiqs_ref as gr  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
ASSETS = os.path.normpath(os.path.join(ROOT, "..", "shared", "assets"))
MFN_DIR = os.path.join(ASSETS, "models", "insightface-mobilefacenet-y1")
FACES_DIR = os.path.join(ASSETS, "faces", "aligned-112")
FOAMLIU_PT = os.path.join(ASSETS, "models", "foamliu-mobilefacenet", "mobilefacenet.pt")

TINY_CONFIG = {"blocks": [1, 2, 1, 1], "widths": [8, 8, 16, 16], "embedding": 16}
SEED = 20240417


# ---------------------------------------------------------------------------------------------
def make_tiny_model(seed: int = SEED) -> gr.IResNet:
    g = torch.Generator().manual_seed(seed)
    m = gr.IResNet(**TINY_CONFIG)
    with torch.no_grad():
        for name, mod in m.named_modules():
            if isinstance(mod, torch.nn.Conv2d):
                fan_in = mod.in_channels * mod.kernel_size[0] * mod.kernel_size[1] // mod.groups
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
            elif isinstance(mod, torch.nn.Linear):
                fan_in = mod.in_features
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=g) * (1.0 / fan_in) ** 0.5)
                mod.bias.copy_(torch.randn(mod.bias.shape, generator=g) * 0.1)
            elif isinstance(mod, torch.nn.PReLU):
                mod.weight.copy_(0.1 + 0.2 * torch.rand(mod.weight.shape, generator=g))
            elif isinstance(mod, (torch.nn.BatchNorm2d, torch.nn.BatchNorm1d)):
                c = mod.num_features
                if name != "features":
                    mod.weight.copy_(0.5 + torch.rand(c, generator=g))
                mod.bias.copy_(torch.randn(c, generator=g) * 0.1)
                mod.running_mean.copy_(torch.randn(c, generator=g) * 0.2)
                mod.running_var.copy_(0.5 + 1.5 * torch.rand(c, generator=g))
                mod.num_batches_tracked.fill_(1000)
    assert torch.all(m.features.weight == 1)
    return m


def _smooth_noise(rng, h, w, c, cells):
    """Low-frequency noise: bilinear upsampling of a coarse random grid."""
    coarse = torch.from_numpy(rng.standard_normal((1, c, cells, cells)))
    up = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=True)
    return up[0].permute(1, 2, 0).numpy()


def make_image(idx: int, w: int = 112, h: int = 112) -> np.ndarray:
    rng = np.random.default_rng(SEED + 17 * idx)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    u, v = xx / (w - 1), yy / (h - 1)
    if idx == 3:  # nearly uniform dark image
        img = np.full((h, w, 3), 18.0) + np.array([2.0, 0.0, 3.0])
        img += 3.0 * u[..., None] + rng.normal(0, 1.0, (h, w, 3))
        return np.clip(np.rint(img), 0, 255).astype(np.uint8)
    ang = rng.uniform(0, 2 * np.pi)
    grad = np.cos(ang) * u + np.sin(ang) * v
    base = rng.uniform(60, 180, 3)
    slope = rng.uniform(-80, 80, 3)
    img = base + slope * grad[..., None]
    img += 25.0 * _smooth_noise(rng, h, w, 3, 5)
    for _ in range(3 + idx):  # gaussian blobs
        cx, cy = rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.85) * h
        r = rng.uniform(6, 22)
        amp = rng.uniform(-90, 90, 3)
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
        img += blob[..., None] * amp
    img += rng.normal(0, 4.0 + 3.0 * idx, (h, w, 3))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def save_png(arr: np.ndarray, path: str):
    Image.fromarray(arr, "RGB").save(path, format="PNG", optimize=True)


def sha256(path: str) -> str:
    hsh = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            hsh.update(chunk)
    return hsh.hexdigest()


def case_record(file_name, res, i=0, extra=None):
    rec = {"file": file_name}
    if extra:
        rec.update(extra)
    rec["scores"] = {k: float(res["scores"][k][i]) for k in gr.SCORE_KEYS}
    rec["loss"] = float(res["loss"][i])
    rec["embedding"] = [float(v) for v in res["embedding"][i]]
    return rec


def print_table(title, rows):
    print(f"\n{title}")
    hdr = f"{'file':28s} {'bgr':>5s} " + " ".join(f"{k:>14s}" for k in gr.SCORE_KEYS) + f" {'loss':>12s}"
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(f"{r['file']:28s} {str(r.get('bgr', '')):>5s} "
              + " ".join(f"{r['scores'][k]:14.6g}" for k in gr.SCORE_KEYS) + f" {r['loss']:12.6g}")


# ---------------------------------------------------------------------------------------------
def generate_tiny():
    os.makedirs(FIXTURES, exist_ok=True)
    model = make_tiny_model()
    pth = os.path.join(FIXTURES, "tiny_iresnet.pth")
    sd = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    torch.save(sd, pth)

    images = {}
    for i in range(4):
        images[f"tiny_img{i}.png"] = make_image(i)
    images["tiny_img_odd.png"] = make_image(5, w=150, h=130)
    for name, arr in images.items():
        save_png(arr, os.path.join(FIXTURES, name))

    # reload everything from disk so the reference sees exactly what the Rust side sees
    ref = gr.IResNet(**TINY_CONFIG)
    ref.load_state_dict(torch.load(pth, map_location="cpu", weights_only=True))
    ref = ref.double().eval()

    cases = []
    plan = [(n, False) for n in images] + [("tiny_img0.png", True), ("tiny_img_odd.png", True)]
    bn_layers = None
    for name, bgr in plan:
        img = gr.load_rgb(os.path.join(FIXTURES, name))
        assert np.array_equal(img, images[name])
        x = gr.preprocess(img, "iresnet", bgr=bgr)
        res = gr.grafiqs(ref, x)
        bn_layers = res["bn_layers"]
        cases.append(case_record(name, res, extra={"bgr": bgr}))
    assert bn_layers == gr.count_bn2d(ref)
    out = {
        "description": "GraFIQs float64 PyTorch reference (tests/reference/grafiqs_ref.py) for a "
                       "random tiny iResNet; iResNet normalisation (x/255-0.5)/0.5; images "
                       "decoded by PIL as RGB; bgr=true reverses channels before normalisation; "
                       "non-112 images resized with bilinear antialias (align_corners=false) "
                       "in [0,1].",
        "model": "tiny_iresnet.pth",
        "config": TINY_CONFIG,
        "normalisation": "iresnet",
        "bn_layers": bn_layers,
        "score_keys": list(gr.SCORE_KEYS),
        "cases": cases,
    }
    with open(os.path.join(FIXTURES, "tiny_expected.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print_table(f"tiny iResNet (L_count = {bn_layers})", cases)
    return out


def generate_mobilefacenet():
    sym = os.path.join(MFN_DIR, "model-symbol.json")
    params = os.path.join(MFN_DIR, "model-0000.params")
    if not (os.path.exists(sym) and os.path.exists(params) and os.path.isdir(FACES_DIR)):
        print(f"\nSKIP mobilefacenet_expected.json: {MFN_DIR} or {FACES_DIR} not found")
        return None
    model = gr.MXNetGraph(sym, params).double().eval()
    assert model.norm_chain == [("_minus_scalar", 127.5), ("_mul_scalar", 0.0078125)], model.norm_chain
    files = sorted(f for f in os.listdir(FACES_DIR) if f.lower().endswith(".jpg"))
    cases = []
    bn_layers = None
    bn_names = None
    for name in files:
        img = gr.load_rgb(os.path.join(FACES_DIR, name))
        x = gr.preprocess(img, "mxnet", bgr=False)
        res = gr.grafiqs(model, x, gr.MOBILEFACENET_STAGES)
        bn_layers, bn_names = res["bn_layers"], res["bn_names"]
        cases.append(case_record(name, res, extra={
            "bgr": False,
            "height": int(img.shape[0]),
            "width": int(img.shape[1]),
            "pixel_sum": int(img.astype(np.int64).sum()),
            "pixel_crc": zlib.crc32(np.ascontiguousarray(img).tobytes()) & 0xFFFFFFFF,
        }))
    out = {
        "description": "GraFIQs float64 PyTorch reference for the InsightFace MobileFaceNet y1 "
                       "(MXNet graph interpreted by tests/reference/grafiqs_ref.py) on "
                       "../shared/assets/faces/aligned-112/*.jpg. PIL RGB decode, no BGR swap, "
                       "normalisation (x-127.5)*0.0078125 (the graph's own leading "
                       "_minus_scalar/_mul_scalar); image gradient w.r.t. the normalised input. "
                       "embedding = graph head fc1 (raw, not L2-normalised). pixel_sum / pixel_crc "
                       "(zlib crc32 of HxWx3 uint8 RGB bytes) identify PIL's decode.",
        "model_dir": "models/insightface-mobilefacenet-y1",
        "sha256": {"model-0000.params": sha256(params), "model-symbol.json": sha256(sym)},
        "normalisation": "mxnet",
        "stages": list(gr.MOBILEFACENET_STAGES),
        "bn_layers": bn_layers,
        "bn_nodes": bn_names,
        "score_keys": list(gr.SCORE_KEYS),
        "cases": cases,
    }
    with open(os.path.join(FIXTURES, "mobilefacenet_expected.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print_table(f"MobileFaceNet y1 (L_count = {bn_layers})", cases)
    return out


def generate_checkpoint_formats():
    """The tiny iResNet saved in the legacy (non-zip) torch.save format and as a whole module
    (torch.save(model)): the Rust importer must read both to the same parameters as the zip."""
    model = make_tiny_model()
    sd = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    torch.save(sd, os.path.join(FIXTURES, "tiny_iresnet_legacy.pth"),
               _use_new_zipfile_serialization=False)
    torch.save(model, os.path.join(FIXTURES, "tiny_iresnet_module.pth"))
    print("wrote tiny_iresnet_legacy.pth, tiny_iresnet_module.pth")


def generate_foamliu():
    """float64 reference for the Apache-2.0 PyTorch MobileFaceNet (ReLU6) on the aligned faces."""
    if not (os.path.exists(FOAMLIU_PT) and os.path.isdir(FACES_DIR)):
        print(f"\nSKIP foamliu_mobilefacenet_expected.json: {FOAMLIU_PT} or {FACES_DIR} not found")
        return None
    model = gr.MobileFaceNetReLU6()
    model.load_state_dict(torch.load(FOAMLIU_PT, map_location="cpu", weights_only=True), strict=True)
    model = model.double().eval()
    files = sorted(f for f in os.listdir(FACES_DIR) if f.lower().endswith(".jpg"))
    cases, bn_layers, bn_names = [], None, None
    for name in files:
        img = gr.load_rgb(os.path.join(FACES_DIR, name))
        x = gr.preprocess(img, "imagenet", bgr=False)
        res = gr.grafiqs(model, x)
        bn_layers, bn_names = res["bn_layers"], res["bn_names"]
        cases.append(case_record(name, res, extra={
            "bgr": False,
            "pixel_crc": zlib.crc32(np.ascontiguousarray(img).tobytes()) & 0xFFFFFFFF,
        }))
    out = {
        "description": "GraFIQs float64 PyTorch reference for the foamliu MobileFaceNet (ReLU6; "
                       "MobileFaceNetReLU6 in tests/reference/grafiqs_ref.py, state dict loaded "
                       "strictly with torch.load) on ../shared/assets/faces/aligned-112/*.jpg. PIL "
                       "RGB decode, normalisation (x/255 - ImageNet mean)/std; loss over the 50 "
                       "BatchNorm2d layers before the final embedding bn; stages dw_conv, "
                       "features.4, features.11, features.14; embedding = flatten(bn(...)), raw.",
        "model": "models/foamliu-mobilefacenet/mobilefacenet.pt",
        "sha256": sha256(FOAMLIU_PT),
        "normalisation": "imagenet",
        "stages": list(gr.MFN_RELU6_STAGES),
        "bn_layers": bn_layers,
        "bn_nodes": bn_names,
        "score_keys": list(gr.SCORE_KEYS),
        "cases": cases,
    }
    with open(os.path.join(FIXTURES, "foamliu_mobilefacenet_expected.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print_table(f"foamliu MobileFaceNet ReLU6 (L_count = {bn_layers})", cases)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip-mobilefacenet", action="store_true")
    ap.add_argument("--only", choices=["tiny", "formats", "mobilefacenet", "foamliu"],
                    help="regenerate one group of fixtures only")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    groups = {"tiny": generate_tiny, "formats": generate_checkpoint_formats,
              "mobilefacenet": generate_mobilefacenet, "foamliu": generate_foamliu}
    if args.only:
        groups[args.only]()
    else:
        generate_tiny()
        generate_checkpoint_formats()
        if not args.skip_mobilefacenet:
            generate_mobilefacenet()
            generate_foamliu()
    total = sum(os.path.getsize(os.path.join(FIXTURES, f)) for f in os.listdir(FIXTURES))
    print(f"\nfixtures in {FIXTURES}: {total} bytes")


if __name__ == "__main__":
    main()
