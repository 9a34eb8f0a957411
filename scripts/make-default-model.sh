#!/usr/bin/env bash
# Rebuilds models/foamliu-mobilefacenet.grafiqs, the model the package ships, from the
# Apache-2.0 PyTorch checkpoint in ../shared/assets (never committed itself):
#   1. convert the legacy torch.save state dict (backbone mobilefacenet-relu6) to f16;
#   2. calibrate the score -> quality map on the clean reference faces (the 12 colour LFW faces
#      aligned with their landmarks, and the 7 aligned faces), scored with the f16 weights.
# Deterministic: the same inputs give the same file.
set -euo pipefail
cd "$(dirname "$0")/.."
assets=${GRAFIQS_ASSETS:-../shared/assets}
src="$assets/models/foamliu-mobilefacenet/mobilefacenet.pt"
bin="${CARGO_TARGET_DIR:-target}/release/grafiqs"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" convert --weights "$src" --backbone mobilefacenet-relu6 --f16 \
  --name foamliu-mobilefacenet \
  --licence "Apache-2.0 (foamliu/MobileFaceNet, commit a6cc9032a659b615f477833e1a70b5e7931bcccc); converted; trained on a refined MS-Celeb-1M, a withdrawn research data set" \
  --out "$tmp/converted.grafiqs"
"$bin" calibrate --model "$tmp/converted.grafiqs" --f16 \
  --faces "$assets/faces/lfw-colour" --images "$assets/faces/aligned-112" \
  --out models/foamliu-mobilefacenet.grafiqs
"$bin" inspect models/foamliu-mobilefacenet.grafiqs
