#!/usr/bin/env python3
"""Converts the MTCNN weights shipped in the facenet-pytorch wheel to `models/mtcnn.grafiqs`.

    pip install --no-deps facenet-pytorch        # the weights only; torch must be installed
    python3 tests/reference/convert_mtcnn.py     # writes models/mtcnn.grafiqs

Reads `facenet_pytorch/data/{pnet,rnet,onet}.pt` (plain `state_dict`s, MIT licence) and writes
them, unchanged and in f32, into the project's tensor container (see `src/model/container.rs`):

    magic b"GRAFIQS\\0" | u32 version 1 | u32 flags 0 | u64 header length | JSON header
    | data section (each tensor 4-byte aligned, little-endian) | u32 CRC-32 of all preceding bytes

Tensor names are `pnet.<key>`, `rnet.<key>`, `onet.<key>` with the state-dict keys
(`conv1.weight`, `prelu1.weight`, `dense4.weight`, ...), in sorted order. The output is
deterministic: re-running it reproduces the committed file byte for byte.
"""

import argparse
import hashlib
import json
import os
import struct
import sys
import zlib
from importlib import metadata

import numpy as np
import torch

NETS = ("pnet", "rnet", "onet")


def package_dir():
    # Locate the package without importing it (its __init__ pulls in optional dependencies).
    dist = metadata.distribution("facenet-pytorch")
    for f in dist.files:
        if str(f).replace("\\", "/").endswith("facenet_pytorch/data/pnet.pt"):
            return os.path.dirname(os.path.dirname(str(dist.locate_file(f)))), dist.version
    sys.exit("facenet-pytorch is installed without its data/pnet.pt")


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(root, "models", "mtcnn.grafiqs"))
    args = ap.parse_args()

    pkg, version = package_dir()
    tensors = {}
    sha = {}
    for net in NETS:
        path = os.path.join(pkg, "data", f"{net}.pt")
        with open(path, "rb") as f:
            sha[f"{net}.pt"] = hashlib.sha256(f.read()).hexdigest()
        sd = torch.load(path, map_location="cpu", weights_only=True)
        for key, value in sd.items():
            arr = value.detach().cpu().numpy().astype("<f4")
            if not np.isfinite(arr).all():
                sys.exit(f"{net}.{key} holds non-finite values")
            tensors[f"{net}.{key}"] = arr

    data = bytearray()
    table = []
    for name in sorted(tensors):
        arr = tensors[name]
        while len(data) % 4:
            data.append(0)
        offset = len(data)
        data += np.ascontiguousarray(arr).tobytes()
        table.append(
            {
                "name": name,
                "shape": list(arr.shape),
                "dtype": "f32",
                "offset": offset,
                "length": len(data) - offset,
            }
        )

    header = {
        "kind": "detector",
        "architecture": "mtcnn",
        "provenance": {
            "source": f"facenet-pytorch {version} data/{{p,r,o}}net.pt",
            "sha256": sha,
            "licence": "MIT (facenet-pytorch)",
        },
        "tensors": table,
    }
    hbytes = json.dumps(header, separators=(",", ":"), sort_keys=True).encode("utf-8")
    out = bytearray()
    out += b"GRAFIQS\0"
    out += struct.pack("<IIQ", 1, 0, len(hbytes))
    out += hbytes
    out += data
    out += struct.pack("<I", zlib.crc32(bytes(out)) & 0xFFFFFFFF)

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "wb") as f:
        f.write(out)
    print(f"wrote {args.out}: {len(out)} bytes, {len(table)} tensors, "
          f"{sum(a.size for a in tensors.values())} parameters (facenet-pytorch {version})")


if __name__ == "__main__":
    main()
