#!/usr/bin/env bash
# Data-parallel training on N workers of this machine, started by MindSpore's launcher msrun:
#   bash scripts/run_distribute_train.sh N [train.py flags]
# e.g. bash scripts/run_distribute_train.sh 8 --device Ascend --data . --download
#      bash scripts/run_distribute_train.sh 2 --resume runs/mlp-20261123-101500
# --batch-size is each worker's batch (the global batch is N times larger). Ctrl-C stops every worker after
# the same step and saves the run, as in a single process. Worker 0 writes the run folder, and its
# output is shown here; every worker's log goes into the run folder, RUN/msrun_logs/<time>/, once msrun
# has finished (MSGAN_LOG_DIR=DIR keeps them in DIR instead). MSGAN_MASTER_PORT (default 8118) is the
# port msrun's scheduler listens on.
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
stamp="$(date +%Y%m%d-%H%M%S)"
if [ -n "${MSGAN_LOG_DIR:-}" ]; then
  log_dir="$MSGAN_LOG_DIR"; mkdir -p "$log_dir"
else  # until worker 0 says where the run folder is (MSGAN_RUN_FILE), the logs wait in a folder of their own
  log_dir="$(mktemp -d "${TMPDIR:-/tmp}/msgan-msrun-XXXXXX")"
fi
export MSGAN_RUN_FILE="$log_dir/run_folder"
export GLOG_v="${GLOG_v:-3}"  # MindSpore's C++ log: errors only, not the cluster's start-up warnings
# msrun answers Ctrl-C by killing its workers at once (SIGKILL). So it runs in a session of its own, out of
# the terminal's reach, and a Ctrl-C or SIGTERM to this script becomes a SIGTERM to each worker: they finish
# their current steps together, worker 0 saves the run, and it prints the command that resumes it.
# What msrun shows (worker 0's output) passes through a filter that keeps MindSpore's own log lines, such as
# the "[INFO] DISTRIBUTED …" lines a worker prints as it exits, in the logs only. The filter ignores the
# signals, so that it passes on the workers' last lines after a Ctrl-C.
shown="$log_dir/.shown"
mkfifo "$shown"
(trap '' INT TERM; exec grep --line-buffered -vE '^\[(DEBUG|INFO|WARNING|ERROR)\] [A-Z_]+\(' <"$shown") &
filter_pid=$!
setsid msrun --worker_num="$workers" --local_worker_num="$workers" --master_addr=127.0.0.1 \
  --master_port="${MSGAN_MASTER_PORT:-8118}" --log_dir="$log_dir" --join=True --tail_worker_log=0 \
  "$repo/train.py" --distribute "$@" >"$shown" 2>"$log_dir/msrun_stderr.log" &
msrun_pid=$!
stop_workers() { pkill -TERM -P "$msrun_pid" -f "train.py --distribute" || true; }
trap stop_workers INT TERM
status=0
while kill -0 "$msrun_pid" 2>/dev/null; do
  wait "$msrun_pid" && status=0 || status=$?  # a trapped signal ends the wait early: wait again
done
wait "$filter_pid" || true  # it ends once msrun and its workers have closed their output
rm "$shown"
if [ -z "${MSGAN_LOG_DIR:-}" ] && [ -s "$MSGAN_RUN_FILE" ]; then
  run_logs="$(cat "$MSGAN_RUN_FILE")/msrun_logs/$stamp"
  rm "$MSGAN_RUN_FILE"
  mkdir -p "$run_logs" && mv "$log_dir"/* "$run_logs"/ && rmdir "$log_dir" && log_dir="$run_logs"
fi
rm -f "$MSGAN_RUN_FILE"
if [ "$status" -ne 0 ]; then
  # A run stopped on request ends here too, saved: worker 0's last line above says which it was.
  echo "msgan: msrun exited with status $status; worker 0's output is above, every worker's log is in $log_dir" >&2
fi
exit "$status"
