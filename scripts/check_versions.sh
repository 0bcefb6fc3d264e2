#!/usr/bin/env bash
# Runs a smoke subset of msgan's tests under each MindSpore release, each in a fresh virtual environment.
#
#   scripts/check_versions.sh                   every mindspore that pip offers for this Python from the floor in
#                                               requirements.txt on (2.7.0 ... 2.10.0 for Python 3.11), then --lowest
#   scripts/check_versions.sh 2.7.0 2.10.0      only these releases
#   scripts/check_versions.sh --lowest          only the floors: every `>=` bound of requirements.txt pinned with `==`
#
# Each venv, $MSGAN_VERSIONS_DIR/ms-X.Y.Z (default /tmp/msgan-versions), gets mindspore==X.Y.Z plus the rest of
# requirements.txt and requirements-test.txt at their newest allowed versions; the `lowest` venv gets the floors.
# The tests run offline (in a network namespace of their own where `unshare -n` works) with pytest.ini's `-n 2`.
# A venv that fails to install or to pass is recorded in the table and the next one goes on. Output: a Markdown
# table on stdout and in $MSGAN_VERSIONS_DIR/table.md; each venv's pip and pytest output in $MSGAN_VERSIONS_DIR/NAME.log.
# Time on 2 cores: about 3 minutes of tests per venv (34 tests) plus 1-2 minutes of pip (mindspore 2.10 is a
# ~3 GB venv); about 50 minutes for all eight (measured, on a shared machine). A venv whose tests all pass is removed afterwards unless
# MSGAN_KEEP_VENVS=1; a failed one is kept for a look.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${MSGAN_VERSIONS_DIR:-/tmp/msgan-versions}
mkdir -p "$dir"

# Every model built, one compiled step and a strict checkpoint round trip each (test_models); checkpoints saved,
# loaded, and damaged ones refused (test_checkpoints); a short mlp training run stopped and resumed to the bit
# (test_resume); export.py on a 2-epoch train.py run, its graph drawing what the checkpoint draws (test_export).
SMOKE=(tests/test_models.py tests/test_checkpoints.py
       "tests/test_resume.py::test_resume_after_the_end_of_a_shorter_run[mlp]"
       tests/test_export.py::test_exported_run_draws_what_its_checkpoint_draws)

floor=$(sed -n 's/^mindspore>=\([0-9.]*\).*/\1/p' requirements.txt)
others=$(sed -nE 's/^([A-Za-z0-9_.-]+).*/\1/p' requirements.txt | grep -vx mindspore | paste -sd'|')
offline=()
if unshare -n true 2>/dev/null; then offline=(unshare -n); fi

targets=("$@")
if ((${#targets[@]} == 0)); then
  for v in $(python3 -m pip index versions mindspore 2>/dev/null | sed -n 's/^Available versions: //p' | tr -d ,); do
    if [[ $(printf '%s\n' "$floor" "$v" | sort -V | head -1) == "$floor" ]]; then targets+=("$v"); fi
  done
  ((${#targets[@]})) || { echo "pip offers no mindspore >= $floor for this Python" >&2; exit 1; }
  mapfile -t targets < <(printf '%s\n' "${targets[@]}" | sort -V)
  targets+=(--lowest)
fi

count() {  # count WORD: the number before WORD in pytest's summary line, or 0
  grep -oE "[0-9]+ $1" <<<"$summary" | cut -d' ' -f1 || echo 0
}

rows=()
check() {  # check NAME KIND PIP-ARGS...: a fresh venv $dir/NAME, `pip install PIP-ARGS`, the smoke tests, a table row
  local name=$1 kind=$2 venv=$dir/$1 log=$dir/$1.log passed=0 failed=0 secs=0 note="" pins=$2 ms=${1#ms-}
  shift 2
  rm -rf "$venv"
  echo "== $name: installing (log: $log)" >&2
  if ! { python3 -m venv "$venv" && "$venv/bin/pip" install -q -r requirements-test.txt "$@"; } >"$log" 2>&1; then
    note="install failed: $(grep -vE '^WARNING: Location' "$log" | grep -m1 -E '^ERROR|[Ee]rror' || tail -1 "$log")"
  else
    ms=$("$venv/bin/pip" freeze | sed -n 's/^mindspore==//p')
    pins="$kind: $("$venv/bin/pip" freeze | grep -iE "^($others)==" | sed 's/==/ /' | paste -sd, | sed 's/,/, /g')"
    echo "== $name: testing" >&2
    local start=$SECONDS
    "${offline[@]}" "$venv/bin/python" -m pytest -q "${SMOKE[@]}" >>"$log" 2>&1 || true
    secs=$((SECONDS - start))
    summary=$(grep -E '^=*[ ]*[0-9]+ (passed|failed|error)' "$log" | tail -1 || true)
    passed=$(count passed)
    failed=$(($(count failed) + $(count error)))
    note=$(grep -E '^(FAILED|ERROR) ' "$log" | cut -d' ' -f2 | paste -sd' ' || true)
    [[ -n $summary ]] || note="pytest gave no summary: $(tail -1 "$log")"
  fi
  if [[ $passed != 0 && $failed == 0 && -z ${MSGAN_KEEP_VENVS:-} ]]; then rm -rf "$venv"; fi
  rows+=("| $ms | $pins | $passed/$failed | $secs | ${note//|/\\|} |")
}

for t in "${targets[@]}"; do
  if [[ $t == --lowest ]]; then
    sed -E 's/#.*//; s/>=([^,[:space:]]+).*/==\1/; /^[[:space:]]*$/d' requirements.txt >"$dir/lowest.txt"
    check lowest lowest -r "$dir/lowest.txt"
  else
    check "ms-$t" newest "mindspore==$t"
  fi
done

{
  echo "| MindSpore | other pins | tests passed/failed | wall s | notes |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} | tee "$dir/table.md"
