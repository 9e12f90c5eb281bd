"""Static validation of a program graph, reporting every problem at once.

Checks (each problem names the node by id and operation): the graph is finite,
acyclic, of at most ``MAX_NODES`` nodes, and made of variables; ids are unique
identifiers; every basis has one size (``tokens`` is the vocabulary,
``positions`` is ``n_positions``, ``bool`` is 2, custom ones in
``1..MAX_BASIS_SIZE``); every operation's parameters and input types are right
(kinds, bases, table keys and values inside their bases, table shapes);
the output is ``cat[tokens]`` or ``vec[tokens]`` (``vec[tokens]`` for
token-set tasks); the total size stays under ``MAX_TOTAL_PARAMS``.
A node whose inputs are already broken is not re-reported.
"""

from __future__ import annotations

import re

from .errors import MAX_BASIS_SIZE, MAX_NODES, MAX_NOTES_CHARS, MAX_TOTAL_PARAMS, ProgramError
from .fields import NAME_RE
from .ops import CheckContext, Node
from .vtypes import ValueType

KINDS = ("token", "token_set")


def collect_nodes(output, problems: list[str]) -> list[Node]:
    """Every node the output depends on, inputs before users (iterative DFS postorder)."""
    if not isinstance(output, Node):
        problems.append(f"the output must be a program variable, got {type(output).__name__}")
        return []
    order: list[Node] = []
    state: dict[Node, int] = {}  # 1: on the stack, 2: done
    stack = [(output, iter(_inputs(output, problems)))]
    state[output] = 1
    while stack:
        node, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            state[node] = 2
            order.append(node)
            continue
        if state.get(child) == 1:
            problems.append(f"cycle through a node {child.op!r} {child.label or ''}".rstrip())
            return []
        if child not in state:
            if len(state) >= MAX_NODES:
                problems.append(f"more than {MAX_NODES} nodes")
                return []
            state[child] = 1
            stack.append((child, iter(_inputs(child, problems))))
    return order


def _inputs(node: Node, problems: list[str]) -> list[Node]:
    try:
        inputs = list(node.inputs())
    except Exception as err:  # a hand-built node with broken fields
        problems.append(f"node {node.op!r}: cannot read its inputs ({type(err).__name__})")
        return []
    bad = [v for v in inputs if not isinstance(v, Node)]
    if bad:
        problems.append(f"node {node.label or node.op!r}: an input is a {type(bad[0]).__name__}, not a program variable")
        return [v for v in inputs if isinstance(v, Node)]
    return inputs


def assign_ids(nodes: list[Node], problems: list[str]) -> dict[Node, str]:
    """Labels where given, else ``<op>_<n>`` (``tokens``/``indices`` for the inputs); duplicates are problems."""
    ids: dict[Node, str] = {}
    owner: dict[str, Node] = {}
    for node in nodes:
        if node.label is None:
            continue
        if not isinstance(node.label, str) or not NAME_RE.match(node.label) or len(node.label) > 64:
            problems.append(f"bad variable name {str(node.label)[:40]!r} (an identifier of at most 64 characters)")
            continue
        if node.label in owner:
            problems.append(f"name {node.label!r} is used by two different nodes ({owner[node.label].op}, {node.op})")
            continue
        if node.label in ("tokens", "indices") and node.op != node.label:
            problems.append(f"name {node.label!r} is the {node.label} input's; a {node.op} node cannot take it")
            continue
        owner[node.label] = node
        ids[node] = node.label
    counters: dict[str, int] = {}
    for node in nodes:
        if node in ids:
            continue
        if node.op in ("tokens", "indices") and node.op not in owner:
            name = node.op
        else:
            while True:
                counters[node.op] = counters.get(node.op, 0) + 1
                name = f"{node.op}_{counters[node.op]}"
                if name not in owner:
                    break
        owner[name] = node
        ids[node] = name
    return ids


