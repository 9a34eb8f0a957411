# grafiqs — entry points. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO       ?= cargo
FEATURES    ?= wgpu
# Tests, benches and the CLI share one (release) build: Burn's kernels need optimisation and
# building a second profile would double a ~30 min cold build.
CARGO_FLAGS := --release --features $(FEATURES)
BIN          = $(or $(CARGO_TARGET_DIR),target)/release/grafiqs

# `make score` inputs.
IMAGES   ?= ../shared/assets/faces/aligned-112
EXT      ?= jpg
OUT      ?= out
WEIGHTS  ?=
BACKBONE ?= iresnet100
MODEL    ?=

.PHONY: help setup build test test-native test-wasm test-browser pkg score bench fmt lint

help:
	@echo "make score   WEIGHTS=<ckpt> BACKBONE=<arch> IMAGES=<dir>  score a folder of faces"
	@echo "             (or MODEL=<file.grafiqs>; writes $(OUT)/GraFIQs_*.txt)"
	@echo "make pkg     build the npm package into pkg/"
	@echo "make test    install what is missing, then run every test"
	@echo "make bench   criterion benchmarks + the PyTorch comparison"
	@echo "make lint    rustfmt + clippy"

setup:
	scripts/setup.sh

build: setup
	$(CARGO) build $(CARGO_FLAGS) --bin grafiqs

test: setup test-native pkg test-browser

test-native:
	$(CARGO) test $(CARGO_FLAGS)

# The npm package in pkg/ (wasm32 build, wasm-bindgen, pkg-config/ files).
pkg: setup
	scripts/build-pkg.sh

# Real Chromium via playwright-core: WebGPU + CPU parity, fallback, errors, worker, npm pack.
test-browser: setup
	$(CARGO) build $(CARGO_FLAGS) --bin grafiqs
	cd tests/browser && npm test

score: build
	@if [ -z "$(MODEL)$(WEIGHTS)" ]; then \
	  echo "give MODEL=<file.grafiqs> or WEIGHTS=<checkpoint> BACKBONE=<arch> (pretrained weights are not bundled: see README)"; exit 2; fi
	$(BIN) score $(if $(MODEL),--model $(MODEL),--weights $(WEIGHTS) --backbone $(BACKBONE)) \
	  --image-path $(IMAGES) --image-extension $(EXT) --output-dir $(OUT) --bgr2rgb

bench: setup
	scripts/bench.sh

fmt:
	$(CARGO) fmt

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy $(CARGO_FLAGS) --all-targets -- -D warnings
