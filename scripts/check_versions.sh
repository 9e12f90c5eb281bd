#!/usr/bin/env bash
# Checks the dependency ranges that pyproject.toml declares, and regenerates CI's lock file.
#
#   scripts/check_versions.sh              # both checks below, one after the other
#   scripts/check_versions.sh lowest       # only the lowest versions
#   scripts/check_versions.sh newest       # only the newest versions
#   scripts/check_versions.sh lock         # regenerate requirements/ci.lock (what .ci/run installs)
#
# Each check makes a fresh virtual environment in a temporary folder, installs the project's
# dependencies and its [test] extra there, the project itself with `--no-deps -e .`, and runs
# `python -m pytest` and `python -m bench.leaderboard validate` from the repository root:
#   lowest  the lowest version that pyproject.toml allows of every direct dependency
#           (`uv pip compile --resolution lowest-direct`; what they pull in is as new as they allow);
#   newest  the newest versions that resolve (`uv pip compile --resolution highest`).
# The resolved pins are printed and kept beside the logs. The exit status is non-zero when
# any step fails in any environment; the temporary folder is removed unless KEEP=1.
#
# Environment:
#   PYTHON=python3          the interpreter the environments are made from (its version picks the wheels)
#   KEEP=1                  keep the temporary folder (environments, pins and logs)
#   TORCH_LOWEST=SPEC       replace torch's pin in the lowest environment, e.g. "torch==2.13.0"
#   TORCH_NEWEST=SPEC       the same for the newest one, e.g. "torch==2.13.0+cpu" with UV_FIND_LINKS
#                           naming a folder that holds that wheel
#   PYTEST_ARGS="..."       extra arguments for pytest (e.g. "-x" or "tests/test_model.py")
# uv is taken from PATH, or installed with pip into the temporary folder.
#
# Both torch ends come from PyPI, where Linux x86_64 wheels are CUDA builds: the lowest
# (torch 2.2.0 with its nvidia-* packages) is about 3.3 GB of downloads, the newest about as much.
# uv's cache keeps them for the next run.
#
# Last run of `lowest` (Python 3.11, Linux x86_64), every declared lower bound installed:
#   numpy 1.24.0, torch 2.2.0, datasets 2.16.0, huggingface-hub 0.20.0, safetensors 0.4.0,
#   pandas 2.0.0, tabulate 0.9.0, tqdm 4.62.1 (datasets needs >=4.62.1), matplotlib 3.7.0,
#   pytest 7.0.0, hypothesis 6.80.0, transformers 4.36.0, selenium 4.10.0.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"

