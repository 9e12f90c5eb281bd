"""The JSON form of a program, and reading untrusted JSON safely.

::

    {"schema_version": 1, "name": "histogram", "kind": "token",
     "vocab_size": 8, "n_positions": 64,
     "bases": {"count": 65},                       # custom bases and their sizes
     "nodes": [{"id": "tokens", "op": "tokens"},
               {"id": "same", "op": "select", "keys": "tokens", "queries": "tokens", "predicate": "EQ"},
               {"id": "hist", "op": "selector_width", "selector": "same"}, ...],
     "output": "out"}

Nodes refer to each other by id; their other fields are each operation's own
(see ``to_fields`` of the classes in ``ops*.py``). :func:`to_json` writes the
nodes inputs-first; reading back and writing again gives the identical object.

:func:`from_json` treats its input as hostile: it bounds the text length and
nesting depth, checks every field's type, reports dangling ids, cycles,
duplicate ids and nodes that do not reach the output, then validates the
program. Nothing is imported or executed; the only exception it raises is
:class:`ProgramError`.
"""

from __future__ import annotations

import json

from . import fields as F
from .errors import MAX_BASIS_SIZE, MAX_JSON_CHARS, MAX_JSON_CONTAINERS, MAX_JSON_DEPTH, MAX_NODES, ProgramError
from .ops import OPS, Node, Tokens
from .vtypes import STANDARD_BASES, Basis

SCHEMA_VERSION = 1
_TOP_KEYS = ("schema_version", "name", "kind", "vocab_size", "n_positions", "bases", "nodes", "output")
_OPTIONAL_KEYS = ("notes",)  # written only when non-empty


def to_json(program) -> dict:
    bases = {name: size for name, size in sorted(program.sizes.items()) if name not in STANDARD_BASES}
    nodes = []
    for node in program.nodes:
        entry = {"id": program.ids[node], "op": node.op}
        entry.update(node.to_fields(lambda v: program.ids[v]))
        nodes.append(entry)
    out = {
        "schema_version": SCHEMA_VERSION,
        "name": program.name,
        "kind": program.kind,
        "vocab_size": program.vocab_size,
        "n_positions": program.n_positions,
        "bases": bases,
        "nodes": nodes,
        "output": program.ids[program.output],
    }
    if program.notes:
        out["notes"] = program.notes
    return out


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed")


def loads(text) -> object:
    """Parse JSON text with bounded size; NaN/Infinity and over-long integers are refused."""
    if isinstance(text, (bytes, bytearray)):
        if len(text) > MAX_JSON_CHARS:
            raise ProgramError(f"program JSON longer than {MAX_JSON_CHARS} bytes")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise ProgramError("program JSON is not UTF-8") from None
    if len(text) > MAX_JSON_CHARS:
        raise ProgramError(f"program JSON longer than {MAX_JSON_CHARS} characters")
    from bench.scoring import untrusted_json

    try:  # counted before parsing: a file of empty lists takes about 50 times its size in memory once parsed
        untrusted_json.check_structure(text, untrusted_json.JsonLimits(MAX_JSON_CHARS, MAX_JSON_DEPTH, MAX_JSON_CONTAINERS))
    except untrusted_json.JsonInputError as err:
        raise ProgramError(f"program {err}") from None
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise ProgramError(f"program JSON nested deeper than {MAX_JSON_DEPTH}") from None
    except (ValueError, TypeError, MemoryError, OverflowError) as err:
        raise ProgramError(f"not valid JSON ({str(err)[:80]})") from None


