# grafiqs — entry points. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO       ?= cargo
FEATURES    ?= wgpu
# Tests, benches and the CLI share one (release) build: Burn's kernels need optimisation and
# building a second profile would double a ~30 min cold build.
CARGO_FLAGS := --release --features $(FEATURES)
# Every target builds the binaries together with the examples: examples may use
# dev-dependencies, so Cargo then resolves features exactly as for `cargo test`, and `make demo`
# after `make test` (or the other way round) recompiles nothing. `--bin grafiqs` alone would
# resolve another feature set and rebuild Burn's crates.
BUILD       := $(CARGO) build $(CARGO_FLAGS) --bins --examples
BIN          = $(or $(CARGO_TARGET_DIR),target)/release/grafiqs

# `make score` inputs.
IMAGES   ?= ../shared/assets/faces/aligned-112
EXT      ?= jpg
OUT      ?= out
WEIGHTS  ?=
BACKBONE ?= iresnet100
MODEL    ?=
MFN      ?= ../shared/assets/models/insightface-mobilefacenet-y1
PORT     ?= 8080

.PHONY: help setup build demo example test test-native test-browser pkg score bench bench-browser soak-browser fmt lint fuzz

help:
	@echo "make demo    build and serve the demo site on http://127.0.0.1:$(PORT)"
	@echo "make example  build the package and run examples/web (a small Vite app) in the Vite dev server"
	@echo "make score   IMAGES=<dir>  score a folder of faces with the shipped model"
	@echo "             (or MODEL=<file.grafiqs>, or WEIGHTS=<ckpt> BACKBONE=<arch>; writes $(OUT)/GraFIQs_*.txt)"
	@echo "make pkg     build the npm package into pkg/"
	@echo "make test    install what is missing, then run every test"
	@echo "make bench   criterion benchmarks + the PyTorch comparison"
	@echo "make lint    rustfmt + clippy"
	@echo "make fuzz    longer seeded fuzzing: every loader and parser natively, the browser entry points"
	@echo "make soak-browser  1,000 frames through assessFrame in Chromium (memory every 100)"

setup:
	scripts/setup.sh

build: setup
	$(BUILD)

test: setup test-native pkg test-browser

test-native:
	$(CARGO) fmt --check
	$(CARGO) test $(CARGO_FLAGS)

# The npm package in pkg/ (wasm32 build, wasm-bindgen, pkg-config/ files).
pkg: setup
	scripts/build-pkg.sh

# Real Chromium via playwright-core: WebGPU + CPU parity, fallback, errors, worker, npm pack.
test-browser: setup
	$(BUILD)
	cd tests/browser && npm test

# The demo site on http://127.0.0.1:8080 (static files in www/, the package copied to www/pkg).
# When the shared test assets exist, their MobileFaceNet is converted into www/models/ (git-ignored,
# never committed) and offered in the model picker; the site works without it.
demo: pkg
	$(BUILD)
	rm -rf www/pkg && cp -r pkg www/pkg
	@if [ -f $(MFN)/model-0000.params ] && [ ! -f www/models/mobilefacenet.grafiqs ]; then \
	  mkdir -p www/models && $(BIN) convert --weights $(MFN)/model-0000.params --backbone mobilefacenet \
	    --out www/models/mobilefacenet.grafiqs --f16; fi
	node scripts/serve.mjs www $(PORT)

# examples/web, the small app to copy, on the package in pkg/ (Vite dev server, port 5173). The
# package is installed afresh (a copy: examples/web/.npmrc), and Vite pre-bundles it again.
example: pkg
	cd examples/web && rm -rf node_modules/grafiqs node_modules/.vite && npm install --no-audit --no-fund && npm run dev

# 1,000 frames through assessFrame() in Chromium: JS heap and wasm memory every 100 frames.
soak-browser: pkg
	$(BUILD)
	node scripts/soak-browser.mjs

bench-browser: pkg
	$(BUILD)
	node scripts/bench-browser.mjs

score: build
	$(BIN) score $(if $(MODEL),--model $(MODEL),$(if $(WEIGHTS),--weights $(WEIGHTS) --backbone $(BACKBONE),--model default)) \
	  --image-path $(IMAGES) --image-extension $(EXT) --output-dir $(OUT) --bgr2rgb

bench: setup
	scripts/bench.sh

# The seeded fuzz tests of `make test`, with many more mutations per input.
FUZZ_ITERS ?= 3000
BROWSER_FUZZ_N ?= 1500
fuzz: setup pkg
	GRAFIQS_FUZZ_ITERS=$(FUZZ_ITERS) $(CARGO) test $(CARGO_FLAGS) --test robustness -- --nocapture
	$(BUILD)
	cd tests/browser && GRAFIQS_FUZZ_N=$(BROWSER_FUZZ_N) node --test fuzz.test.mjs

fmt:
	$(CARGO) fmt

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy $(CARGO_FLAGS) --all-targets -- -D warnings
	$(CARGO) clippy --release --lib --target wasm32-unknown-unknown --no-default-features --features wgpu -- -D warnings
