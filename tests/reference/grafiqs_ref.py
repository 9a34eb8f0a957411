"""Independent PyTorch reference implementation of GraFIQs (see ../../../shared/docs/GRAFIQS.md).

Contents
--------
* ``IResNet``            -- iResNet with exactly the public checkpoint state-dict layout.
* ``load_mxnet_params``  -- from-scratch parser of MXNet ``*.params`` NDArray lists (numpy only).
* ``MXNetGraph``         -- a torch module interpreting an MXNet ``*-symbol.json`` graph.
* ``grafiqs``            -- GraFIQs scores (image, block1..block4), loss, L_count, embedding.
* preprocessing helpers  -- ``load_rgb``, ``resize112``, ``preprocess``.

Everything here is written for clarity, not speed. The reference numbers are computed in
float64 (``model.double()``, input in float64).

Nothing in this module copies anything from ../shared/assets into the repository: it only
reads those files at run time.
"""

from __future__ import annotations

import json
import struct
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

STAGE_KEYS = ("block1", "block2", "block3", "block4")
SCORE_KEYS = ("image",) + STAGE_KEYS

# MobileFaceNet (InsightFace MXNet "y1") stage outputs used as GraFIQs blocks (56, 28, 14, 7 px).
MOBILEFACENET_STAGES = ("conv_2_dw_relu", "_plus3", "_plus9", "_plus11")

IRESNET_CONFIGS = {
    "iresnet18": [2, 2, 2, 2],
    "iresnet34": [3, 4, 6, 3],
    "iresnet50": [3, 4, 14, 3],
    "iresnet100": [3, 13, 30, 3],
}
IRESNET_WIDTHS = [64, 128, 256, 512]


# ---------------------------------------------------------------------------------------------
# iResNet
# ---------------------------------------------------------------------------------------------
class IBasicBlock(nn.Module):
    """``bn1 -> conv1 3x3 s1 -> bn2 -> prelu -> conv2 3x3 (stride) -> bn3`` + identity/downsample."""

    def __init__(self, inplanes: int, planes: int, stride: int, downsample: Optional[nn.Module]):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes, eps=1e-5)
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes, eps=1e-5)
        self.prelu = nn.PReLU(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes, eps=1e-5)
        self.downsample = downsample

    def forward(self, x):
        out = self.bn1(x)
        out = self.conv1(out)
        out = self.bn2(out)
        out = self.prelu(out)
        out = self.conv2(out)
        out = self.bn3(out)
        identity = x if self.downsample is None else self.downsample(x)
        return out + identity


