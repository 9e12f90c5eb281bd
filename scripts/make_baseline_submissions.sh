#!/usr/bin/env bash
# Make the shipped baseline submissions with the real commands, validate them, rebuild leaderboard/.
#
#   scripts/make_baseline_submissions.sh            # oracle and lookup on the whole zoo
#   PYTHON=/path/to/python scripts/make_baseline_submissions.sh
#
# Each baseline is scored by `python -m bench.evaluate METHOD --out submissions/METHOD`
# (whole zoo, whole splits), given a submission.json, validated by re-scoring every
# program, and the leaderboard is rebuilt from the verified submissions.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python}"
version="$("$python" -c 'import bench; print(bench.__version__)')"
today="$(date -u +%F)"

manifest() {  # method, lengths_seen (JSON), description
    cat <<JSON
{
 "method": "$1",
 "authors": ["rasp-bench maintainers"],
 "contact": "rasp-bench maintainers (open an issue in the benchmark's repository)",
 "description": "$3",
 "date": "$today",
 "bench_version": "$version",
 "lengths_seen": $2,
 "paper": null,
 "code": null
}
JSON
}

for method in oracle lookup; do
    rm -rf "submissions/$method"
    "$python" -m bench.evaluate "$method" --out "submissions/$method"
done
manifest oracle '"all"' \
    "The task's ground-truth RASP program (bench.oracles), written by hand to be correct at every length; it ignores the model, so it is faithful exactly where the model is right. An upper bound on correctness, not on faithfulness." \
    > submissions/oracle/submission.json
manifest lookup '[0, 50]' \
    "One table from the current token to the model's most frequent prediction after it, estimated on sampled inputs of length 0-50 (baselines/lookup.py). The lower bound: it fails wherever the output depends on more than the current token." \
    > submissions/lookup/submission.json

"$python" -m bench.leaderboard validate submissions/oracle submissions/lookup
"$python" -m bench.leaderboard build --strict --no-rescore --out leaderboard  # validated just above
