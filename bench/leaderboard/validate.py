"""Validating submissions: schema, zoo, tasks, programs, and every figure re-scored.

A submission is accepted only if everything it reports can be reproduced from
the files it ships with the benchmark's own code:

1. ``submission.json`` follows :class:`bench.leaderboard.submission.Submission`;
2. ``results.json`` follows :mod:`bench.scoring.results` (``load_results``), uses the
   published success threshold, whole splits (unless ``allow_limit``) and
   every zoo model once (unless ``allow_partial``);
3. every model is a zoo model whose revision, Hub repo, role, task and weights
   sha256 are the manifest's; every task is registered, at the same version,
   with the same split fingerprints;
4. every program file exists inside the folder, has the recorded sha256,
   parses (:class:`bench.program.ProgramError` rejects it, naming the file)
   with its ``.safetensors`` sidecar if it names one (a plain file beside it
   whose sha256 the program records, so the recorded sha256 covers both),
   fits its task, and has the reported ``n_ops``/``depth``/``n_params``;
5. every program is re-scored against its model on the frozen splits with
   the recorded ``limit`` (:func:`bench.scoring.score.score_program`): counts must
   be equal and fractions equal to 1e-9; so must the success flags and the
   summary.

The folder holds nothing else but, optionally, what ``bench.evaluate`` also
writes and validation ignores (:data:`IGNORED`: the run's plot
``match_acc_by_length.png``, ``errors/`` and ``diagnostics/``); any other file
is a problem naming it.

Optionally (``fresh_seed``) programs are also scored on freshly sampled
sequences (:meth:`bench.leaderboard.harness.Harness.score_fresh`); the
difference is reported per model and bin, and rejects only past ``max_drop``.

Every problem is collected, none raised, in one round: the report lists them
all, each as ``<file>: <field>: <what is wrong>``. A field of the wrong type
in ``submission.json`` does not stop the checks of its other fields nor of
``results.json``; a ``models[i]`` entry (or the summary) of the wrong shape in
``results.json`` is reported and every other model is still checked and
re-scored (the zoo coverage, the summary and the folder's files are checked
once ``results.json`` reads whole). Everything in a submission is untrusted:
its JSON files are read within documented limits (:data:`bench.scoring.results.RESULTS_LIMITS`,
:data:`bench.leaderboard.submission.LIMITS`), file names are checked before they
are opened, every string is shown escaped (:func:`bench.scoring.schema.printable`), and an
unexpected exception while checking one submission becomes an ``internal error``
problem of that submission (:attr:`Problem.internal`), never an abort.

Limits on ``results.json`` beyond its schema (the shipped files in brackets):
``method.parameters`` at most :data:`MAX_PARAMETERS_BYTES` bytes as JSON (under 1 kB);
``method.name`` and ``method.spec`` at most :data:`MAX_METHOD_TEXT` characters of
printable text; ``bench_version`` one of :data:`KNOWN_BENCH_VERSIONS`; ``limit``
at least 1; ``n_sequences`` from 1 to the split size :data:`SPLIT_SIZE`; fractions
in [0, 1]; costs finite and non-negative; ``model.source`` ``"zoo"``; ``program_file``
a relative path of printable text, at most :data:`MAX_PATH_CHARS` characters, each
component at most 255 bytes, naming a regular file of at most
:data:`bench.program.errors.MAX_JSON_CHARS` bytes inside the folder; an ignored file
at most :data:`MAX_IGNORED_BYTES` bytes; at most :data:`bench.leaderboard.verdicts.MAX_FILES`
entries in the folder.

Progress (:mod:`bench.leaderboard.progress`): a bar of the programs re-scored,
and one line per submission. Verdicts of accepted re-scorings can be kept
(:mod:`bench.leaderboard.verdicts`) so that ``build`` does not re-score them again.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import re
from pathlib import Path, PurePosixPath

from bench.leaderboard.findings import (
    IGNORED, KNOWN_BENCH_VERSIONS, MAX_IGNORED_BYTES, MAX_METHOD_TEXT, MAX_PARAMETERS_BYTES, MAX_UNEXPECTED_SHOWN,
    PUBLISHED_THRESHOLD, Options, Problem, Verdict, compare, problem_from_text, quoted,
)
from bench.leaderboard.model_check import ModelCheck
from bench.leaderboard.progress import Progress
from bench.leaderboard.rescore import rescore
from bench.leaderboard.submission import (
    RESULTS_FILE,
    SUBMISSION_FILE,
    SubmissionError,
    read_submission,
    recorded_lengths,
)
from bench.leaderboard.tables import slug
from bench.leaderboard.verdicts import MAX_FILES, VerdictCache, submission_key
from bench.scoring import schema, untrusted_json
from bench.scoring.results import RESULTS_LIMITS, Results, ResultsError, load_results
from bench.scoring.score import summarize

# ----- one submission -----------------------------------------------------------------


def validate_submission(folder: Path, harness, options: Options = Options()) -> Verdict:
    """Check one submission folder; never raises for anything wrong in the folder."""
    verdict, checks = _static_checks(Path(folder), harness, options)
    rescore(checks, harness)
    return verdict


def _static_checks(folder: Path, harness, options: Options) -> tuple[Verdict, list[ModelCheck]]:
    """Everything but running programs; returns the model checks whose programs can be re-scored."""
    verdict = Verdict(folder)
    try:
        return verdict, _static_checks_of(verdict, harness, options)
    except Exception as exc:  # noqa: BLE001 -- a bug met on hostile input rejects this submission only
        verdict.add_internal_error(exc, "checking the files")
        return verdict, []


def _static_checks_of(verdict: Verdict, harness, options: Options) -> list[ModelCheck]:
    folder = verdict.folder
    if not folder.is_dir():
        verdict.problems.append(Problem(folder.as_posix(), "", "not a folder"))
        return []
    manifest_file = (folder / SUBMISSION_FILE).as_posix()
    try:
        verdict.submission = read_submission(folder / SUBMISSION_FILE)
        verdict.manifest = dataclasses.asdict(verdict.submission)
    except SubmissionError as exc:
        verdict.problems += [problem_from_text(manifest_file, p) for p in exc.problems]
        verdict.manifest = exc.fields
    read = _read_results(verdict)
    if read is None:
        return []
    indices, whole = read
    _check_run(verdict, harness, options, whole)
    checks = [ModelCheck(verdict, i, result, harness, options) for i, result in zip(indices, verdict.results.models)]
    ready = [check for check in checks if check.static()]
    repeats = collections.Counter(check.result.model.id for check in ready)
    ready = [check for check in ready if repeats[check.result.model.id] == 1]  # a repeated model is a rejection already
    if whole:
        _check_summary(verdict)
        _check_files(verdict)
    wanted = options.rescore or options.fresh_seed is not None
    return ready if wanted else []


def _read_results(verdict: Verdict) -> tuple[list[int], bool] | None:
    """Load ``results.json`` into the verdict, as much of it as has its schema: the index in the file of
    every model loaded and whether that is the whole file; None when nothing can be checked (the problems
    are recorded)."""
    path = verdict.folder / RESULTS_FILE
    if not os.path.lexists(path):
        verdict.problems.append(Problem(path.as_posix(), "", "missing file (write it with python -m bench.evaluate "
                                        "--out)"))
        return None
    try:
        verdict.results = load_results(path)
        return list(range(len(verdict.results.models))), True
    except ResultsError as exc:
        verdict.problems += [problem_from_text(path.as_posix(), p) for p in exc.problems]
        partial = _partial_results(path, exc.problems)
    if partial is None:
        return None
    verdict.results, indices, total = partial
    verdict.problems.append(Problem(path.as_posix(), "", f"read in part: the model entries without a problem above "
                                    f"({len(indices)} of {total}) were checked; the zoo coverage, the summary and the "
                                    "folder's files are checked once results.json reads whole"))
    return indices, False


_MODEL_FIELD = re.compile(r"models\[([0-9]+)\]")


def _partial_results(path: Path, problems: list[str]) -> tuple[Results, list[int], int] | None:
    """The results without the ``models[i]`` entries (and summary) that ``problems`` name, the indices kept and
    the number of entries; None when a problem lies elsewhere (the run's own fields: nothing can be checked
    without them)."""
    bad_models, bad_summary = set(), False
    for problem in problems:
        field_path = problem.partition(": ")[0]
        found = _MODEL_FIELD.match(field_path)
        if found and field_path[found.end():found.end() + 1] in ("", ".", "["):
            bad_models.add(int(found.group(1)))
        elif field_path == "summary" or field_path.startswith(("summary.", "summary[")):
            bad_summary = True
        else:
            return None
    try:
        data = untrusted_json.read_json(path, RESULTS_LIMITS)
        total = len(data["models"])
        kept = [i for i in range(total) if i not in bad_models]
        data = {**data, "models": [data["models"][i] for i in kept], **({"summary": None} if bad_summary else {})}
        return schema.load(data, Results, "results"), kept, total
    except (untrusted_json.JsonInputError, schema.SchemaError, OSError, KeyError, TypeError):
        return None


def _check_run(verdict: Verdict, harness, options: Options, whole: bool = True) -> None:
    """Run-level checks: threshold, limit, coverage of the zoo (``whole`` results only), consistency with
    submission.json."""
    results, file = verdict.results, (verdict.folder / RESULTS_FILE).as_posix()
    add = verdict.problems.append
    _check_manifest_against_results(verdict)
    if results.bench_version not in KNOWN_BENCH_VERSIONS:
        add(Problem(file, "bench_version", f"{quoted(results.bench_version)} is not a rasp-bench version "
                    f"(known: {', '.join(KNOWN_BENCH_VERSIONS)})"))
    for name in ("name", "spec"):
        text = getattr(results.method, name)
        bad = schema.bad_character(text)
        if len(text) > MAX_METHOD_TEXT:
            add(Problem(file, f"method.{name}", f"longer than {MAX_METHOD_TEXT} characters ({len(text):,})"))
        elif bad:
            add(Problem(file, f"method.{name}", f"contains {bad}; only printable text is allowed"))
    size = len(json.dumps(results.method.parameters, separators=(",", ":")))
    if size > MAX_PARAMETERS_BYTES:
        add(Problem(file, "method.parameters", f"{size:,} bytes as JSON, over the limit of {MAX_PARAMETERS_BYTES:,}"))
    if results.limit is not None and results.limit < 1:
        add(Problem(file, "limit", f"{results.limit} is not a number of sequences (at least 1, or null)"))
    if results.match_threshold != PUBLISHED_THRESHOLD:
        add(Problem(file, "match_threshold",
                    f"{results.match_threshold!r}; the leaderboard uses the published criterion {PUBLISHED_THRESHOLD}"))
    if results.limit is not None and not options.allow_limit:
        add(Problem(file, "limit", f"scored on the first {results.limit} sequences of each bin; "
                    "the leaderboard needs whole splits (run bench.evaluate without --limit)"))
    if not results.models:
        add(Problem(file, "models", "no model was evaluated"))
    ids = [m.model.id for m in results.models]
    counts: dict[str, int] = {}
    for i in ids:
        counts[i] = counts.get(i, 0) + 1
    for model_id in sorted(i for i, n in counts.items() if n > 1):
        add(Problem(file, "models", f"model {quoted(model_id)} appears {counts[model_id]} times"))
    missing = sorted(set(harness.zoo) - set(ids))
    if whole and missing and not options.allow_partial:
        add(Problem(file, "models", f"missing zoo models {', '.join(missing)} (the leaderboard compares "
                    "methods on the whole zoo; run bench.evaluate without --tasks/--models)"))


def _check_manifest_against_results(verdict: Verdict) -> None:
    """submission.json's ``bench_version`` is results.json's; its ``lengths_seen`` covers the lengths that
    results.json records the method looked at (when it records them)."""
    manifest, results = verdict.manifest, verdict.results
    file = (verdict.folder / SUBMISSION_FILE).as_posix()
    version = manifest.get("bench_version")
    if version is not None and version != results.bench_version:
        verdict.problems.append(Problem(file, "bench_version", f"{quoted(version)} differs from results.json's "
                                        f"{quoted(results.bench_version)}"))
    claimed, recorded = manifest.get("lengths_seen"), recorded_lengths(results)
    if claimed is None or recorded is None or claimed == "all":
        return
    if recorded == "all" or not (len(claimed) == 2 and claimed[0] <= recorded[0] and recorded[1] <= claimed[1]):
        shown = "every length" if recorded == "all" else f"lengths {recorded[0]}-{recorded[1]}"
        verdict.problems.append(Problem(file, "lengths_seen", f"{quoted(claimed)}, but results.json records that the "
                                        f"method looked at {shown}; lengths_seen must cover them"))


def _check_files(verdict: Verdict) -> None:
    """Nothing in the folder but the manifest, results.json, its programs and their sidecars, and :data:`IGNORED`."""
    folder = verdict.folder
    expected = {SUBMISSION_FILE, RESULTS_FILE}
    for m in verdict.results.models:
        if m.program_file is not None:
            expected |= _program_files(m.program_file)
    try:
        found = _folder_files(folder)
    except OSError as exc:
        verdict.problems.append(Problem(folder.as_posix(), "", f"cannot be listed ({exc.strerror or exc})"))
        return
    if found is None:
        verdict.problems.append(Problem(folder.as_posix(), "", f"holds more than {MAX_FILES:,} files"))
        return
    unexpected = []
    for name, size in found:
        if name in expected:
            continue
        if any(name == kept or (kept.endswith("/") and name.startswith(kept)) for kept in IGNORED):
            if size > MAX_IGNORED_BYTES:
                verdict.problems.append(Problem((folder / name).as_posix(), "", f"{size:,} bytes, over the limit of "
                                                f"{MAX_IGNORED_BYTES:,} for a file that validation ignores"))
            continue
        unexpected.append(name)
    for name in unexpected[:MAX_UNEXPECTED_SHOWN]:
        verdict.problems.append(Problem((folder / name).as_posix(), "", "not part of a submission, remove it (a "
                                        f"submission holds {SUBMISSION_FILE}, {RESULTS_FILE}, the programs it names "
                                        f"with their .safetensors sidecars, and optionally {', '.join(IGNORED)})"))
    if len(unexpected) > MAX_UNEXPECTED_SHOWN:
        verdict.problems.append(Problem(folder.as_posix(), "", f"{len(unexpected) - MAX_UNEXPECTED_SHOWN} more files "
                                        "that are not part of a submission"))


def _program_files(name: str) -> set[str]:
    """A program file and the sidecar that ``bench.evaluate`` writes beside it (same stem, ``.safetensors``)."""
    program = PurePosixPath(name)
    try:
        return {program.as_posix(), program.with_suffix(".safetensors").as_posix()}
    except ValueError:  # no file name to give a suffix ("."): check_program reports the path
        return {program.as_posix()}


def _folder_files(folder: Path) -> list[tuple[str, int]] | None:
    """(relative path, size) of every entry under ``folder`` that is not a folder, sorted; links are not
    followed; None past :data:`MAX_FILES` entries."""
    found, stack, seen = [], [folder], 0
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                seen += 1
                if seen > MAX_FILES:
                    return None
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                else:
                    size = entry.stat(follow_symlinks=False).st_size
                    found.append((Path(entry.path).relative_to(folder).as_posix(), size))
    return sorted(found)


def _check_summary(verdict: Verdict) -> None:
    results, file = verdict.results, (verdict.folder / RESULTS_FILE).as_posix()
    if results.summary is None:
        verdict.problems.append(Problem(file, "summary", "missing"))
        return
    expected = dataclasses.asdict(summarize(results.models))
    reported = dataclasses.asdict(results.summary)
    for name, value in expected.items():
        if isinstance(value, dict):
            for key, v in value.items():
                compare(verdict, file, f"summary.{name}.{key}", reported[name].get(key), v, "recomputed")
        else:
            compare(verdict, file, f"summary.{name}", reported[name], value, "recomputed")


# ----- many submissions -------------------------------------------------------------------


def submission_folders(root: Path) -> list[Path]:
    """Every submission folder under ``root`` (its subfolders), sorted by name."""
    return sorted(p for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith("."))


def validate_all(folders: list[Path], harness, options: Options = Options(), progress: Progress | None = None,
                 jobs: int = 1, verdicts_kept: VerdictCache | None = None) -> list[Verdict]:
    """Validate every folder (programs re-scored model by model), then reject shared method names.

    ``progress`` shows the bars and one line per submission (none by default); ``jobs`` worker
    processes score the programs (the verdicts do not depend on it). With ``verdicts_kept`` every
    accepted re-scoring is recorded there, and with ``options.reuse`` a folder recorded as it is
    now is not re-scored again (its static checks still run).
    """
    progress = progress or Progress(quiet=True)
    verdicts, checks = [], []
    for folder in progress.checking(list(folders)):
        verdict, ready = _static_checks(Path(folder), harness, options)
        verdicts.append(verdict)
        if verdicts_kept is not None and options.rescore and ready:
            verdict.key = submission_key(verdict.folder, harness.zoo)
            if options.reuse and options.fresh_seed is None:
                verdict.reused = verdicts_kept.find(verdict.key)
                ready = [] if verdict.reused else ready
        verdict.rescored = bool(ready) and options.rescore
        if not ready:
            progress.line(_unscored_line(verdict, options))
        checks += ready
    if options.shard is not None:  # bench.leaderboard.shards: the other parts are other jobs' work
        from bench.leaderboard.shards import shard_models

        part = shard_models([c.result.model.id for c in checks], *options.shard)
        checks = [c for c in checks if c.result.model.id in part]
    rescore(checks, harness, progress, jobs)
    _reject_shared_names(verdicts)
    if verdicts_kept is not None:
        for v in verdicts:
            if v.ok and v.rescored:
                verdicts_kept.record(v.key, v.folder.as_posix(), v.submission.method, len(v.programs))
    return verdicts


def _unscored_line(verdict: Verdict, options: Options) -> str:
    """The progress line of a submission whose checks end with the static ones."""
    folder = verdict.folder.as_posix()
    if verdict.reused is not None:
        return (f"checked {folder}: re-scoring reused ({verdict.reused.programs} programs re-scored and accepted "
                f"{verdict.reused.validated}, files unchanged)")
    if not options.rescore:
        return f"checked {folder}: static checks only (--no-rescore)"
    n = len(verdict.problems)
    return f"checked {folder}: nothing to re-score ({n} problem{'s' * (n != 1)})"


def _reject_shared_names(verdicts: list[Verdict]) -> None:
    """Two submissions with one method name (as the leaderboard's slug sees it) are both rejected."""
    owners: dict[str, list[Verdict]] = {}
    for v in verdicts:
        if v.submission is not None:
            owners.setdefault(slug(v.submission.method), []).append(v)
    for shared in owners.values():
        if len(shared) > 1:
            for v in shared:
                others = ", ".join(o.folder.as_posix() for o in shared if o is not v)
                v.problems.append(Problem((v.folder / SUBMISSION_FILE).as_posix(), "method",
                                          f"{v.submission.method!r} is also the method of {others}; names must be unique"))