class IResNet(nn.Module):
    """iResNet for 112x112 inputs (stage outputs 56, 28, 14, 7 px).

    State-dict keys: ``conv1.weight``, ``bn1.*``, ``prelu.weight``, ``layerS.i.{bn1,conv1,bn2,
    prelu,conv2,bn3}.*``, ``layerS.0.downsample.{0.weight,1.*}``, ``bn2.*``, ``fc.{weight,bias}``,
    ``features.*``.
    """

    fc_scale = 7 * 7

    def __init__(self, blocks: Sequence[int] = (3, 4, 14, 3),
                 widths: Sequence[int] = (64, 128, 256, 512), embedding: int = 512):
        super().__init__()
        assert len(blocks) == 4 and len(widths) == 4
        self.blocks = list(blocks)
        self.widths = list(widths)
        self.embedding = embedding
        self.conv1 = nn.Conv2d(3, widths[0], 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0], eps=1e-5)
        self.prelu = nn.PReLU(widths[0])
        inplanes = widths[0]
        for s in range(4):
            planes = widths[s]
            layers = []
            for i in range(blocks[s]):
                if i == 0:
                    ds = nn.Sequential(
                        nn.Conv2d(inplanes, planes, 1, stride=2, bias=False),
                        nn.BatchNorm2d(planes, eps=1e-5),
                    )
                    layers.append(IBasicBlock(inplanes, planes, 2, ds))
                else:
                    layers.append(IBasicBlock(planes, planes, 1, None))
            setattr(self, f"layer{s + 1}", nn.Sequential(*layers))
            inplanes = planes
        self.bn2 = nn.BatchNorm2d(widths[3], eps=1e-5)
        self.fc = nn.Linear(widths[3] * self.fc_scale, embedding)
        self.features = nn.BatchNorm1d(embedding, eps=1e-5)
        nn.init.constant_(self.features.weight, 1.0)
        self.features.weight.requires_grad = False

    def forward(self, x):
        return self.forward_collect(x)[0]

    def forward_collect(self, x) -> Tuple[torch.Tensor, List[tuple], List[torch.Tensor]]:
        """Returns ``(embedding, bn_records, stage_outputs)``.

        ``bn_records``: ``(name, input, running_mean, running_var)`` for every BatchNorm2d in
        forward order (the inputs are live autograd tensors).
        """
        records: List[tuple] = []
        handles = []
        for name, m in self.named_modules():
            if isinstance(m, nn.BatchNorm2d):
                def hook(mod, inp, out, name=name):
                    records.append((name, inp[0], mod.running_mean, mod.running_var))
                handles.append(m.register_forward_hook(hook))
        try:
            x = self.prelu(self.bn1(self.conv1(x)))
            stages = []
            for s in range(4):
                x = getattr(self, f"layer{s + 1}")(x)
                stages.append(x)
            x = self.bn2(x)
            x = torch.flatten(x, 1)  # (C, H, W) order
            x = self.fc(x)
            emb = self.features(x)
        finally:
            for h in handles:
                h.remove()
        return emb, records, stages


def iresnet(name: str, embedding: int = 512) -> IResNet:
    return IResNet(IRESNET_CONFIGS[name], IRESNET_WIDTHS, embedding)


def count_bn2d(model: nn.Module) -> int:
    return sum(1 for m in model.modules() if isinstance(m, nn.BatchNorm2d))


# ---------------------------------------------------------------------------------------------
# MobileFaceNet with ReLU6 (PyTorch; the layout of the foamliu/MobileFaceNet state dict)
# ---------------------------------------------------------------------------------------------
MFN_RELU6_STAGES = ("dw_conv", "features.4", "features.11", "features.14")
MFN_RELU6_SETTINGS = ((2, 64, 5, 2), (4, 128, 1, 2), (2, 128, 6, 1), (4, 128, 1, 2), (2, 128, 2, 1))
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _conv_bn_act(cin, cout, k, stride, groups, act):
    layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU6())
    return nn.Sequential(*layers)