PYTHON="${PYTHON:-python3}"
[ $# -gt 0 ] || set -- lowest newest

work="$(mktemp -d "${TMPDIR:-/tmp}/check-versions.XXXXXX")"
cleanup() { if [ "${KEEP:-0}" = 1 ]; then echo "kept: $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT

if command -v uv >/dev/null; then
    UV="$(command -v uv)"
else
    "$PYTHON" -m venv "$work/uv-tool"
    "$work/uv-tool/bin/python" -m pip install --quiet "uv>=0.9"
    UV="$work/uv-tool/bin/uv"
fi
echo "uv: $("$UV" --version)"

elapsed() { printf '%5ds' $(( $(date +%s) - $1 )); }

# requirements/ci.lock: everything .ci/run installs after the CPU build of torch, with hashes.
# torch's CPU build (2.13.0+cpu) is not on PyPI: uv looks for it in pip's find-links folder
# (where this machine keeps that wheel) or in UV_FIND_LINKS / UV_EXTRA_INDEX_URL if set, e.g.
# the PyTorch CPU wheel index with UV_INDEX_STRATEGY=unsafe-best-match.
lock() {
    local links
    links="${UV_FIND_LINKS:-$("$PYTHON" -m pip config get global.find-links 2>/dev/null || true)}"
    mkdir -p requirements
    echo "torch==2.13.0+cpu" >"$work/torch.in"
    UV_FIND_LINKS="$links" "$UV" pip compile pyproject.toml "$work/torch.in" --extra test --extra cluster \
        --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
        --generate-hashes --no-strip-extras --annotation-style line \
        --custom-compile-command "scripts/check_versions.sh lock" \
        --quiet --output-file requirements/ci.lock
    # the temporary input's name is not worth keeping in the annotations
    sed -i "s|$work/torch.in|torch (CPU build, installed first by .ci/run)|" requirements/ci.lock
    sed -i '2a\
#    that is: uv pip compile pyproject.toml --extra test --extra cluster, plus torch==2.13.0+cpu, for Python 3.11\
#    on Linux x86_64 (manylinux_2_28), with hashes. Run it after changing the dependencies in\
#    pyproject.toml, which keeps open ranges for users; this file pins what CI installs:\
#    pip install "torch==2.13.0"; pip install --require-hashes -r requirements/ci.lock;\
#    pip install --no-deps -e .' requirements/ci.lock
    echo "wrote requirements/ci.lock ($(grep -c '^[a-z]' requirements/ci.lock) packages)"
}

check() {
    local mode="$1" env="$work/$1" resolution torch_spec extra=() t0 failed=0
    case "$mode" in
        lowest) resolution=lowest-direct; torch_spec="${TORCH_LOWEST:-}" ;;
        newest) resolution=highest; torch_spec="${TORCH_NEWEST:-}" ;;
        *) echo "unknown mode: $mode (lowest, newest or lock)" >&2; return 2 ;;
    esac
    if [ -n "$torch_spec" ]; then
        echo "$torch_spec" >"$work/$mode.overrides"
        extra+=(--overrides "$work/$mode.overrides")
    fi
    if [ "$mode" = lowest ]; then
        # pyarrow, which datasets needs, requires numpy 2 from pyarrow 26 on without saying so in
        # its metadata: `import datasets` fails beside numpy 1.x and pyarrow 26.
        echo "pyarrow<26" >"$work/$mode.constraints"
        extra+=(--constraints "$work/$mode.constraints")
    fi
    echo "== $mode: $env"
    t0=$(date +%s)
    "$PYTHON" -m venv "$env"
    "$UV" pip compile pyproject.toml --extra test --python "$env/bin/python" --resolution "$resolution" \
        "${extra[@]}" --no-header --no-annotate --quiet --output-file "$work/$mode.txt"
    echo "-- $mode pins (direct dependencies, and pyarrow):"
    grep -i -E '^(numpy|torch|datasets|huggingface-hub|safetensors|pandas|tabulate|tqdm|matplotlib|pytest|hypothesis|transformers|selenium|pyarrow)==' \
        "$work/$mode.txt" | paste -sd' ' | fold -s -w 100 | sed 's/^/   /'
    "$UV" pip sync --quiet --python "$env/bin/python" "$work/$mode.txt"
    "$UV" pip install --quiet --python "$env/bin/python" --no-deps -e "$ROOT"
    echo "-- $mode installed in $(elapsed "$t0")"

    t0=$(date +%s)
    # shellcheck disable=SC2086
    if "$env/bin/python" -m pytest -p no:cacheprovider ${PYTEST_ARGS:-} >"$work/$mode.pytest.log" 2>&1; then
        echo "-- $mode pytest passed in $(elapsed "$t0"): $(tail -n 1 "$work/$mode.pytest.log")"
    else
        echo "-- $mode pytest FAILED (exit $?) in $(elapsed "$t0"): $(tail -n 1 "$work/$mode.pytest.log")"
        grep -E '^(FAILED|ERROR) ' "$work/$mode.pytest.log" | sed 's/^/   /' || true
        failed=1
    fi
    t0=$(date +%s)
    if "$env/bin/python" -m bench.leaderboard validate >"$work/$mode.validate.log" 2>&1; then
        echo "-- $mode leaderboard validate passed in $(elapsed "$t0")"
    else
        echo "-- $mode leaderboard validate FAILED in $(elapsed "$t0"):"
        tail -n 20 "$work/$mode.validate.log" | sed 's/^/   /'
        failed=1
    fi
    echo "   logs: $work/$mode.pytest.log, $work/$mode.validate.log (kept with KEEP=1)"
    return "$failed"
}

status=0
for mode in "$@"; do
    if [ "$mode" = lock ]; then lock; continue; fi
    check "$mode" || status=1
done
exit "$status"
