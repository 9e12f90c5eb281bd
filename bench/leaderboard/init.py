"""``python -m bench.leaderboard init FOLDER``: write ``submission.json`` from the folder's ``results.json``.

    python -m bench.leaderboard init submissions/my-method
    python -m bench.leaderboard init submissions/my-method --author "Ada Lovelace" --author "Alan Turing" \\
        --contact ada@example.org --description "Prunes heads, then ..." --code https://github.com/me/my-method

Taken from ``results.json``: ``method`` (the method's name), ``bench_version``
and ``lengths_seen`` when the results record the lengths the method looked at
(:func:`bench.leaderboard.submission.recorded_lengths`); ``date`` is today.
Authors, contact and description (and the optional paper and code links) come
from the options; what they leave out is asked for when stdin is a terminal,
and otherwise written as a ``"FILL IN: ..."`` placeholder, which ``validate``
rejects with a message saying to fill it in. An existing ``submission.json`` is
kept unless ``--force``. The file written is read back and every problem left
in it is listed.
"""

from __future__ import annotations

import datetime
import json
import re
import sys
from pathlib import Path

from bench.errors import BenchError
from bench.leaderboard.submission import (
    PLACEHOLDER,
    RESULTS_FILE,
    SUBMISSION_FILE,
    SubmissionError,
    is_placeholder,
    read_submission,
    recorded_lengths,
)
from bench.scoring.schema import printable

#: What each placeholder asks for.
WANTED = {
    "authors": "your name(s), in the order you want to be cited",
    "contact": "an e-mail address or GitHub handle for questions about the entry",
    "description": "what the method does, in a few plain-text sentences",
    "lengths_seen": 'the input lengths the method looked at: [lo, hi] (e.g. [0, 50]) or "all"',
}


class InitError(BenchError):
    """A folder that cannot be given a submission.json; the message is one line."""


def lengths_argument(text: str) -> list[int] | str:
    """``"0-50"``, ``"[0, 50]"`` or ``"all"`` -> ``[0, 50]`` or ``"all"`` (for ``--lengths-seen`` and the prompt).

    >>> lengths_argument("0-50"), lengths_argument("[0, 150]"), lengths_argument("all")
    ([0, 50], [0, 150], 'all')
    """
    text = text.strip()
    if text == "all":
        return text
    found = re.fullmatch(r"\[?\s*([0-9]{1,6})\s*[-,]\s*([0-9]{1,6})\s*\]?", text)
    if not found:
        raise ValueError(f"{text!r} is not lo-hi (e.g. 0-50) or all")
    return [int(found.group(1)), int(found.group(2))]


def draft(results, given: dict) -> dict:
    """The manifest: ``given`` (authors, contact, description, lengths_seen, paper, code; None where not
    given) over what ``results`` says, placeholders for the rest, in the schema's field order."""
    lengths = given.get("lengths_seen") or recorded_lengths(results)
    return {
        "method": results.method.name,
        "authors": given.get("authors") or [placeholder("authors")],
        "contact": given.get("contact") or placeholder("contact"),
        "description": given.get("description") or placeholder("description"),
        "date": datetime.date.today().isoformat(),
        "bench_version": results.bench_version,
        "lengths_seen": lengths if lengths is not None else placeholder("lengths_seen"),
        "paper": given.get("paper") or None,
        "code": given.get("code") or None,
    }


def placeholder(name: str) -> str:
    return f"{PLACEHOLDER} {WANTED[name]}"


def ask(given: dict, results, prompt=None) -> dict:
    """``given`` completed by asking for every value it lacks (an empty answer leaves it out); the optional
    links are asked for only along with a missing author, contact or description."""
    prompt = prompt or input
    answers = dict(given)
    links_too = not all(given.get(name) for name in ("authors", "contact", "description"))

    def question(name: str, text: str) -> str:
        try:
            return prompt(f"{name} ({text}): ").strip()
        except EOFError:
            return ""

    if not answers.get("authors"):
        names = question("authors", "names separated by ';', in citation order")
        answers["authors"] = [n.strip() for n in names.split(";") if n.strip()]
    if not answers.get("contact"):
        answers["contact"] = question("contact", "an e-mail address or GitHub handle")
    if not answers.get("description"):
        answers["description"] = question("description", "what the method does, a few sentences on one line")
    if not answers.get("lengths_seen") and recorded_lengths(results) is None:
        while True:
            text = question("lengths_seen", "lo-hi, e.g. 0-50, or all; Enter to decide later")
            try:
                answers["lengths_seen"] = lengths_argument(text) if text else None
                break
            except ValueError as exc:
                print(f"  {exc}", file=sys.stderr)
    for name in ("paper", "code"):
        if links_too and not answers.get(name):
            answers[name] = question(name, "an https:// link, Enter for none")
    return answers


def load_folder_results(folder: Path):
    """The folder's results.json, or :class:`InitError` saying what to do."""
    from bench.scoring.results import ResultsError, load_results

    if not folder.is_dir():
        raise InitError(f"{folder.as_posix()}: not a folder")
    path = folder / RESULTS_FILE
    if not path.exists():
        raise InitError(f"{path.as_posix()}: missing; score the method into this folder first "
                        f"(python -m bench.evaluate METHOD --out {folder.as_posix()})")
    try:
        return load_results(path)
    except ResultsError as exc:
        raise InitError(str(exc)) from None


_EXISTS = "{}: exists already; edit it, or pass --force to write a new one"


def write(path: Path, manifest: dict, force: bool) -> None:
    """Write ``manifest``; refuse to replace an existing file unless ``force``."""
    text = json.dumps(manifest, indent=1, ensure_ascii=False) + "\n"
    try:
        with open(path, "w" if force else "x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise InitError(_EXISTS.format(printable(path.as_posix(), 300))) from None
    except OSError as exc:
        raise InitError(f"{path.as_posix()}: cannot be written ({exc.strerror or exc})") from None


def init(folder: Path, given: dict, force: bool = False, interactive: bool | None = None, stream=None) -> Path:
    """Write ``folder/submission.json`` (see the module docstring), say what is left to do in it, and
    return its path; :class:`InitError` when nothing was written. ``interactive``: ask for what
    ``given`` lacks (default: when stdin is a terminal)."""
    stream = stream or sys.stdout
    folder = Path(folder)
    results = load_folder_results(folder)
    path = folder / SUBMISSION_FILE
    if path.exists() and not force:
        raise InitError(_EXISTS.format(printable(path.as_posix(), 300)))
    if interactive if interactive is not None else sys.stdin.isatty():
        given = ask(given, results)
    manifest = draft(results, given)
    write(path, manifest, force)
    lengths = manifest["lengths_seen"]
    source = "to fill in" if is_placeholder(lengths) else "given" if given.get("lengths_seen") else "from results.json"
    print(f"wrote {printable(path.as_posix(), 300)}: method {printable(repr(manifest['method']), 100)}, "
          f"bench_version {printable(manifest['bench_version'], 40)}, date {manifest['date']}, lengths_seen "
          f"{printable(json.dumps(lengths), 120)} ({source})", file=stream)
    try:
        read_submission(path)
    except SubmissionError as exc:
        print(f"still to do in {SUBMISSION_FILE}:", file=stream)
        for problem in exc.problems:
            print(f"  {printable(problem, 500)}", file=stream)
    print(f"next: python -m bench.leaderboard validate {printable(folder.as_posix(), 300)}", file=stream)
    return path
