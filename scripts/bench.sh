#!/usr/bin/env bash
# Native performance, measured (not asserted): criterion benches of the Rust CPU path, the same
# computation in PyTorch on this machine in the same run, the ratio table, and peak memory.
# Needs python3 with torch (pip install torch numpy pillow) for the PyTorch side.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=${CARGO_TARGET_DIR:-target}
out=${BENCH_OUT:-.bench}
mkdir -p "$out"
echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
cargo bench --features wgpu --bench scoring --bench detect -- --noplot 2>&1 | tee "$out/criterion.txt"
if python3 -c 'import torch' 2>/dev/null; then
  python3 tests/reference/bench_torch.py --reps 10 --json "$out/torch.json"
  python3 scripts/bench_report.py "$target_dir/criterion" "$out/torch.json" | tee "$out/report.md"
else
  echo "python3 with torch not found: PyTorch comparison skipped"
fi
cargo build --release --features wgpu --example peak_memory
for b in 1 8; do "$target_dir/release/examples/peak_memory" iresnet50 $b; done | tee "$out/memory.txt"