def basis_sizes(nodes, ids, vocab_size: int, n_positions: int, problems: list[str]) -> dict[str, int]:
    """Every basis name -> size. A custom basis is sized where it is used with a size
    (``Basis("c", 4)``); other uses may name it alone (``basis="c"``)."""
    sizes = {"tokens": vocab_size, "positions": n_positions, "bool": 2}
    first: dict[str, str] = {}
    unsized: list[tuple[str, str]] = []
    for node in nodes:
        for basis in node.bases():
            where = f"node {ids[node]!r} ({node.op})"
            if not isinstance(basis.name, str) or not NAME_RE.match(basis.name) or len(basis.name) > 64:
                problems.append(f"{where}: bad basis name {str(basis.name)[:40]!r}")
                continue
            size = basis.size
            if basis.name in ("tokens", "positions", "bool"):
                if size is not None and size != sizes[basis.name]:
                    problems.append(f"{where}: basis {basis.name} has size {sizes[basis.name]}, not {size}")
                continue
            if size is None:
                unsized.append((where, basis.name))
                continue
            if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_BASIS_SIZE:
                problems.append(f"{where}: basis {basis.name} needs a size in 1..{MAX_BASIS_SIZE}, got {size!r}")
                continue
            if basis.name in sizes and sizes[basis.name] != size:
                problems.append(f"{where}: basis {basis.name} has size {size} here but {sizes[basis.name]} "
                                f"at node {first[basis.name]!r}")
                continue
            sizes[basis.name] = size
            first.setdefault(basis.name, ids[node])
    for where, name in unsized:
        if name not in sizes:
            problems.append(f"{where}: basis {name} has no size (write Basis({name!r}, n) where it is first used)")
    return sizes


def typecheck_all(nodes, ids, sizes, problems: list[str]) -> dict[Node, ValueType | None]:
    ctx = CheckContext(sizes)
    types: dict[Node, ValueType | None] = {}
    for node in nodes:
        in_types = [types.get(v) for v in node.inputs()]
        if any(t is None for t in in_types):
            types[node] = None  # an input is broken and already reported
            continue
        try:
            types[node] = node.typecheck(ctx, in_types)
        except ProgramError as err:
            problems.extend(f"node {ids[node]!r} ({node.op}): {p}" for p in err.problems)
            types[node] = None
        except Exception as err:  # a hand-built node with fields of the wrong type
            problems.append(f"node {ids[node]!r} ({node.op}): malformed ({type(err).__name__}: {str(err)[:80]})")
            types[node] = None
    return types


def check_metadata(vocab_size, kind, n_positions, name, problems: list[str], notes: str = "") -> None:
    for what, value in (("vocab_size", vocab_size), ("n_positions", n_positions)):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_BASIS_SIZE:
            problems.append(f"{what} must be an int in 1..{MAX_BASIS_SIZE}, got {str(value)[:30]}")
    if kind not in KINDS:
        problems.append(f"kind must be 'token' or 'token_set', got {str(kind)[:30]!r}")
    if not isinstance(name, str) or len(name) > 200 or not re.fullmatch(r"[\x20-\x7e]*", name):
        problems.append("name must be a printable string of at most 200 characters")
    if not isinstance(notes, str) or len(notes) > MAX_NOTES_CHARS or not re.fullmatch(r"[\x20-\x7e\n]*", notes):
        problems.append(f"notes must be printable text (lines of ASCII) of at most {MAX_NOTES_CHARS} characters")


def check_output(output_type: ValueType | None, kind: str, output_id: str, problems: list[str]) -> None:
    if output_type is None:
        return
    allowed = [ValueType("vec", "tokens")] + ([ValueType("cat", "tokens")] if kind == "token" else [])
    if output_type not in allowed:
        problems.append(f"the output {output_id!r} is {output_type}; a {kind} program outputs "
                        f"{' or '.join(str(t) for t in allowed)}")


def check_total_size(nodes, problems: list[str]) -> int:
    total = 0
    for node in nodes:
        try:
            total += int(node.n_params())
        except Exception:
            pass  # reported by the type check
    if total > MAX_TOTAL_PARAMS:
        problems.append(f"{total} parameters in all, more than {MAX_TOTAL_PARAMS}")
    return total
