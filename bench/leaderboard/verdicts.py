"""Verdicts that ``validate`` keeps for ``build``: a submission is re-scored once per version of its files.

When ``validate`` (or ``build``) re-scores a submission and accepts it, it writes
a small record into this machine's cache, named by the submission's key
(:func:`submission_key`), the sha256 of

- every file of the submission folder: its path and the sha256 of its bytes
  (a link by its target, anything else by its kind: nothing is followed);
- the benchmark: the rasp-bench version and the sha256 of the ``bench``
  package's source files (the version alone stays the same across commits
  that change the interpreter);
- the zoo: every model's id, weights sha256 and stored-predictions sha256.

``build`` then re-scores only the submissions without a record for their
current key; the static checks run every time. A changed file, another
benchmark or a re-made zoo model gives another key, so a record can only be
reused for exactly what was re-scored. The records are this machine's own
findings, trusted as its prediction cache is, and never shipped: CI's
``validate`` re-scores everything whatever is recorded.

Where: ``$RASP_BENCH_VERDICTS``, else ``verdicts/`` in the benchmark's cache
folder (``$RASP_BENCH_CACHE``, default ``~/.cache/rasp-bench``, see
:func:`bench.data.splits.cache_root`). One JSON file per key, written atomically.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import stat
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import bench

ENV = "RASP_BENCH_VERDICTS"
RECORD_FORMAT = 1
MAX_FILES = 10_000  # entries of a submission folder worth hashing; a bigger folder is re-scored every time
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Record:
    """One accepted re-scoring."""

    key: str  # submission_key() of the folder when it was re-scored
    folder: str  # as it was given then (for the reader; the key is what counts)
    method: str
    programs: int  # programs re-scored
    validated: str  # ISO 8601 UTC time of the re-scoring
    record_format: int = RECORD_FORMAT


def cache_folder() -> Path:
    """``$RASP_BENCH_VERDICTS``, else ``<benchmark cache>/verdicts``."""
    from bench.data.splits import cache_root

    return Path(os.environ.get(ENV) or cache_root() / "verdicts")


def submission_key(folder: Path, zoo: dict) -> str | None:
    """The sha256 naming one version of a submission (see the module docstring); None when the folder
    has more than :data:`MAX_FILES` entries or cannot be read."""
    digest = hashlib.sha256(f"rasp-bench verdict {RECORD_FORMAT}\n".encode())
    digest.update(f"bench {bench.__version__} {_code_sha256()}\n".encode())
    for model_id in sorted(zoo):
        ref = zoo[model_id]
        predictions = (ref.entry or {}).get("predictions_sha256")
        digest.update(f"zoo {model_id} {ref.weights_sha256} {predictions}\n".encode())
    try:
        entries = _entries(Path(folder))
    except OSError:
        return None
    if entries is None:
        return None
    for line in entries:
        digest.update(line.encode("utf-8", "surrogateescape") + b"\n")
    return digest.hexdigest()


def _entries(folder: Path) -> list[str] | None:
    """``"file PATH SHA256"``, ``"link PATH TARGET"`` or ``"other PATH"`` for everything under ``folder``, sorted."""
    lines, stack, seen = [], [folder], 0
    while stack:
        current = stack.pop()
        with os.scandir(current) as found:
            for entry in found:
                seen += 1
                if seen > MAX_FILES:
                    return None
                path = Path(entry.path).relative_to(folder).as_posix()
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(info.st_mode):
                    stack.append(Path(entry.path))
                elif stat.S_ISLNK(info.st_mode):
                    lines.append(f"link {path} {os.readlink(entry.path)}")
                elif stat.S_ISREG(info.st_mode):
                    lines.append(f"file {path} {_file_sha256(Path(entry.path))}")
                else:
                    lines.append(f"other {path}")
    return sorted(lines)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=1)
def _code_sha256() -> str:
    """sha256 of the ``bench`` package's Python files (paths and bytes)."""
    root = Path(bench.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\n" + path.read_bytes())
    return digest.hexdigest()


class VerdictCache:
    """The records in one folder (default :func:`cache_folder`)."""

    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder) if folder is not None else cache_folder()

    def find(self, key: str | None) -> Record | None:
        """The record for ``key``, or None (none, unreadable, or of another format)."""
        if key is None:
            return None
        try:
            data = json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
            record = Record(**data)
        except (OSError, ValueError, TypeError):
            return None
        return record if record.key == key and record.record_format == RECORD_FORMAT else None

    def record(self, key: str | None, folder: str, method: str, programs: int) -> Record | None:
        """Keep an accepted re-scoring; None when there is no key or the folder cannot be written."""
        if key is None:
            return None
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
        record = Record(key, folder, method, programs, now)
        path = self.folder / f"{key}.json"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            partial.write_text(json.dumps(asdict(record), indent=1) + "\n", encoding="utf-8")
            os.replace(partial, path)
        except OSError:
            return None  # a cache that cannot be written costs a re-scoring later, nothing else
        return record