class _InvRes(nn.Module):
    """1x1 expand + BN + ReLU6, 3x3 depthwise (stride) + BN + ReLU6, 1x1 project + BN."""

    def __init__(self, cin, cout, stride, t):
        super().__init__()
        hidden = cin * t
        self.residual = stride == 1 and cin == cout
        layers = []
        if t != 1:
            layers.append(_conv_bn_act(cin, hidden, 1, 1, 1, True))
        layers += [_conv_bn_act(hidden, hidden, 3, stride, hidden, True),
                   nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        y = self.conv(x)
        return x + y if self.residual else y


class _DwSep(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.depthwise = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.pointwise = nn.Conv2d(c, c, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        x = F.relu(self.bn1(self.depthwise(x)))
        return F.relu(self.bn2(self.pointwise(x)))


class _GDConv(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.depthwise = nn.Conv2d(c, c, 7, groups=c, bias=False)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return self.bn(self.depthwise(x))


class MobileFaceNetReLU6(nn.Module):
    """MobileNetV2-style MobileFaceNet (ReLU6) with the foamliu/MobileFaceNet state-dict keys:
    ``conv1`` (3x3 s2) -> ``dw_conv`` -> ``features.0..14`` -> ``conv2`` (1x1, 512) ->
    ``gdconv`` (7x7 depthwise) -> ``conv3`` (1x1 with bias, 128) -> ``bn`` -> flatten.

    GraFIQs BN layers: every BatchNorm2d except the last ``bn`` (the 1x1 embedding map; the
    counterpart of iResNet's 1-D ``features`` BN) -- 50 layers."""

    def __init__(self):
        super().__init__()
        self.conv1 = _conv_bn_act(3, 64, 3, 2, 1, True)
        self.dw_conv = _DwSep(64)
        blocks, cin = [], 64
        for t, c, n, s in MFN_RELU6_SETTINGS:
            for i in range(n):
                blocks.append(_InvRes(cin, c, s if i == 0 else 1, t))
                cin = c
        self.features = nn.Sequential(*blocks)
        self.conv2 = _conv_bn_act(cin, 512, 1, 1, 1, True)
        self.gdconv = _GDConv(512)
        self.conv3 = nn.Conv2d(512, 128, 1, bias=True)
        self.bn = nn.BatchNorm2d(128)

    def forward(self, x):
        return self.forward_collect(x)[0]

    def forward_collect(self, x):
        records, handles = [], []
        for name, m in self.named_modules():
            if isinstance(m, nn.BatchNorm2d) and name != "bn":
                def hook(mod, inp, out, name=name):
                    records.append((name, inp[0], mod.running_mean, mod.running_var))
                handles.append(m.register_forward_hook(hook))
        try:
            stages = []
            x = self.dw_conv(self.conv1(x))
            stages.append(x)
            for i, block in enumerate(self.features):
                x = block(x)
                if f"features.{i}" in MFN_RELU6_STAGES:
                    stages.append(x)
            x = self.conv3(self.gdconv(self.conv2(x)))
            emb = torch.flatten(self.bn(x), 1)
        finally:
            for h in handles:
                h.remove()
        return emb, records, stages


# ---------------------------------------------------------------------------------------------
# MXNet params / symbol
# ---------------------------------------------------------------------------------------------
_MX_DTYPES = {0: np.float32, 1: np.float64, 2: np.float16, 3: np.uint8, 4: np.int32,
              5: np.int8, 6: np.int64}
_NDARRAY_V1 = 0xF993FAC8
_NDARRAY_V2 = 0xF993FAC9
_NDARRAY_V3 = 0xF993FACA


def load_mxnet_params(path: str) -> Dict[str, np.ndarray]:
    """Parses an MXNet NDArray-list file (``model-0000.params``) into ``{name: ndarray}``.

    Names keep their ``arg:`` / ``aux:`` prefix. Dense storage only.
    """
    with open(path, "rb") as f:
        buf = f.read()
    pos = 0

    def take(fmt):
        nonlocal pos
        vals = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return vals

    magic, _reserved = take("QQ")
    if magic != 0x112:
        raise ValueError(f"not an MXNet NDArray list (magic {magic:#x})")
    (count,) = take("Q")
    arrays = []
    for _ in range(count):
        (amagic,) = take("I")
        if amagic in (_NDARRAY_V2, _NDARRAY_V3):
            (stype,) = take("i")
            if stype != 0:
                raise ValueError(f"sparse storage type {stype} not supported")
        elif amagic != _NDARRAY_V1:
            raise ValueError(f"unsupported NDArray magic {amagic:#x}")
        (ndim,) = take("I")
        if amagic == _NDARRAY_V3 and ndim == 0xFFFFFFFF:
            raise ValueError("unknown-shape NDArray")
        shape = take(f"{ndim}q") if ndim else ()
        if ndim == 0 and amagic != _NDARRAY_V3:
            arrays.append(np.zeros((0,), np.float32))  # "none" array: nothing more stored
            continue
        _dev_type, _dev_id, dflag = take("iii")
        dtype = np.dtype(_MX_DTYPES[dflag]).newbyteorder("<")
        n = int(np.prod(shape)) if shape else 1
        arr = np.frombuffer(buf, dtype=dtype, count=n, offset=pos).reshape(shape).copy()
        pos += n * dtype.itemsize
        arrays.append(arr)
    (nnames,) = take("Q")
    names = []
    for _ in range(nnames):
        (ln,) = take("Q")
        names.append(buf[pos:pos + ln].decode("utf-8"))
        pos += ln
    if nnames != count:
        raise ValueError(f"{count} arrays but {nnames} names")
    if pos != len(buf):
        raise ValueError(f"{len(buf) - pos} trailing bytes")
    return dict(zip(names, arrays))


def _tuple_attr(s: str, default):
    if s is None:
        return default
    s = s.strip().strip("()[]")
    return tuple(int(v) for v in s.split(",") if v.strip())


def _bool_attr(s: Optional[str], default: bool) -> bool:
    if s is None:
        return default
    return s.strip().lower() in ("true", "1")


class MXNetGraph(nn.Module):
    """Interprets an MXNet symbol graph in PyTorch (inference semantics).

    The leading chain of ``_minus_scalar`` / ``_mul_scalar`` nodes applied to ``data`` is the
    model's input normalisation. ``forward``/``forward_collect`` take the NORMALISED tensor (the
    one entering the first Convolution); ``normalise`` applies that leading chain.
    """

    SUPPORTED = {"null", "_minus_scalar", "_mul_scalar", "_plus_scalar", "_div_scalar",
                 "Convolution", "BatchNorm", "LeakyReLU", "Activation", "elemwise_add",
                 "_Plus", "FullyConnected", "Flatten", "Dropout"}

    def __init__(self, symbol_path: str, params_path: str):
        super().__init__()
        with open(symbol_path) as f:
            sym = json.load(f)
        self.nodes = sym["nodes"]
        self.heads = sym["heads"]
        raw = load_mxnet_params(params_path)
        self.params = {}
        for k, v in raw.items():
            name = k.split(":", 1)[1] if ":" in k else k
            self.params[name] = v
        self.tensors = nn.ParameterDict()  # parameters, stored under sanitised names
        self._pname = {}
        for i, n in enumerate(self.nodes):
            if n["op"] not in self.SUPPORTED:
                raise NotImplementedError(f"MXNet op {n['op']} ({n['name']})")
            if n["op"] == "null" and n["name"] in self.params:
                key = f"p{i}"
                self.tensors[key] = nn.Parameter(torch.from_numpy(self.params[n["name"]]),
                                                 requires_grad=False)
                self._pname[i] = key
        # leading normalisation chain
        self.input_id = next(i for i, n in enumerate(self.nodes)
                             if n["op"] == "null" and n["name"] == "data")
        self.norm_chain: List[Tuple[str, float]] = []
        cur = self.input_id
        self._chain_ids = {self.input_id}
        while True:
            consumers = [i for i, n in enumerate(self.nodes)
                         if any(inp[0] == cur for inp in n["inputs"])]
            if len(consumers) != 1:
                break
            c = self.nodes[consumers[0]]
            if c["op"] not in ("_minus_scalar", "_mul_scalar", "_plus_scalar", "_div_scalar"):
                break
            self.norm_chain.append((c["op"], float(self._attrs(c)["scalar"])))
            cur = consumers[0]
            self._chain_ids.add(cur)
        self.norm_out_id = cur  # node whose output is the normalised image
        self.name_to_id = {n["name"]: i for i, n in enumerate(self.nodes)}

    @staticmethod
    def _attrs(n) -> dict:
        return n.get("attrs", n.get("attr", n.get("param", {}))) or {}

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        for op, s in self.norm_chain:
            if op == "_minus_scalar":
                x = x - s
            elif op == "_mul_scalar":
                x = x * s
            elif op == "_plus_scalar":
                x = x + s
            elif op == "_div_scalar":
                x = x / s
        return x

    def bn_nodes(self) -> List[str]:
        return [n["name"] for n in self.nodes if n["op"] == "BatchNorm"]

    def forward(self, x):
        return self.forward_collect(x)[0]

    def forward_collect(self, x: torch.Tensor, stage_names: Sequence[str] = (),
                        overrides: Optional[Dict[str, torch.Tensor]] = None):
        """Runs the graph from the normalised input ``x``.

        Returns ``(head_output, bn_records, stage_outputs)`` with ``bn_records`` holding
        ``(name, input, moving_mean, moving_var)`` for every BatchNorm whose input is 4-D, in
        graph order. ``overrides`` replaces named node outputs (used by the self-checks to cut
        the graph at a stage output).
        """
        overrides = overrides or {}
        vals: Dict[int, torch.Tensor] = {self.norm_out_id: x}
        records = []
        for i, n in enumerate(self.nodes):
            if i in vals or i in self._chain_ids:
                continue
            op = n["op"]
            if op == "null":
                if i in self._pname:
                    vals[i] = self.tensors[self._pname[i]]
                continue
            a = self._attrs(n)
            ins = [vals[j[0]] for j in n["inputs"]]
            if op == "_minus_scalar":
                y = ins[0] - float(a["scalar"])
            elif op == "_plus_scalar":
                y = ins[0] + float(a["scalar"])
            elif op == "_mul_scalar":
                y = ins[0] * float(a["scalar"])
            elif op == "_div_scalar":
                y = ins[0] / float(a["scalar"])
            elif op == "Convolution":
                kernel = _tuple_attr(a.get("kernel"), None)
                stride = _tuple_attr(a.get("stride"), (1,) * len(kernel)) or (1,) * len(kernel)
                pad = _tuple_attr(a.get("pad"), (0,) * len(kernel)) or (0,) * len(kernel)
                dil = _tuple_attr(a.get("dilate"), (1,) * len(kernel)) or (1,) * len(kernel)
                groups = int(a.get("num_group", "1"))
                no_bias = _bool_attr(a.get("no_bias"), False)
                w = ins[1]
                assert tuple(w.shape[2:]) == tuple(kernel), (n["name"], w.shape, kernel)
                assert w.shape[0] == int(a["num_filter"])
                b = None if no_bias else ins[2]
                y = F.conv2d(ins[0], w, b, stride=stride, padding=pad, dilation=dil,
                             groups=groups)
            elif op == "BatchNorm":
                eps = float(a.get("eps", "0.001"))
                fix_gamma = _bool_attr(a.get("fix_gamma"), True)
                assert int(a.get("axis", "1")) == 1
                xin, gamma, beta, mean, var = ins
                if fix_gamma:
                    gamma = torch.ones_like(gamma)
                if xin.dim() == 4:
                    records.append((n["name"], xin, mean, var))
                shape = (1, -1) + (1,) * (xin.dim() - 2)
                y = (xin - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps)
                y = y * gamma.reshape(shape) + beta.reshape(shape)
            elif op == "LeakyReLU":
                act = a.get("act_type", "leaky")
                if act == "prelu":
                    g = ins[1].reshape((1, -1) + (1,) * (ins[0].dim() - 2))
                    y = torch.where(ins[0] > 0, ins[0], ins[0] * g)
                elif act == "leaky":
                    y = F.leaky_relu(ins[0], float(a.get("slope", "0.25")))
                else:
                    raise NotImplementedError(f"LeakyReLU act_type={act}")
            elif op == "Activation":
                act = a["act_type"]
                y = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}[act](ins[0])
            elif op in ("elemwise_add", "_Plus"):
                y = ins[0] + ins[1]
            elif op == "FullyConnected":
                no_bias = _bool_attr(a.get("no_bias"), False)
                flatten = _bool_attr(a.get("flatten"), True)
                xin = ins[0].flatten(1) if flatten else ins[0]
                y = F.linear(xin, ins[1], None if no_bias else ins[2])
                assert y.shape[-1] == int(a["num_hidden"])
            elif op == "Flatten":
                y = ins[0].flatten(1)
            elif op == "Dropout":
                y = ins[0]
            else:  # pragma: no cover
                raise NotImplementedError(op)
            if n["name"] in overrides:
                y = overrides[n["name"]]
            vals[i] = y
        head = vals[self.heads[0][0]]
        stages = [vals[self.name_to_id[s]] for s in stage_names]
        return head, records, stages


# ---------------------------------------------------------------------------------------------
# GraFIQs
# ---------------------------------------------------------------------------------------------
def _collect(model, x, stage_names):
    if isinstance(model, MXNetGraph):
        return model.forward_collect(x, stage_names or MOBILEFACENET_STAGES)
    return model.forward_collect(x)


def bn_loss_per_sample(records) -> Tuple[torch.Tensor, int]:
    """Per-sample GraFIQs loss (shape (N,)) from ``(name, input, running_mean, running_var)``."""
    total = None
    for _name, a, rm, rv in records:
        mu = a.mean(dim=(2, 3))                      # (N, C)
        var = a.var(dim=(2, 3), unbiased=False)      # (N, C), biased
        term = ((mu - rm) ** 2).mean(dim=1) + ((var - rv) ** 2).mean(dim=1)
        total = term if total is None else total + term
    L = len(records)
    return total / L, L


def grafiqs(model: nn.Module, x_norm: torch.Tensor, stage_names: Sequence[str] = ()):
    """GraFIQs for a batch of normalised images ``x_norm`` (N, 3, 112, 112).

    Statistics are taken per sample, so the batch result equals scoring each image alone.
    Returns a dict with ``scores`` ({key: tensor (N,)}), ``loss`` (N,), ``bn_layers`` (int),
    ``embedding`` (N, D; raw, not L2-normalised), ``grads`` ({key: tensor}).
    """
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    x = x_norm.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        emb, records, stages = _collect(model, x, stage_names)
        loss, L = bn_loss_per_sample(records)
        grads = torch.autograd.grad(loss.sum(), [x] + list(stages))
    scores = {k: g.abs().flatten(1).sum(1).detach() for k, g in zip(SCORE_KEYS, grads)}
    return {
        "scores": scores,
        "loss": loss.detach(),
        "bn_layers": L,
        "embedding": emb.detach(),
        "grads": dict(zip(SCORE_KEYS, [g.detach() for g in grads])),
        "bn_names": [r[0] for r in records],
    }


# ---------------------------------------------------------------------------------------------
# Preprocessing
# ---------------------------------------------------------------------------------------------
def load_rgb(path: str) -> np.ndarray:
    """Decodes an image with PIL to an (H, W, 3) uint8 RGB array."""
    from PIL import Image
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def resize112(x01: torch.Tensor) -> torch.Tensor:
    """Resizes (N, 3, H, W) float images in [0, 1] to 112x112 like the official tool
    (bilinear, antialiased, align_corners=False); no-op if already 112x112."""
    if tuple(x01.shape[-2:]) == (112, 112):
        return x01
    return F.interpolate(x01, size=(112, 112), mode="bilinear", align_corners=False,
                         antialias=True)


def preprocess(img_u8: np.ndarray, norm: str = "iresnet", bgr: bool = False,
               dtype=torch.float64) -> torch.Tensor:
    """(H, W, 3) uint8 RGB -> (1, 3, 112, 112) normalised tensor.

    ``norm='iresnet'``: ``(x/255 - 0.5)/0.5``; ``norm='mxnet'``: ``(x - 127.5) * 0.0078125``; ``norm='imagenet'``: ``(x/255 - mean)/std``
    with the ImageNet mean and std (RGB).
    ``bgr=True`` reverses the channel order (what the official CLI feeds the network when
    ``--bgr2rgb`` is NOT given, since OpenCV decodes to BGR).
    """
    if norm not in ("iresnet", "mxnet", "imagenet"):
        raise ValueError(norm)
    x = torch.from_numpy(np.ascontiguousarray(img_u8)).to(dtype).permute(2, 0, 1)[None]
    if bgr:
        x = x.flip(1)
    if norm == "imagenet":
        x01 = resize112(x / 255.0)
        mean = torch.tensor(IMAGENET_MEAN, dtype=dtype).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, dtype=dtype).view(1, 3, 1, 1)
        return (x01 - mean) / std
    if tuple(x.shape[-2:]) == (112, 112):
        # no resize: normalise the integer pixel values directly
        if norm == "iresnet":
            return (x / 255.0 - 0.5) / 0.5
        return (x - 127.5) * 0.0078125
    x01 = resize112(x / 255.0)
    if norm == "iresnet":
        return (x01 - 0.5) / 0.5
    return (x01 * 255.0 - 127.5) * 0.0078125
