#!/usr/bin/env python3
"""Independent reference for Error-versus-Discard curves (numpy only).

    python3 tests/reference/edc_reference.py          # rewrites the edc_* fixtures
    python3 tests/reference/edc_reference.py --check  # recomputes, exits 1 if they differ

Writes into tests/fixtures/ a synthetic, seeded evaluation set and the curves expected from it:

* edc_comparisons.txt      `pathA pathB is_same similarity` (900 genuine, 2600 impostor pairs)
* edc_quality_a.txt        `path score`, larger = worse, follows the latent image quality
* edc_quality_b.txt        `path score`, larger = worse, a weak (noisy) method
* edc_quality_a_hib.txt    the scores of edc_quality_a.txt negated (larger = better)
* edc_expected.json        for FMR 1e-3 and 1e-4, protocols `reestimate` and `fixed`: the curve
                           (FNMR, threshold), AUC, pAUC 0.2 / 0.3 of each quality file and of
                           the random baseline (100 orders, seed 0)

Values are written with few decimals on purpose, so that qualities, similarities and
impostor/genuine similarities tie, exercising the tie rules.

The computation below is deliberately brute force (every step recomputed from scratch with
array operations) and follows the written definition:

* pair quality = min of the two images' qualities oriented higher = better; pairs sorted
  ascending by it with a stable sort (ties: input order); step k = 0..19 discards the
  floor(k*N/20) lowest-quality pairs;
* threshold: the candidate values are the distinct impostor similarities considered;
  FMR(t) = #(impostor >= t) / #impostor; take the candidate minimising |FMR(t) - target|, the
  higher one on a tie; `fixed` takes it once from all pairs, `reestimate` from the remaining
  pairs at each step (keeping the previous one when no impostor remains);
* FNMR = #(remaining genuine with similarity < t) / #(remaining genuine), the previous step's
  value when no genuine pair remains;
* areas: trapezoids over x = k/20, full [0, 0.95], partial [0, 0.2] and [0, 0.3], not normalised;
* random baseline: mean FNMR over 100 orders, each a Fisher-Yates shuffle of 0..N-1
  (i = N-1 down to 1, swap i with j uniform in [0, i]) fed by one SplitMix64 stream seeded
  with 0, uniform integers by Lemire's multiply-and-reject method.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.normpath(os.path.join(HERE, "..", "fixtures"))
SEED = 29794
STEPS = 20
FMRS = [1e-3, 1e-4]
PROTOCOLS = ["reestimate", "fixed"]
RANDOM_ORDERS = 100
RANDOM_SEED = 0
MASK = (1 << 64) - 1

# (file, orientation) of the quality methods, in the order they are evaluated.
METHODS = [
    ("edc_quality_a.txt", "lower-is-better"),
    ("edc_quality_b.txt", "lower-is-better"),
    ("edc_quality_a_hib.txt", "higher-is-better"),
]


# ---------------------------------------------------------------------------------------------
# Synthetic data
def make_data() -> dict[str, str]:
    rng = np.random.default_rng(SEED)
    n_id, per_id = 150, 4
    names = [f"s{i:03d}_{j}.jpg" for i in range(n_id) for j in range(per_id)]
    ident = np.repeat(np.arange(n_id), per_id)
    latent = rng.beta(2.0, 2.0, size=len(names))  # 1 = perfect image
    raw_a = np.round(30 + 40 * (1 - latent) + rng.normal(0, 4, len(names)), 1)
    raw_b = np.round(50 + 10 * (1 - latent) + rng.normal(0, 10, len(names)), 1)

    pairs = []
    for i in range(n_id):
        idx = [i * per_id + j for j in range(per_id)]
        for x in range(per_id):
            for y in range(x + 1, per_id):
                pairs.append((idx[x], idx[y], 1))
    n_imp = 2600
    while n_imp > 0:
        x, y = rng.integers(0, len(names), size=2)
        if ident[x] != ident[y]:
            pairs.append((int(x), int(y), 0))
            n_imp -= 1
    order = rng.permutation(len(pairs))
    lines = []
    for p in order:
        x, y, same = pairs[p]
        q = min(latent[x], latent[y])
        if same:
            s = 0.15 + 0.55 * q + rng.normal(0, 0.12)
        else:
            s = rng.normal(0, 0.07) + 0.12 * (1 - q) * rng.normal(0, 1)
        lines.append(f"{names[x]} {names[y]} {same} {s:.3f}\n")

    def fmt(v: float) -> str:
        return f"{v:.1f}"

    def neg(v: float) -> str:
        s = fmt(v)
        return s[1:] if s.startswith("-") else "-" + s

    return {
        "edc_comparisons.txt": "".join(lines),
        "edc_quality_a.txt": "".join(f"{n} {fmt(v)}\n" for n, v in zip(names, raw_a)),
        "edc_quality_b.txt": "".join(f"{n} {fmt(v)}\n" for n, v in zip(names, raw_b)),
        "edc_quality_a_hib.txt": "".join(f"{n} {neg(v)}\n" for n, v in zip(names, raw_a)),
    }


# ---------------------------------------------------------------------------------------------
# Parsing (minimal: the fixture files are well formed)
def read_comparisons(text: str):
    a, b, same, sim = [], [], [], []
    for line in text.splitlines():
        t = line.split()
        if not t:
            continue
        a.append(t[0])
        b.append(t[1])
        same.append(t[2] in ("1", "true", "same"))
        sim.append(float(t[3]))
    return a, b, np.array(same, dtype=bool), np.array(sim, dtype=np.float64)


def read_quality(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        t = line.split()
        if t:
            out[t[0]] = float(t[-1])
    return out


# ---------------------------------------------------------------------------------------------
# EDC
def nearest_threshold(imp: np.ndarray, target: float) -> float:
    values = np.unique(imp)[::-1]  # distinct, descending
    srt = np.sort(imp)
    accepted = len(srt) - np.searchsorted(srt, values, side="left")  # #(imp >= v)
    fmr = accepted / len(srt)
    dist = np.abs(fmr - target)
    return float(values[int(np.argmin(dist))])  # first minimum = highest threshold


def curve_for_order(order, genuine, sim, target, protocol):
    n = len(order)
    t_full = nearest_threshold(sim[~genuine], target)
    t = t_full
    fnmr, thresholds = [], []
    last = None
    for k in range(STEPS):
        d = k * n // STEPS
        keep = np.zeros(n, dtype=bool)
        keep[order[d:]] = True
        if protocol == "reestimate":
            imp = sim[keep & ~genuine]
            if len(imp) > 0:
                t = nearest_threshold(imp, target)
        g = sim[keep & genuine]
        if len(g) > 0:
            last = np.count_nonzero(g < t) / len(g)
        fnmr.append(float(last))
        thresholds.append(t)
    return fnmr, thresholds


def areas(fnmr):
    x = np.arange(STEPS) / STEPS
    y = np.asarray(fnmr)

    def area(kmax):
        return float(np.sum((x[1 : kmax + 1] - x[:kmax]) * (y[1 : kmax + 1] + y[:kmax]) / 2))

    return {"auc": area(STEPS - 1), "pauc_0.2": area(4), "pauc_0.3": area(6)}


class SplitMix64:
    def __init__(self, seed: int):
        self.state = seed & MASK

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, n: int) -> int:
        m = self.next() * n
        low = m & MASK
        if low < n:
            t = ((1 << 64) - n) % n
            while low < t:
                m = self.next() * n
                low = m & MASK
        return m >> 64

    def permutation(self, n: int) -> np.ndarray:
        p = list(range(n))
        for i in range(n - 1, 0, -1):
            j = self.below(i + 1)
            p[i], p[j] = p[j], p[i]
        return np.array(p, dtype=np.int64)


def compute(files: dict[str, str]) -> dict:
    a, b, genuine, sim = read_comparisons(files["edc_comparisons.txt"])
    n = len(sim)
    methods = []
    for name, orientation in METHODS:
        raw = read_quality(files[name])
        sign = -1.0 if orientation == "lower-is-better" else 1.0
        qa = np.array([sign * raw[p] for p in a])
        qb = np.array([sign * raw[p] for p in b])
        pair_q = np.minimum(qa, qb)
        methods.append((name, orientation, np.argsort(pair_q, kind="stable")))

    rng = SplitMix64(RANDOM_SEED)
    random_orders = [rng.permutation(n) for _ in range(RANDOM_ORDERS)]

    results = []
    for target in FMRS:
        for protocol in PROTOCOLS:
            entry = {"fmr": target, "protocol": protocol, "methods": []}
            for name, orientation, order in methods:
                fnmr, thr = curve_for_order(order, genuine, sim, target, protocol)
                entry["methods"].append(
                    {"file": name, "orientation": orientation, "fnmr": fnmr, "threshold": thr}
                    | areas(fnmr)
                )
            total = [0.0] * STEPS
            for order in random_orders:
                fnmr, _ = curve_for_order(order, genuine, sim, target, protocol)
                for k in range(STEPS):
                    total[k] += fnmr[k]
            mean = [v / RANDOM_ORDERS for v in total]
            entry["random"] = {"orders": RANDOM_ORDERS, "seed": RANDOM_SEED, "fnmr": mean} | areas(
                mean
            )
            results.append(entry)
    return {
        "generator": "tests/reference/edc_reference.py",
        "comparisons": {
            "total": n,
            "genuine": int(genuine.sum()),
            "impostor": int((~genuine).sum()),
        },
        "discard": [k / STEPS for k in range(STEPS)],
        "first_random_order_head": [int(v) for v in random_orders[0][:10]],
        "cases": results,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="compare with the committed fixtures")
    args = ap.parse_args()
    files = make_data()
    expected = json.dumps(compute(files), indent=1) + "\n"
    files["edc_expected.json"] = expected
    if args.check:
        bad = []
        for name, text in files.items():
            with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
                if f.read() != text:
                    bad.append(name)
        if bad:
            print("differs:", ", ".join(bad))
            return 1
        print("fixtures reproduced")
        return 0
    for name, text in files.items():
        with open(os.path.join(FIXTURES, name), "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    sizes = {n: os.path.getsize(os.path.join(FIXTURES, n)) for n in files}
    print(json.dumps(sizes), "total", sum(sizes.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
