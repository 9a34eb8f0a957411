#!/usr/bin/env python3
"""Sanity checks of the reference implementation (run after generate.py).

    python3 tests/reference/selfcheck.py

1. float64 vs float32 agreement (tiny iResNet and MobileFaceNet).
2. batch of 4 == 4 single passes (per-sample statistics).
3. stage-output gradients carry only downstream BNs: the gradient w.r.t. each stage output
   equals the gradient of the partial loss of the downstream BNs, computed on a graph cut at
   that stage (detached leaf). For block4 of iResNet the partial loss is the bn2 term alone,
   computed directly from the leaf.
4. an independent functional iResNet forward (F.conv2d / F.batch_norm on the raw state dict)
   matches the nn.Module implementation; finite-difference check of the image gradient.
5. MobileFaceNet: L_count, embedding cosine similarities (2.jpg vs 2_1.jpg high).
6. committed JSON fixtures parse and re-computation from disk matches them; sizes.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep __pycache__ out of the repository
sys.path.insert(0, HERE)
import grafiqs_ref as gr  # noqa: E402
import generate as G  # noqa: E402

FAIL = []


def check(name, ok, detail=""):
    print(f"[{'PASS' if ok else 'FAIL'}] {name} {detail}")
    if not ok:
        FAIL.append(name)


def rel(a, b):
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    return ((a - b).abs() / b.abs().clamp_min(1e-30)).max().item()


def load_tiny(dtype=torch.float64):
    m = gr.IResNet(**G.TINY_CONFIG)
    m.load_state_dict(torch.load(os.path.join(G.FIXTURES, "tiny_iresnet.pth"), weights_only=True))
    return m.to(dtype).eval()


def tiny_inputs(dtype=torch.float64):
    names = ["tiny_img0.png", "tiny_img1.png", "tiny_img2.png", "tiny_img3.png"]
    return torch.cat([gr.preprocess(gr.load_rgb(os.path.join(G.FIXTURES, n)), "iresnet",
                                    dtype=dtype) for n in names])


def functional_iresnet(sd, x, blocks):
    """Independent forward straight from the state dict; returns (emb, [bn inputs], stages)."""
    bn_in = []

    def bn(t, p):
        bn_in.append((t, sd[p + ".running_mean"], sd[p + ".running_var"]))
        return F.batch_norm(t, sd[p + ".running_mean"], sd[p + ".running_var"],
                            sd[p + ".weight"], sd[p + ".bias"], False, 0.0, 1e-5)

    def prelu(t, p):
        w = sd[p + ".weight"].reshape(1, -1, 1, 1)
        return torch.where(t >= 0, t, t * w)

    x = prelu(bn(F.conv2d(x, sd["conv1.weight"], padding=1), "bn1"), "prelu")
    stages = []
    for s in range(4):
        for i in range(blocks[s]):
            p = f"layer{s + 1}.{i}"
            o = bn(x, p + ".bn1")
            o = F.conv2d(o, sd[p + ".conv1.weight"], padding=1)
            o = prelu(bn(o, p + ".bn2"), p + ".prelu")
            o = F.conv2d(o, sd[p + ".conv2.weight"], stride=2 if i == 0 else 1, padding=1)
            o = bn(o, p + ".bn3")
            if i == 0:
                idn = bn(F.conv2d(x, sd[p + ".downsample.0.weight"], stride=2), p + ".downsample.1")
            else:
                idn = x
            x = o + idn
        stages.append(x)
    x = bn(x, "bn2")
    x = F.linear(x.flatten(1), sd["fc.weight"], sd["fc.bias"])
    emb = F.batch_norm(x, sd["features.running_mean"], sd["features.running_var"],
                       sd["features.weight"], sd["features.bias"], False, 0.0, 1e-5)
    return emb, bn_in, stages


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)

    # ---- 1. f64 vs f32 (tiny) -------------------------------------------------------------
    m64, m32 = load_tiny(torch.float64), load_tiny(torch.float32)
    x64 = tiny_inputs(torch.float64)
    r64 = gr.grafiqs(m64, x64)
    r32 = gr.grafiqs(m32, x64.float())
    worst = max(rel(r32["scores"][k], r64["scores"][k]) for k in gr.SCORE_KEYS)
    emb_abs = (r32["embedding"].double() - r64["embedding"]).abs().max().item()
    check("tiny f32 vs f64 scores", worst < 1e-4, f"max rel {worst:.2e}, emb max abs {emb_abs:.2e}, "
          f"loss rel {rel(r32['loss'], r64['loss']):.2e}")

    # ---- 2. batch == singles -------------------------------------------------------------
    singles = [gr.grafiqs(m64, x64[i:i + 1]) for i in range(4)]
    worst = 0.0
    for i, s in enumerate(singles):
        for k in gr.SCORE_KEYS:
            worst = max(worst, rel(r64["scores"][k][i], s["scores"][k][0]))
        worst = max(worst, rel(r64["loss"][i], s["loss"][0]))
        worst = max(worst, (r64["embedding"][i] - s["embedding"][0]).abs().max().item())
    check("tiny batch(4) == 4 singles", worst < 1e-12, f"max rel {worst:.2e}")

    # ---- 3. stage gradients carry only downstream BNs (tiny) ------------------------------
    x1 = x64[1:2]
    full = gr.grafiqs(m64, x1)
    L = full["bn_layers"]
    _, _, stages = m64.forward_collect(x1)
    worst = 0.0
    for s in range(4):
        leaf = stages[s].detach().clone().requires_grad_(True)
        recs = []
        hooks = []
        for name, mod in m64.named_modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                hooks.append(mod.register_forward_hook(
                    lambda mod, inp, out, name=name: recs.append((name, inp[0], mod.running_mean, mod.running_var))))
        t = leaf
        for s2 in range(s + 1, 4):
            t = getattr(m64, f"layer{s2 + 1}")(t)
        m64.bn2(t)
        for h in hooks:
            h.remove()
        part = sum(((r[1].mean((2, 3)) - r[2]) ** 2).mean() + ((r[1].var((2, 3), unbiased=False) - r[3]) ** 2).mean()
                   for r in recs) / L
        g = torch.autograd.grad(part, leaf)[0]
        worst = max(worst, ((g - full["grads"][gr.STAGE_KEYS[s]]).abs().max()
                            / full["grads"][gr.STAGE_KEYS[s]].abs().max()).item())
        if s == 3:
            assert [r[0] for r in recs] == ["bn2"]
            mu, var = leaf.mean((2, 3)), leaf.var((2, 3), unbiased=False)
            part_bn2 = (((mu - m64.bn2.running_mean) ** 2).mean() + ((var - m64.bn2.running_var) ** 2).mean()) / L
            g2 = torch.autograd.grad(part_bn2, leaf)[0]
            d = ((g2 - full["grads"]["block4"]).abs().max() / g2.abs().max()).item()
            check("tiny block4 grad == grad of (bn2 term)/L", d < 1e-12, f"max rel {d:.2e}")
    check("tiny block1..4 grads == downstream partial losses", worst < 1e-12, f"max rel {worst:.2e}")

    # ---- 4. independent functional forward + finite differences ---------------------------
    sd = {k: v.double() for k, v in torch.load(os.path.join(G.FIXTURES, "tiny_iresnet.pth"),
                                               weights_only=True).items()}
    xf = x1.clone().requires_grad_(True)
    emb_f, bn_in, st_f = functional_iresnet(sd, xf, G.TINY_CONFIG["blocks"])
    loss_f = sum(((a.mean((2, 3)) - rm) ** 2).mean() + ((a.var((2, 3), unbiased=False) - rv) ** 2).mean()
                 for a, rm, rv in bn_in) / len(bn_in)
    gf = torch.autograd.grad(loss_f, [xf] + st_f)
    d_emb = (emb_f - full["embedding"]).abs().max().item()
    d_sc = max(rel(g.abs().sum(), full["scores"][k][0]) for g, k in zip(gf, gr.SCORE_KEYS))
    check("tiny functional forward == module", d_emb < 1e-10 and d_sc < 1e-10 and len(bn_in) == L
          and abs(loss_f.item() - full["loss"][0].item()) < 1e-10,
          f"emb {d_emb:.1e}, scores rel {d_sc:.1e}, L {len(bn_in)}")

    def loss_at(x):
        with torch.no_grad():
            _, recs, _ = m64.forward_collect(x)
            return gr.bn_loss_per_sample(recs)[0].sum().item()

    worst = 0.0
    for _ in range(3):
        d = torch.randn_like(x1)
        h = 1e-7  # PReLU kinks: larger steps cross activation zeros (piecewise-smooth loss)
        fd = (loss_at(x1 + h * d) - loss_at(x1 - h * d)) / (2 * h)
        an = (full["grads"]["image"] * d).sum().item()
        worst = max(worst, abs(fd - an) / abs(an))
    check("tiny image gradient vs central finite difference", worst < 1e-5, f"max rel {worst:.2e}")

    # ---- 5. MobileFaceNet -----------------------------------------------------------------
    sym = os.path.join(G.MFN_DIR, "model-symbol.json")
    par = os.path.join(G.MFN_DIR, "model-0000.params")
    if os.path.exists(par):
        mf64 = gr.MXNetGraph(sym, par).double().eval()
        mf32 = gr.MXNetGraph(sym, par).float().eval()
        files = sorted(f for f in os.listdir(G.FACES_DIR) if f.endswith(".jpg"))
        xs = torch.cat([gr.preprocess(gr.load_rgb(os.path.join(G.FACES_DIR, f)), "mxnet") for f in files])
        r64 = gr.grafiqs(mf64, xs, gr.MOBILEFACENET_STAGES)
        r32 = gr.grafiqs(mf32, xs.float(), gr.MOBILEFACENET_STAGES)
        print(f"MobileFaceNet L_count (BatchNorm nodes with 4-D input) = {r64['bn_layers']} "
              f"of {len(mf64.bn_nodes())} BatchNorm nodes")
        worst = max(rel(r32["scores"][k], r64["scores"][k]) for k in gr.SCORE_KEYS)
        emb_abs = (r32["embedding"].double() - r64["embedding"]).abs().max().item()
        check("MobileFaceNet f32 vs f64 scores", worst < 1e-4,
              f"max rel {worst:.2e}, emb max abs {emb_abs:.2e}, loss rel {rel(r32['loss'], r64['loss']):.2e}")
        # batch vs single
        s0 = gr.grafiqs(mf64, xs[2:3], gr.MOBILEFACENET_STAGES)
        d = max(rel(r64["scores"][k][2], s0["scores"][k][0]) for k in gr.SCORE_KEYS)
        check("MobileFaceNet batch(7) == single", d < 1e-12, f"max rel {d:.2e}")
        # block4 = only conv_6sep_batchnorm + conv_6dw7_7_batchnorm downstream of _plus11
        _, recs, st = mf64.forward_collect(xs[2:3], gr.MOBILEFACENET_STAGES)
        worst = 0.0
        for k, sname in zip(gr.STAGE_KEYS, gr.MOBILEFACENET_STAGES):
            leaf = st[gr.MOBILEFACENET_STAGES.index(sname)].detach().clone().requires_grad_(True)
            _, recs2, _ = mf64.forward_collect(xs[2:3].detach(), (), overrides={sname: leaf})
            sid = mf64.name_to_id[sname]
            down = [r for r in recs2 if mf64.name_to_id[r[0]] > sid]
            part = sum(((a.mean((2, 3)) - rm) ** 2).mean() + ((a.var((2, 3), unbiased=False) - rv) ** 2).mean()
                       for _, a, rm, rv in down) / len(recs2)
            g = torch.autograd.grad(part, leaf)[0]
            worst = max(worst, ((g - s0["grads"][k]).abs().max() / g.abs().max()).item())
            if k == "block4":
                print("  BNs downstream of _plus11:", [r[0] for r in down])
        check("MobileFaceNet stage grads == downstream partial losses", worst < 1e-12, f"max rel {worst:.2e}")
        e = F.normalize(r64["embedding"], dim=1)
        cos = e @ e.T
        i2, i21 = files.index("2.jpg"), files.index("2_1.jpg")
        others = [cos[i2, j].item() for j in range(len(files)) if j not in (i2, i21)]
        print("  cosine similarity matrix:")
        print("  " + " ".join(f"{f[:10]:>10s}" for f in files))
        for i, f in enumerate(files):
            print("  " + " ".join(f"{cos[i, j].item():10.4f}" for j in range(len(files))) + f"  {f}")
        check("MobileFaceNet cos(2.jpg, 2_1.jpg) >> cos(2.jpg, others)",
              cos[i2, i21].item() > max(others) + 0.3,
              f"{cos[i2, i21].item():.4f} vs max other {max(others):.4f}")
    else:
        print("SKIP MobileFaceNet checks: assets not found")

    # ---- 6. fixtures ------------------------------------------------------------------------
    total = 0
    for f in sorted(os.listdir(G.FIXTURES)):
        p = os.path.join(G.FIXTURES, f)
        total += os.path.getsize(p)
        if f.endswith(".json"):
            with open(p) as fh:
                js = json.load(fh)
            ok = all(len(c["embedding"]) in (16, 128) and all(np.isfinite(list(c["scores"].values())))
                     for c in js["cases"])
            check(f"{f} valid", ok, f"{len(js['cases'])} cases, bn_layers {js['bn_layers']}, "
                  f"{os.path.getsize(p)} bytes")
    check("fixtures total < 1 MB", total < 1_000_000, f"{total} bytes")
    with open(os.path.join(G.FIXTURES, "tiny_expected.json")) as fh:
        js = json.load(fh)
    worst = 0.0
    for c in js["cases"]:
        x = gr.preprocess(gr.load_rgb(os.path.join(G.FIXTURES, c["file"])), "iresnet", bgr=c["bgr"])
        r = gr.grafiqs(m64, x)
        worst = max([worst] + [rel(r["scores"][k][0], c["scores"][k]) for k in gr.SCORE_KEYS])
    check("tiny_expected.json reproduces", worst < 1e-12, f"max rel {worst:.2e}")

    print("\nALL PASS" if not FAIL else f"\nFAILED: {FAIL}")
    sys.exit(1 if FAIL else 0)


if __name__ == "__main__":
    main()