def _unique_keys(pairs: list) -> dict:
    """A JSON object whose keys are all different (a repeated key would hide one value: refused)."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen = set()
        repeated = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"the key {repeated[:40]!r} appears twice in one object")
    return out


def check_depth(obj, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse nesting deeper than ``limit`` (iteratively, so self-referencing objects end too)."""
    stack = [(obj, 1)]
    seen = 0
    while stack:
        value, level = stack.pop()
        if level > limit:
            raise ProgramError(f"program JSON nested deeper than {limit}")
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, (list, tuple)):
            children = value
            if not _CONTAINERS & set(map(type, value)):  # a flat list of numbers: nothing to descend into
                continue
        else:
            continue
        seen += 1
        if seen > 4 * MAX_NODES + 1_000_000:  # many containers: a huge (or self-referencing) object
            raise ProgramError("program JSON has too many lists and objects")
        for child in children:
            if isinstance(child, (dict, list, tuple)):
                stack.append((child, level + 1))


_CONTAINERS = {dict, list, tuple}


class _Placeholder(Tokens):
    """Stands in for an input while fields are first parsed (only ids are recorded)."""


def from_json(obj):
    """A validated :class:`Program` from a JSON object or text; raises only :class:`ProgramError`."""
    from .program import Program

    if isinstance(obj, (str, bytes, bytearray)):
        obj = loads(obj)
    _check_top_level(obj)
    basis = _basis_lookup(_read_bases(obj["bases"]))
    raw_nodes = obj["nodes"]
    if not isinstance(raw_nodes, list):
        raise ProgramError("field 'nodes' must be a list")
    if len(raw_nodes) > MAX_NODES:
        raise ProgramError(f"more than {MAX_NODES} nodes")
    raw_by_id, refs, declared, problems = _read_nodes(raw_nodes, basis)
    output_id = obj["output"]
    if not isinstance(output_id, str) or output_id not in declared:
        problems.append(f"the output {str(output_id)[:40]!r} is not a node id")
    if problems:
        raise ProgramError(problems)

    order = _topological_order(refs, problems)
    if problems:
        raise ProgramError(problems)
    reachable = _reachable(output_id, refs)
    unused = [i for i in raw_by_id if i not in reachable]
    if unused:
        raise ProgramError(f"node(s) {', '.join(repr(i) for i in unused[:5])} do not contribute to the output")

    # Pass 2: build the nodes, inputs first.
    built: dict[str, Node] = {}
    for node_id in order:
        raw = raw_by_id[node_id]
        node = OPS[raw["op"]].from_fields(raw, built.__getitem__, basis)
        object.__setattr__(node, "label", node_id)  # a fresh node of ours: name it in place
        built[node_id] = node
    name = obj["name"]
    return Program(built[output_id], vocab_size=obj["vocab_size"], kind=obj["kind"],
                   n_positions=obj["n_positions"], name=name if isinstance(name, str) else _bad_name(name),
                   notes=obj.get("notes", ""))


def _check_top_level(obj) -> None:
    """A JSON object with exactly the known top-level fields and this reader's schema version."""
    check_depth(obj)
    if not isinstance(obj, dict):
        raise ProgramError(f"a program is a JSON object, got {type(obj).__name__}")
    if "sidecar" in obj:
        raise ProgramError("the program keeps arrays in a sidecar file: read it with Program.load(path)")
    problems = [f"unknown top-level field {str(k)[:30]!r}" for k in obj if k not in _TOP_KEYS + _OPTIONAL_KEYS]
    problems += [f"missing top-level field {k!r}" for k in _TOP_KEYS if k not in obj]
    if problems:
        raise ProgramError(problems)
    version = obj["schema_version"]
    if not F.is_int(version) or version != SCHEMA_VERSION:
        raise ProgramError(f"schema_version {str(version)[:20]} is not supported (this reader knows {SCHEMA_VERSION})")


def _basis_lookup(sizes: dict[str, int]):
    """``basis(name) -> Basis``: a standard basis, or one declared in the program's ``bases``."""
    def basis(name: str) -> Basis:
        if name in STANDARD_BASES:
            return Basis(name, 2) if name == "bool" else Basis(name)
        if name not in sizes:
            raise ProgramError(f"basis {name!r} is not declared in 'bases'")
        return Basis(name, sizes[name])

    return basis


