"""The :class:`Program`: an output variable plus the metadata of the task it solves.

A program is pure data. Building one validates it (every problem at once,
:mod:`.validate`); it has a JSON form (:mod:`.serialize`), a printed form
(:mod:`.pretty`) and sizes (:mod:`.size`). Two programs are equal when their
JSON forms are equal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from . import arrays as _arrays
from . import pretty as _pretty
from . import serialize as _serialize
from . import size as _size
from . import validate as V
from .errors import ProgramError
from .ops import Node
from .vtypes import ValueType


@dataclass(frozen=True, eq=False)
class Program:
    """A validated program; raises :class:`ProgramError` listing every problem.

    ``kind`` is ``"token"`` (output ``cat[tokens]``, or ``vec[tokens]`` logits
    read by argmax) or ``"token_set"`` (output ``vec[tokens]`` read as
    ``logit > 0``). ``n_positions`` sizes the ``positions`` basis of
    ``indices``; sequences may be at most that long.

    Derived, read-only: ``nodes`` (inputs before users), ``ids`` (node ->
    id), ``by_id``, ``types`` (node -> :class:`ValueType`), ``sizes`` (basis
    name -> size).
    """

    output: Node
    vocab_size: int
    kind: str
    n_positions: int
    name: str = "program"
    notes: str = ""  # free text from the method (how the program was obtained); shown, never executed

    nodes: tuple[Node, ...] = field(init=False, repr=False)
    ids: dict = field(init=False, repr=False)
    by_id: dict = field(init=False, repr=False)
    types: dict = field(init=False, repr=False)
    sizes: dict = field(init=False, repr=False)

    def __post_init__(self):
        problems: list[str] = []
        V.check_metadata(self.vocab_size, self.kind, self.n_positions, self.name, problems, self.notes)
        if problems:
            raise ProgramError(problems)
        nodes = V.collect_nodes(self.output, problems)
        if problems:
            raise ProgramError(problems)
        ids = V.assign_ids(nodes, problems)
        sizes = V.basis_sizes(nodes, ids, self.vocab_size, self.n_positions, problems) if not problems else {}
        if problems:
            raise ProgramError(problems)
        types = V.typecheck_all(nodes, ids, sizes, problems)
        V.check_output(types[self.output], self.kind, ids[self.output], problems)
        V.check_total_size(nodes, problems)
        if problems:
            raise ProgramError(problems)
        for key, value in (("nodes", tuple(nodes)), ("ids", ids), ("types", types), ("sizes", sizes),
                           ("by_id", {i: n for n, i in ids.items()})):
            object.__setattr__(self, key, value)

    @classmethod
    def for_task(cls, task, output: Node, name: str | None = None, notes: str = "") -> "Program":
        """A program with the vocabulary size, kind and ``n_positions`` of ``task`` (and the method's ``notes``)."""
        return cls(output, vocab_size=task.vocab_size, kind=task.kind, n_positions=task.n_positions,
                   name=name or task.name, notes=notes)

    # ----- JSON ---------------------------------------------------------------
    def to_json(self) -> dict:
        """The JSON object (with ``schema_version``); ``Program.from_json`` reads it back exactly."""
        return _serialize.to_json(self)

    def dumps(self, indent: int | None = None) -> str:
        return json.dumps(self.to_json(), indent=indent)

    @staticmethod
    def from_json(obj) -> "Program":
        """Read a program from a JSON object or text, validating it; raises only :class:`ProgramError`."""
        return _serialize.from_json(obj)

    def save(self, path, *, round_float32: bool = False) -> str:
        """Write ``path`` (JSON) and, for arrays of more than 64 entries, a ``.safetensors`` sidecar beside it.

        Both are written atomically, the sidecar first; returns the sha256 of the
        JSON bytes, which records the sidecar's sha256 (see :mod:`.arrays`).
        ``round_float32`` stores every big array as float32 even where that
        changes its values.
        """
        return _arrays.save(self, path, round_float32=round_float32)

    @staticmethod
    def load(path) -> "Program":
        """Read a file written by :meth:`save` (or an all-JSON one); raises only :class:`ProgramError`."""
        return _arrays.load(path)

    def __eq__(self, other) -> bool:
        return isinstance(other, Program) and self._canonical() == other._canonical()

    def __hash__(self) -> int:
        return hash(self._canonical())

    def _canonical(self) -> str:
        cached = self.__dict__.get("_canonical_text")
        if cached is None:
            cached = json.dumps(self.to_json(), sort_keys=True)
            object.__setattr__(self, "_canonical_text", cached)
        return cached

    # ----- reading it -----------------------------------------------------------
    def pretty(self) -> str:
        """Readable RASP-style code, one operation per line."""
        return _pretty.pretty(self)

    def __str__(self) -> str:
        return self.pretty()

    def type_of(self, node_or_id) -> ValueType:
        node = self.by_id[node_or_id] if isinstance(node_or_id, str) else node_or_id
        return self.types[node]

    @property
    def n_ops(self) -> int:
        return _size.n_ops(self)

    @property
    def depth(self) -> int:
        return _size.depth(self)

    @property
    def n_params(self) -> int:
        return _size.n_params(self)

    def size(self) -> dict[str, int]:
        """``{"n_ops": ..., "depth": ..., "n_params": ...}``."""
        return _size.size(self)
