#!/usr/bin/env bash
# Installs everything the build and the tests need on a fresh Debian machine with rustup,
# cargo, node and npm. Idempotent: each step is skipped when already satisfied.
#   scripts/setup.sh            native + wasm + browser-test toolchain
#   SETUP_SKIP_BROWSER=1 ...    without Chromium / npm packages
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

# 1. Debian packages: Mesa's software Vulkan driver (lavapipe) for native wgpu, Chromium for
#    the browser tests.
pkgs=(mesa-vulkan-drivers)
[ "${SETUP_SKIP_BROWSER:-0}" = 1 ] || pkgs+=(chromium)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  sudo_ apt-get install -y -q "${missing[@]}" || { sudo_ apt-get update -q && sudo_ apt-get install -y -q "${missing[@]}"; }
fi

# 2. Rust: the wasm32 target.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding rustup target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# 3. wasm-bindgen CLI pinned to the wasm-bindgen version in Cargo.lock.
want=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
if [ -n "$want" ]; then
  have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
  if [ "$have" != "$want" ]; then
    log "installing wasm-bindgen-cli $want (found: ${have:-none})"
    cargo install -q wasm-bindgen-cli --version "$want" --force
  fi
fi

# 4. npm packages for the browser tests (playwright-core drives Debian's chromium).
if [ "${SETUP_SKIP_BROWSER:-0}" != 1 ] && [ -f tests/browser/package.json ]; then
  if [ ! -d tests/browser/node_modules ] || [ tests/browser/package-lock.json -nt tests/browser/node_modules ]; then
    log "installing npm packages for the browser tests"
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
log "ready"
