"""The one exception type that untrusted programs can raise, and the size limits.

Programs arrive from submissions, so everything about them is bounded: the
number of nodes, basis and table sizes, expression length and depth, the
nesting of the JSON. A violated bound is reported like any other problem, as a
:class:`ProgramError` with a one-line message naming the node.
"""

from __future__ import annotations

from bench.errors import BenchError


class ProgramError(BenchError):
    """A malformed, ill-typed or oversized program (or bad input to an interpreter).

    ``problems`` lists every problem found (validation reports all of them at
    once); the message is one line joining them.
    """

    def __init__(self, problems: str | list[str]):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        shown = self.problems[:20]
        more = f"; ... and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        prefix = f"{len(self.problems)} problems: " if len(self.problems) > 1 else ""
        super().__init__(prefix + "; ".join(p.replace("\n", " ") for p in shown) + more)


#: Bounds enforced by validation (a program exceeding one is rejected).
MAX_NODES = 4096  # nodes in one program, inputs included
MAX_NAME_CHARS = 64  # node ids, basis names, program name
MAX_NOTES_CHARS = 20_000  # the program's free-text notes
MAX_BASIS_SIZE = 4096  # categories of a basis (vocabulary, positions, custom)
MAX_TABLE_ENTRIES = 1 << 20  # entries of one table or weight matrix
MAX_TOTAL_PARAMS = 1 << 23  # n_params of a whole program
MAX_TERMS = 64  # score terms of a soft selector, readout terms
MAX_MLP_LAYERS = 8
MAX_EXPR_CHARS = 1000  # source characters of one expression
MAX_EXPR_NODES = 256  # syntax-tree nodes of one expression
MAX_EXPR_DEPTH = 32  # syntax-tree depth of one expression
MAX_CONSTANT = 1e12  # largest magnitude of a number written in a program
MAX_JSON_DEPTH = 16  # nesting of lists/objects in a program's JSON form
MAX_JSON_CHARS = 1 << 28  # characters of a program's JSON text
MAX_JSON_CONTAINERS = 1 << 20  # lists and objects in a program's JSON text (the largest shipped: 22,097)
#: Every computed number is clipped to [-MAX_VALUE, MAX_VALUE] (NaN becomes 0),
#: so values stay finite whatever a program computes.
MAX_VALUE = 1e30