def _read_nodes(raw_nodes: list, basis):
    """Pass 1: check every node's fields and record the ids it refers to.

    Returns ``(raw_by_id, refs, declared, problems)``: the well-formed nodes by id, the ids each
    refers to, every well-formed id (parsed or not: no cascade of "unknown node"), and what is wrong.
    """
    problems: list[str] = []
    raw_by_id: dict[str, dict] = {}
    refs: dict[str, list[str]] = {}
    declared: set[str] = set()
    for position, raw in enumerate(raw_nodes):
        where = f"node #{position}"
        if not isinstance(raw, dict):
            problems.append(f"{where} is not an object")
            continue
        node_id, op = raw.get("id"), raw.get("op")
        if not isinstance(node_id, str) or not F.NAME_RE.match(node_id) or len(node_id) > 64:
            problems.append(f"{where}: 'id' must be an identifier of at most 64 characters")
            continue
        where = f"node {node_id!r}"
        if node_id in declared:
            problems.append(f"{where}: the id is used twice")
            continue
        declared.add(node_id)
        if not isinstance(op, str) or op not in OPS:
            problems.append(f"{where}: unknown op {str(op)[:30]!r} (known: {', '.join(OPS)})")
            continue
        seen: list[str] = []
        try:
            OPS[op].from_fields(raw, lambda i: (seen.append(i), _Placeholder())[1], basis)
        except ProgramError as err:
            problems.extend(f"{where} ({op}): {p}" for p in err.problems)
            continue
        raw_by_id[node_id] = raw
        refs[node_id] = seen
    for node_id, targets in refs.items():
        for target in targets:
            if target not in declared:
                problems.append(f"node {node_id!r} refers to unknown node {target!r}")
    return raw_by_id, refs, declared, problems


def _bad_name(name):
    raise ProgramError(f"field 'name' must be a string, got {type(name).__name__}")


def _read_bases(raw) -> dict[str, int]:
    if not isinstance(raw, dict):
        raise ProgramError("field 'bases' must be an object {name: size}")
    if len(raw) > MAX_NODES:
        raise ProgramError("too many bases")
    sizes = {}
    problems = []
    for name, size in raw.items():
        if not isinstance(name, str) or not F.NAME_RE.match(name) or len(name) > 64 or name in STANDARD_BASES:
            problems.append(f"bad custom basis name {str(name)[:40]!r} (an identifier, not tokens/positions/bool)")
        elif not F.is_int(size) or not 1 <= size <= MAX_BASIS_SIZE:
            problems.append(f"basis {name!r} needs a size in 1..{MAX_BASIS_SIZE}, got {str(size)[:30]}")
        else:
            sizes[name] = int(size)
    if problems:
        raise ProgramError(problems)
    return sizes


def _topological_order(refs: dict[str, list[str]], problems: list[str]) -> list[str]:
    """Kahn's algorithm; leftover nodes lie on or behind a cycle."""
    waiting = {i: len(set(targets)) for i, targets in refs.items()}
    users: dict[str, list[str]] = {i: [] for i in refs}
    for i, targets in refs.items():
        for t in set(targets):
            users[t].append(i)
    ready = [i for i, n in waiting.items() if n == 0]
    order = []
    while ready:
        i = ready.pop()
        order.append(i)
        for user in users[i]:
            waiting[user] -= 1
            if waiting[user] == 0:
                ready.append(user)
    if len(order) < len(refs):
        stuck = [i for i in refs if waiting[i] > 0]
        problems.append(f"cycle among node(s) {', '.join(repr(i) for i in stuck[:6])}")
    return order


def _reachable(output_id: str, refs: dict[str, list[str]]) -> set[str]:
    seen, stack = {output_id}, [output_id]
    while stack:
        for t in refs[stack.pop()]:
            if t not in seen:
                seen.add(t)
                stack.append(t)
    return seen
