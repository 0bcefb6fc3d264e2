#!/usr/bin/env bash
# Train on one device, as in MindSpore's model zoo: bash scripts/run_standalone_train.sh [train.py flags]
# e.g. bash scripts/run_standalone_train.sh --device Ascend --data . --download --epochs 12
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
exec python "$repo/train.py" "$@"
