#!/usr/bin/env python3
"""PyTorch CPU baseline for the full GraFIQs computation (float32).

Times forward + loss + backward (input and four stage-output gradients) + the five score sums
(``grafiqs_ref.grafiqs``) for
  * the real InsightFace MobileFaceNet y1 from ../shared/assets (skipped when absent), and
  * iResNet-50 with random weights and calibrated ("realistic") BN running statistics
    (no pretrained iResNet weights exist here; timing does not depend on the values),
at batch 1 and 8. Warm-up, then the median of --reps repetitions.

    python3 tests/reference/bench_torch.py [--reps 5] [--threads N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep __pycache__ out of the repository
sys.path.insert(0, HERE)
import grafiqs_ref as gr  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
MFN_DIR = os.path.join(ROOT, "..", "shared", "assets", "models", "insightface-mobilefacenet-y1")


def smooth_images(n: int, seed: int = 0) -> torch.Tensor:
    """Face-like-ish smooth random images in [-1, 1] (low-frequency noise + a little pixel noise)."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(n, 3, 8, 8, generator=g) * 0.5
    x = torch.nn.functional.interpolate(coarse, size=(112, 112), mode="bilinear", align_corners=False)
    x = x + 0.05 * torch.randn(n, 3, 112, 112, generator=g)
    return x.clamp(-1, 1)


def make_iresnet50(seed: int = 0) -> gr.IResNet:
    torch.manual_seed(seed)
    m = gr.iresnet("iresnet50")
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(mod.weight, mode="fan_in", nonlinearity="leaky_relu", a=0.25)
            elif isinstance(mod, torch.nn.PReLU):
                mod.weight.fill_(0.25)
        # calibrate BN running statistics: one train-mode pass with cumulative averaging
        for mod in m.modules():
            if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
                mod.reset_running_stats()
                mod.momentum = None
        m.train()
        m(smooth_images(8, seed=123))
    return m.eval()


def time_grafiqs(model, x, stages, reps: int, warmup: int):
    for _ in range(warmup):
        gr.grafiqs(model, x, stages)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        r = gr.grafiqs(model, x, stages)
        _ = [float(v.sum()) for v in r["scores"].values()]  # force the sums
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000.0, times


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None, help="default: torch's default")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--models", default="mobilefacenet,foamliu-mobilefacenet,iresnet50")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    batches = [int(b) for b in args.batches.split(",")]

    models = []
    for name in args.models.split(","):
        if name == "mobilefacenet":
            sym = os.path.join(MFN_DIR, "model-symbol.json")
            par = os.path.join(MFN_DIR, "model-0000.params")
            if not os.path.exists(par):
                print(f"SKIP mobilefacenet: {os.path.normpath(MFN_DIR)} not found")
                continue
            m = gr.MXNetGraph(sym, par).float().eval()
            models.append(("mobilefacenet", m, gr.MOBILEFACENET_STAGES))
        elif name == "foamliu-mobilefacenet":
            pt = os.path.join(MFN_DIR, "..", "foamliu-mobilefacenet", "mobilefacenet.pt")
            if not os.path.exists(pt):
                print(f"SKIP foamliu-mobilefacenet: {os.path.normpath(pt)} not found")
                continue
            m = gr.MobileFaceNetReLU6()
            m.load_state_dict(torch.load(pt, map_location="cpu", weights_only=True))
            models.append(("foamliu-mobilefacenet", m.float().eval(), ()))
        elif name == "iresnet50":
            models.append(("iresnet50", make_iresnet50(), ()))
        else:
            raise SystemExit(f"unknown model {name}")

    results = []
    print(f"torch {torch.__version__}, threads {threads}, float32, reps {args.reps} (median), "
          f"warm-up {args.warmup}")
    print(f"{'model':15s} {'batch':>5s} {'ms/batch':>10s} {'ms/image':>10s}")
    for name, m, stages in models:
        for b in batches:
            x = smooth_images(b, seed=7)
            ms, _ = time_grafiqs(m, x, stages, args.reps, args.warmup)
            results.append({"model": name, "batch": b, "ms_per_image": ms / b, "ms_per_batch": ms})
            print(f"{name:15s} {b:5d} {ms:10.1f} {ms / b:10.1f}", flush=True)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"peak RSS: {peak_mib:.0f} MiB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch_version": torch.__version__, "threads": threads, "dtype": "float32",
                       "reps": args.reps, "peak_rss_mib": peak_mib, "results": results}, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
