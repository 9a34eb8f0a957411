#!/usr/bin/env python3
"""Ratio table: Rust (criterion estimates) vs PyTorch (bench_torch.py JSON), ms per image."""
import json
import pathlib
import sys

crit = pathlib.Path(sys.argv[1]) / "grafiqs_cpu"
torch = json.load(open(sys.argv[2]))
tmap = {(r["model"], r["batch"]): r["ms_per_image"] for r in torch["results"]}
print(f"| model | batch | Rust CPU ms/image | PyTorch CPU ms/image ({torch['threads']} threads) | Rust / PyTorch |")
print("|---|---|---|---|---|")
rust = {}
for model in ["mobilefacenet", "foamliu-mobilefacenet", "iresnet50"]:
    for batch in [1, 8]:
        est = crit / model / str(batch) / "new" / "estimates.json"
        if not est.exists():
            continue
        ns = json.load(open(est))["median"]["point_estimate"]
        ms = ns / 1e6 / batch
        rust[(model, batch)] = ms
        t = tmap.get((model, batch))
        ratio = f"{ms / t:.2f}x" if t else "n/a"
        print(f"| {model} | {batch} | {ms:.1f} | {t:.1f} | {ratio} |" if t else f"| {model} | {batch} | {ms:.1f} | n/a | n/a |")
for model in ["mobilefacenet", "foamliu-mobilefacenet", "iresnet50"]:
    if (model, 1) in rust and (model, 8) in rust:
        print(f"\n{model}: batch-8 throughput = {rust[(model, 1)] / rust[(model, 8)]:.2f}x batch-1")
