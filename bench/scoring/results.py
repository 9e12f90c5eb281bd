"""The ``results.json`` schema, written once.

``python -m bench.evaluate`` writes one :class:`Results`; ``bench.leaderboard
validate`` reads submitted ones back with :func:`load_results`, which reports
every schema problem at once with the path of the field. Bump
:data:`SCHEMA_VERSION` on any change that an old reader would misread.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

from bench.data.task import TEST_SPLITS
from bench.errors import BenchError
from bench.scoring import schema, untrusted_json

SCHEMA_VERSION = 1

BINS = tuple(TEST_SPLITS)  # the frozen test bins, shortest first


@dataclass
class MethodInfo:
    name: str  # the method's own name (Method.name)
    spec: str  # what was given on the command line: a registered name, module or file
    parameters: dict[str, Any]  # the method's declared parameters (Method.parameters), recorded verbatim


@dataclass
class TaskInfo:
    name: str  # registered task name
    version: str  # task version; a sampler change bumps it
    kind: Literal["token", "token_set"]
    split_fingerprints: dict[str, str]  # bin -> sha256 of the frozen split's token arrays


@dataclass
class ModelInfo:
    id: str  # zoo id, Hub repo id or local folder name
    source: Literal["zoo", "hub", "local"]
    hub_repo: Optional[str]  # Hugging Face repo id, where there is one
    revision: Optional[str]  # pinned revision the weights were loaded at
    weights_sha256: str  # sha256 of model.safetensors as loaded
    role: Optional[str] = None  # zoo role: "main" or "control"


@dataclass
class BinMetrics:
    n_sequences: int  # sequences scored in this bin
    match_acc: float  # fraction of sequences where program == model at every scored position (faithfulness)
    match_token_acc: float  # fraction of scored positions where program == model
    program_acc: float  # fraction of sequences the program gets exactly right against the gold targets
    model_acc: float  # same for the model


@dataclass
class Size:
    n_ops: int  # operations, excluding inputs and constants
    depth: int  # longest chain of attention-like operations
    n_params: int  # table entries + expression nodes + MLP weights


@dataclass
class Cost:
    extract_seconds: float  # wall-clock time of method.extract
    peak_memory_mb: float  # peak resident memory added by the extraction


@dataclass
class ModelResult:
    model: ModelInfo
    task: TaskInfo
    status: Literal["ok", "error"]  # "error": extraction failed or returned no valid program
    error: Optional[str]  # what went wrong, for status "error"
    program_file: Optional[str]  # path of the program JSON, relative to results.json
    program_sha256: Optional[str]  # sha256 of that file's bytes
    metrics: dict[str, BinMetrics]  # bin -> metrics; empty when extraction failed
    size: Optional[Size]
    cost: Optional[Cost]
    success: bool  # match_acc >= match_threshold on every bin
    lengths_sampled: Optional[list[int]] = None  # [lo, hi] the method asked of the task view's sampler; null: none
    details: Optional[dict[str, Any]] = None  # the method's own report on this extraction (Method.details()); null: none


@dataclass
class Summary:
    n_models: int
    n_success: int
    success_rate: float  # n_success / n_models (failed extractions count as failures)
    mean_match_acc: dict[str, float]  # bin -> mean over models (failed extractions count as 0)
    median_n_ops: Optional[float]  # median n_ops over successful programs; null when none succeeded


@dataclass
class Results:
    schema_version: int  # SCHEMA_VERSION of the writer
    bench_version: str  # rasp-bench package version
    git_commit: Optional[str]  # commit of the benchmark checkout, when known
    date: str  # ISO 8601 UTC time the run finished (or was last updated)
    method: MethodInfo
    seed: int  # seeds every extraction (per model) and any fresh re-sampling
    limit: Optional[int]  # sequences per bin, when fewer than the whole split were scored
    match_threshold: float  # success criterion on match_acc (0.9 as published)
    models: list[ModelResult] = field(default_factory=list)
    summary: Optional[Summary] = None


#: What :func:`load_results` reads of a results file (:func:`bench.scoring.untrusted_json.read_json`). The shipped
#: files are about 52 kB (34 models), nested 5 levels, with about 350 lists and objects and integers
#: of at most 7 digits; these limits leave a wide margin (thousands of models, a method's parameters
#: nested 20 levels deep, any 64-bit seed) and keep the parse within a few hundred MB of memory.
RESULTS_LIMITS = untrusted_json.JsonLimits(max_bytes=4 << 20, max_depth=32, max_containers=200_000, max_int_digits=30)


class ResultsError(BenchError):
    """A results file that cannot be read; the message names the file and the fields.

    ``problems`` lists the findings one by one, each ``field: what is wrong`` (or a whole-file
    finding), without the file name and the ``results.`` root.
    """

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems if problems is not None else [message]


def load_results(path: str | Path) -> Results:
    """Read and check a results file written by any version of the schema we know.

    The file is untrusted: it is read within :data:`RESULTS_LIMITS`, and anything wrong with it,
    however it is wrong, is a :class:`ResultsError`.
    """
    path = Path(path)

    def error(problems: list[str], shown: list[str] | None = None) -> ResultsError:
        return ResultsError(f"{schema.printable(str(path), 300)}: " + "; ".join(shown or problems), problems)

    try:
        data = untrusted_json.read_json(path, RESULTS_LIMITS)
    except FileNotFoundError as exc:
        raise error([f"cannot read JSON ({exc.strerror or 'no such file'})"]) from None
    except untrusted_json.JsonInputError as exc:
        raise error(exc.problems) from None
    if not isinstance(data, dict):
        raise error(["expected a JSON object"])
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise error([f"schema_version {schema.printable(repr(version), 60)} is not the supported version "
                     f"{SCHEMA_VERSION}"])
    try:
        return schema.load(data, Results, "results")
    except schema.SchemaError as exc:
        raise error([p.removeprefix("results.") for p in exc.problems], exc.problems) from None


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write a UTF-8 text file so that a reader never sees it half-written."""
    from bench.program.arrays import write_bytes_atomic

    write_bytes_atomic(Path(path), text.encode("utf-8"))


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write JSON so that a reader never sees a half-written file."""
    write_text_atomic(path, json.dumps(data, indent=1) + "\n")


def save_results(path: str | Path, results: Results) -> None:
    write_json_atomic(path, schema.dump(results))
