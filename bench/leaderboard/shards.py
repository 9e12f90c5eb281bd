"""Validation split over a job array: ``validate --shard K/N --verdicts F.json``, then ``merge-verdicts``.

Every shard runs the static checks of every submission (they are cheap and the same everywhere)
and re-scores only the programs of its part of the models: the zoo model ids found in the
submissions, sorted, every N-th from the K-th. Its findings go to a verdict file, never to the
verdict records (a shard has not re-scored everything). ``merge-verdicts`` reads the N files and
refuses a shard given twice, missing, of another N or made from other files; a submission is
accepted when no shard found a problem, and is then recorded as re-scored (so that ``build``
reuses it) when its files are still the ones the shards checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.errors import BenchError
from bench.scoring import schema, untrusted_json

#: What merge reads of one verdict file (:func:`bench.scoring.untrusted_json.read_json`).
VERDICT_LIMITS = untrusted_json.JsonLimits(max_bytes=64 << 20, max_depth=8, max_containers=2_000_000, max_int_digits=20)
FORMAT = 1


class VerdictsError(BenchError):
    """Verdict files that cannot be merged; the message names the file and what is wrong."""


def shard_models(model_ids, k: int, n: int) -> set[str]:
    """The models whose programs shard ``k`` of ``n`` re-scores: every n-th of the sorted ids, from the k-th."""
    return set(sorted(set(model_ids))[k - 1 :: n])


def write(path: Path, verdicts: list, shard: tuple[int, int], models: list[str]) -> None:
    """One shard's findings (every submission's problems) and the models it re-scored."""
    from bench.scoring.results import write_json_atomic

    write_json_atomic(path, {
        "format": FORMAT, "shard": list(shard), "models": sorted(models),
        "submissions": [{"folder": v.folder.as_posix(), "key": v.key, "problems": [str(p) for p in v.problems],
                         "internal": v.internal_error, "method": v.submission.method if v.submission else None,
                         "programs": len(v.programs), "models": len(v.results.models) if v.results else 0}
                        for v in verdicts],
    })


@dataclass
class Merged:
    """One submission's verdict over all shards."""

    folder: str
    key: str | None
    method: str | None
    programs: int
    models: int
    problems: list[str]
    internal: bool

    @property
    def ok(self) -> bool:
        return not self.problems


def merge(paths: list[Path]) -> list[Merged]:
    """The submissions' verdicts over every shard; :class:`VerdictsError` when the files do not fit together."""
    shards = [_read(path) for path in paths]
    n = shards[0]["shard"][1]
    seen = sorted(s["shard"][0] for s in shards)
    if any(s["shard"][1] != n for s in shards) or seen != list(range(1, n + 1)):
        raise VerdictsError(f"the verdict files are shards {', '.join(f'{k}/{m}' for k, m in (s['shard'] for s in shards))}"
                            f"; merge needs each of 1/{n} .. {n}/{n} once")
    first = [(s["folder"], s["key"]) for s in shards[0]["submissions"]]
    for path, shard in zip(paths, shards):
        if [(s["folder"], s["key"]) for s in shard["submissions"]] != first:
            raise VerdictsError(f"{schema.printable(str(path), 200)}: checked other submissions or other files than "
                                f"{schema.printable(str(paths[0]), 200)}; validate every shard on the same files")
    merged = []
    for i, (folder, key) in enumerate(first):
        parts = [shard["submissions"][i] for shard in shards]
        problems = list(dict.fromkeys(p for part in parts for p in part["problems"]))  # the static ones repeat
        merged.append(Merged(folder, key, parts[0]["method"], max(part["programs"] for part in parts),
                             parts[0]["models"], problems, any(part["internal"] for part in parts)))
    return merged


def _read(path: Path) -> dict:
    shown = schema.printable(str(path), 200)
    try:
        data = untrusted_json.read_json(path, VERDICT_LIMITS)
    except FileNotFoundError:
        raise VerdictsError(f"{shown}: no such file") from None
    except untrusted_json.JsonInputError as exc:
        raise VerdictsError(f"{shown}: {exc}") from None
    try:
        k, n = data["shard"]
        assert data["format"] == FORMAT and isinstance(k, int) and isinstance(n, int) and 1 <= k <= n
        for s in data["submissions"]:
            assert isinstance(s["folder"], str) and isinstance(s["problems"], list)
            assert all(isinstance(p, str) for p in s["problems"]) and isinstance(s["internal"], bool)
            assert s["key"] is None or isinstance(s["key"], str)
            assert s["method"] is None or isinstance(s["method"], str)
            assert isinstance(s["programs"], int) and isinstance(s["models"], int)
    except (AssertionError, KeyError, TypeError, ValueError):
        raise VerdictsError(f"{shown}: not a verdict file of validate --shard (format {FORMAT})") from None
    return data


def record_accepted(merged: list[Merged], zoo: dict) -> None:
    """Record the accepted submissions whose files are still those the shards checked (build reuses them)."""
    from bench.leaderboard.verdicts import VerdictCache, submission_key

    cache = VerdictCache()
    for m in merged:
        if m.ok and m.key is not None and submission_key(Path(m.folder), zoo) == m.key:
            cache.record(m.key, m.folder, m.method or "", m.programs)


def report(merged: list[Merged], stream) -> int:
    """validate's report for the merged verdicts; returns its exit status (0, 1, or 2 after an internal error)."""
    for m in merged:
        folder = schema.printable(m.folder, 300)
        if m.ok:
            print(f"ok        {folder}  ({schema.printable(m.method or '', 100)}: {m.models} models)", file=stream)
            continue
        status = "INTERNAL ERROR" if m.internal else "REJECTED "
        print(f"{status} {folder}  ({len(m.problems)} problem{'s' * (len(m.problems) != 1)})", file=stream)
        for problem in m.problems:
            print(f"  {problem}", file=stream)  # escaped when the shard wrote it
    accepted = sum(m.ok for m in merged)
    print(f"\n{accepted} accepted, {len(merged) - accepted} rejected (merged from the shards)", file=stream)
    if any(m.internal for m in merged):
        return 2
    return 0 if accepted == len(merged) else 1
