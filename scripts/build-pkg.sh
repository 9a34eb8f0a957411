#!/usr/bin/env bash
# Builds the npm package into pkg/: the library compiled to wasm32 (size-optimised profile),
# bound with the pinned wasm-bindgen CLI, plus the files in pkg-config/.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=${CARGO_TARGET_DIR:-target}
out=${PKG_DIR:-pkg}
profile=${WASM_PROFILE:-wasm-release}

cargo build --lib --target wasm32-unknown-unknown --no-default-features --features wgpu --profile "$profile"
rm -rf "$out"
mkdir -p "$out"
wasm-bindgen --target web --out-dir "$out" --out-name grafiqs_wasm \
  --remove-name-section --remove-producers-section --experimental-reset-state-function \
  "$target_dir/wasm32-unknown-unknown/$profile/grafiqs.wasm"
cp pkg-config/grafiqs.js pkg-config/grafiqs.d.ts pkg-config/worker.js pkg-config/worker-client.js \
   pkg-config/worker-client.d.ts pkg-config/capture-client.js pkg-config/capture-worker.js \
   pkg-config/capture-fields.js pkg-config/README.md LICENSE-MIT LICENSE-APACHE \
   models/mtcnn.grafiqs models/LICENSE.mtcnn \
   models/foamliu-mobilefacenet.grafiqs models/LICENSE.foamliu-mobilefacenet \
   models/NOTICE.foamliu-mobilefacenet "$out/"
version=$(awk -F'"' '/^version = /{print $2; exit}' Cargo.toml)
sed "s/@VERSION@/$version/" pkg-config/package.json > "$out/package.json"
wasm="$out/grafiqs_wasm_bg.wasm"
printf 'pkg: %s (wasm %s bytes, %s bytes gzipped)\n' "$out" "$(stat -c %s "$wasm")" "$(gzip -9c "$wasm" | wc -c)"
