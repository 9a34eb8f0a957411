#!/usr/bin/env bash
# Builds the npm package into pkg/: the library compiled to wasm32 (size-optimised profile),
# bound with the pinned wasm-bindgen CLI, plus the files in pkg-config/.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=${CARGO_TARGET_DIR:-target}
out=${PKG_DIR:-pkg}
profile=${WASM_PROFILE:-wasm-release}

bind() {
  wasm-bindgen --target web --out-dir "$1" --out-name grafiqs_wasm \
    --remove-name-section --remove-producers-section --experimental-reset-state-function \
    "$target_dir/wasm32-unknown-unknown/$profile/grafiqs.wasm"
}
rm -rf "$out"
mkdir -p "$out"
# Two builds of the same code, which the package picks from at load time: with relaxed SIMD
# for this crate's kernels (fused multiply-add; Chrome/Edge 114+), and without. Only this crate
# gets the feature (`cargo rustc`): the dependencies are the same in both. Their JS glue must be
# identical, since the package ships one.
relaxed=$(mktemp -d)
trap 'rm -rf "$relaxed"' EXIT
cargo rustc --lib --target wasm32-unknown-unknown --no-default-features --features wgpu --profile "$profile" \
  -- -C target-feature=+relaxed-simd
bind "$relaxed"
cargo build --lib --target wasm32-unknown-unknown --no-default-features --features wgpu --profile "$profile"
bind "$out"
if ! cmp -s "$relaxed/grafiqs_wasm.js" "$out/grafiqs_wasm.js"; then
  echo "build-pkg: the two builds' JS glue differs" >&2
  exit 1
fi
mv "$relaxed/grafiqs_wasm_bg.wasm" "$out/grafiqs_wasm_relaxed_bg.wasm"
cp pkg-config/grafiqs.js pkg-config/grafiqs.d.ts pkg-config/worker.js pkg-config/worker-client.js \
   pkg-config/worker-client.d.ts pkg-config/capture-client.js pkg-config/capture-worker.js \
   pkg-config/capture-fields.js pkg-config/README.md LICENSE-MIT LICENSE-APACHE \
   models/mtcnn.grafiqs models/LICENSE.mtcnn \
   models/foamliu-mobilefacenet.grafiqs models/LICENSE.foamliu-mobilefacenet \
   models/NOTICE.foamliu-mobilefacenet "$out/"
version=$(awk -F'"' '/^version = /{print $2; exit}' Cargo.toml)
sed "s/@VERSION@/$version/" pkg-config/package.json > "$out/package.json"
for wasm in "$out/grafiqs_wasm_bg.wasm" "$out/grafiqs_wasm_relaxed_bg.wasm"; do
  printf 'pkg: %s (%s bytes, %s bytes gzipped)\n' "$wasm" "$(stat -c %s "$wasm")" "$(gzip -9c "$wasm" | wc -c)"
done
