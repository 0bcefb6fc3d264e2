#!/usr/bin/env bash
# Data-parallel training on N workers of this machine, started by MindSpore's launcher msrun:
#   bash scripts/run_distribute_train.sh N [train.py flags]
# e.g. bash scripts/run_distribute_train.sh 8 --device Ascend --data . --download
#      bash scripts/run_distribute_train.sh 2 --resume runs/mlp-20261123-101500
# --batch-size is each worker's batch (the global batch is N times larger). Ctrl-C stops every worker after
# the same step and saves the run, as in a single process. Worker 0 writes the run
# folder; every worker's output goes to MSGAN_LOG_DIR (default msrun_logs/<time>), and worker 0's
# is shown here. MSGAN_MASTER_PORT (default 8118) is the port msrun's scheduler listens on.
set -euo pipefail
if [ $# -lt 1 ] || ! [[ "$1" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: bash scripts/run_distribute_train.sh N [train.py flags]  (N: the number of workers, at least 1)" >&2
  exit 2
fi
workers="$1"; shift
repo="$(cd "$(dirname "$0")/.." && pwd)"
if ! command -v msrun >/dev/null; then
  echo "msrun not found: it comes with MindSpore; activate the environment where you installed requirements.txt" >&2
  exit 2
fi
# msrun starts each worker as `python train.py …`: the python beside msrun has MindSpore and msgan's requirements.
PATH="$(dirname "$(command -v msrun)"):$PATH"
log_dir="${MSGAN_LOG_DIR:-msrun_logs/$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$log_dir"
export GLOG_v="${GLOG_v:-3}"  # MindSpore's C++ log: errors only, not the cluster's start-up warnings
# msrun answers Ctrl-C by killing its workers at once (SIGKILL). So it runs in a session of its own, out of
# the terminal's reach, and a Ctrl-C or SIGTERM to this script becomes a SIGTERM to each worker: they finish
# their current steps together, worker 0 saves the run, and it prints the command that resumes it.
setsid msrun --worker_num="$workers" --local_worker_num="$workers" --master_addr=127.0.0.1 \
  --master_port="${MSGAN_MASTER_PORT:-8118}" --log_dir="$log_dir" --join=True --tail_worker_log=0 \
  "$repo/train.py" --distribute "$@" 2>"$log_dir/msrun_stderr.log" &
msrun_pid=$!
stop_workers() { pkill -TERM -P "$msrun_pid" -f "train.py --distribute" || true; }
trap stop_workers INT TERM
status=0
while kill -0 "$msrun_pid" 2>/dev/null; do
  wait "$msrun_pid" && status=0 || status=$?  # a trapped signal ends the wait early: wait again
done
if [ "$status" -ne 0 ]; then
  # A run stopped on request ends here too, saved: worker 0's last line above says which it was.
  echo "msgan: msrun exited with status $status; worker 0's output is above, every worker's log is in $log_dir" >&2
fi
exit "$status"
