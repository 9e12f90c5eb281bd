"""Pretty-printing a program as readable RASP-style code.

One operation per line, ``name = operation(arguments)  # type``, inputs
first, ending in ``output = <name>``. Selectors and selector logic that have
no name of their own (an automatic id like ``select_3``) and are used once are
written inline where they are used, e.g.::

    hist = aggregate(select(tokens, tokens, ==), numerical(tokens == 3))  # num

Expressions are shown with the argument names substituted for ``x``/``y``;
large tables are summarized by their shape.
"""

from __future__ import annotations

import re

_INLINE = ("select", "selector_and", "selector_or", "selector_not")


def pretty(program) -> str:
    uses: dict = {}
    for node in program.nodes:
        for v in node.inputs():
            uses[v] = uses.get(v, 0) + 1
    inline = {
        node for node in program.nodes
        if node.op in _INLINE and uses.get(node, 0) == 1 and node is not program.output
        and re.fullmatch(rf"{node.op}_\d+", program.ids[node])
    }
    text: dict = {}
    lines = [f"# {program.name}: {program.kind} program, vocab_size={program.vocab_size}, "
             f"n_positions={program.n_positions}; n_ops={program.n_ops}, depth={program.depth}, "
             f"n_params={program.n_params}"]
    lines += [f"#   {line}".rstrip() for line in program.notes.splitlines()]
    for node in program.nodes:
        if node.op in ("tokens", "indices"):
            text[node] = program.ids[node]
            continue
        rendered = node.render([text[v] for v in node.inputs()], program.types[node])
        if node in inline:
            text[node] = f"({rendered})" if node.op in ("selector_and", "selector_or") else rendered
            continue
        text[node] = program.ids[node]
        lines.append(f"{program.ids[node]} = {rendered}  # {program.types[node]}")
    if program.ids[program.output] != "output":
        lines.append(f"output = {program.ids[program.output]}")
    return "\n".join(lines)
