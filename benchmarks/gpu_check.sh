#!/usr/bin/env bash
# One training step of every full-profile notebook at real model sizes, capped at 15 GiB (a free Colab T4),
# in fp16 (what a T4 gets) and bf16 (what an A100 gets). Needs a CUDA GPU, no hub access. Writes JSON:
#   bash benchmarks/gpu_check.sh [OUT.json] [gpu_check.py options]      (default OUT: gpu_check.json)
# Without a GPU: bash benchmarks/gpu_check.sh OUT.json --cpu-tiny  (every step at tiny shapes, seconds).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-gpu_check.json}"
shift || true
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec "${PYTHON:-python}" benchmarks/gpu_check.py --out "$out" "$@"
