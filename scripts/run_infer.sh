#!/usr/bin/env bash
# Sample from a run folder, a Generator*.ckpt or an exported .mindir: bash scripts/run_infer.sh SOURCE [infer.py flags]
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: bash scripts/run_infer.sh RUN_FOLDER|GENERATOR_CKPT|GRAPH_MINDIR [infer.py flags]" >&2
  exit 2
fi
repo="$(cd "$(dirname "$0")/.." && pwd)"
source="$1"; shift
if [ -f "$source" ]; then
  case "$source" in
    *.mindir) exec python "$repo/infer.py" --mindir "$source" "$@" ;;  # a graph written by export.py
    *) exec python "$repo/infer.py" --ckpt "$source" "$@" ;;
  esac
fi
exec python "$repo/infer.py" --run "$source" "$@"
