#!/usr/bin/env bash
# Sample from a run folder or a Generator*.ckpt: bash scripts/run_infer.sh RUN_OR_CKPT [infer.py flags]
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: bash scripts/run_infer.sh RUN_FOLDER|GENERATOR_CKPT [infer.py flags]" >&2
  exit 2
fi
repo="$(cd "$(dirname "$0")/.." && pwd)"
source="$1"; shift
if [ -f "$source" ]; then
  exec python "$repo/infer.py" --ckpt "$source" "$@"
fi
exec python "$repo/infer.py" --run "$source" "$@"
