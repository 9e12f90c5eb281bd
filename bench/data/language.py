"""Language tasks: a regular (or Dyck) language given by a minimal automaton, scored on the allowed-next sets.

A :class:`LanguageTask` has layout ``<bos> s <eos>``; the label at every
position is the set of tokens allowed after the prefix ending there, read off
the task's :class:`DFA` (``docs/tasks.md``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from bench.data.task import MAX_LENGTH, Task, TaskError, TaskKind, as_ids, short_text


@dataclass(frozen=True)
class DFA:
    """A complete, minimal deterministic automaton over the symbol ids ``0..n-1``.

    ``transitions[q][c]`` is the state after reading symbol ``c`` in state
    ``q``; state 0 is the start. Construction refuses an automaton that is not
    minimal (an unreachable state or two equivalent states), because the
    allowed-next sets of ``docs/tasks.md`` are defined on the minimal DFA.

    >>> ones = DFA.from_table({"q0": "dead q0", "dead": "dead dead"}, accepting=["q0"])
    >>> ones.accepts([1, 1]), ones.accepts([1, 0]), ones.dead_states
    (True, False, frozenset({1}))
    """

    transitions: tuple[tuple[int, ...], ...]
    accepting: frozenset[int]
    state_names: tuple[str, ...] = ()

    @classmethod
    def from_table(cls, table: dict[str, str], accepting) -> DFA:
        """Build from ``{state: "next states, one per symbol in alphabet order"}``; the first state starts."""
        names = tuple(table)
        index = {name: i for i, name in enumerate(names)}
        named = {n for row in table.values() for n in row.split()} | set(accepting)
        unknown = sorted(named - set(index))
        if unknown:
            raise ValueError(f"DFA table names unknown states {unknown}")
        rows = tuple(tuple(index[n] for n in row.split()) for row in table.values())
        return cls(rows, frozenset(index[n] for n in accepting), names)

    def __post_init__(self) -> None:
        n = len(self.transitions)
        widths = {len(row) for row in self.transitions}
        if n == 0 or len(widths) != 1 or widths == {0}:
            raise ValueError("a DFA needs at least one state and the same number of symbols in every row")
        if any(not 0 <= q < n for row in self.transitions for q in row) or any(not 0 <= q < n for q in self.accepting):
            raise ValueError("a DFA transition or accepting state is out of range")
        problem = self._minimality_problem()
        if problem:
            raise ValueError(f"the DFA is not minimal: {problem}")

    @property
    def n_states(self) -> int:
        return len(self.transitions)

    @property
    def n_symbols(self) -> int:
        return len(self.transitions[0])

    def name(self, state: int) -> str:
        return self.state_names[state] if self.state_names else f"q{state}"

    def run(self, string) -> list[int]:
        """The states after each prefix of ``string``: ``len(string) + 1`` of them."""
        state, states, table = 0, [0], self.transitions
        for symbol in string:
            state = table[state][symbol]
            states.append(state)
        return states

    def accepts(self, string) -> bool:
        return self.run(string)[-1] in self.accepting

    @property
    def dead_states(self) -> frozenset[int]:
        """States from which no accepting state can be reached (at most one in a minimal DFA)."""
        alive = set(self.accepting)
        changed = True
        while changed:
            grown = {q for q, row in enumerate(self.transitions) if any(r in alive for r in row)}
            changed = not grown <= alive
            alive |= grown
        return frozenset(range(self.n_states)) - alive

    def _minimality_problem(self) -> str:
        reachable, frontier = {0}, [0]
        while frontier:
            for r in self.transitions[frontier.pop()]:
                if r not in reachable:
                    reachable.add(r)
                    frontier.append(r)
        if len(reachable) < self.n_states:
            return f"state(s) {sorted(set(range(self.n_states)) - reachable)} unreachable"
        # Moore's partition refinement: start from accepting / rejecting, split until stable.
        block = [int(q in self.accepting) for q in range(self.n_states)]
        while True:
            signature = [(block[q], *(block[r] for r in row)) for q, row in enumerate(self.transitions)]
            numbering = {s: i for i, s in enumerate(dict.fromkeys(signature))}
            refined = [numbering[s] for s in signature]
            if len(set(refined)) == len(set(block)):
                break
            block = refined
        for p in range(self.n_states):
            for q in range(p + 1, self.n_states):
                if block[p] == block[q]:
                    return f"states {self.name(p)} and {self.name(q)} are equivalent"
        return ""


@dataclass(frozen=True)
class LanguageTask(Task):
    """A regular language as a next-token-set task: sequences ``<bos> s <eos>``.

    The label at position t (``<bos>`` through the last symbol) is the set of
    tokens allowed after the prefix ending at t: every symbol whose transition
    does not lead to the dead state of the minimal DFA, plus ``<eos>`` if the
    prefix is in the language. Subclasses provide :meth:`sample_string`, which
    must return a word of the language.
    """

    dfa: DFA

    kind: ClassVar[TaskKind] = "token_set"

    def sample_string(self, length: int, rng: np.random.Generator) -> list[int]:
        """A word of the language with ``length`` symbols (the positive sampler)."""
        raise NotImplementedError

    def sample(self, length: int, rng: np.random.Generator) -> list[int]:
        self.require_valid_length(length)
        string = self.sample_string(length, rng)
        if len(string) != length or not self.dfa.accepts(string):  # a sampler bug, never bad input
            raise RuntimeError(f"{self.name}: the sampler produced a string outside the language")
        return [self.vocab.bos, *string, self.vocab.eos]

    @functools.cached_property
    def allowed_table(self) -> np.ndarray:
        """``(n_states, V)`` bool: the allowed-next set in each DFA state (read-only)."""
        v, dead = self.vocab, self.dfa.dead_states
        table = np.zeros((self.dfa.n_states, v.size), dtype=bool)
        for q, row in enumerate(self.dfa.transitions):
            table[q, : v.n_symbols] = [r not in dead for r in row]
            table[q, v.eos] = q in self.dfa.accepting
        table.flags.writeable = False
        return table

    def allowed_next(self, string) -> np.ndarray:
        """``(len(string) + 1, V)`` bool: the allowed-next set after every prefix."""
        return self.allowed_table[self.dfa.run(string)]

    def length_of(self, ids: list[int]) -> int:
        return len(ids) - 2

    def offset_max(self, ids: list[int]) -> int:
        return MAX_LENGTH - self.length_of(ids)

    def targets(self, ids: list[int]) -> list[list[int]]:
        """The 0/1 allowed-next vector at every scored position (``<bos>`` .. last symbol)."""
        return self.allowed_next([int(i) for i in ids[1:-1]]).astype(np.int8).tolist()

    def labels(self, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        length = len(ids)
        mask = np.zeros(length, dtype=bool)
        mask[: length - 1] = True  # the <eos> position is not scored
        labels = np.zeros((length, self.vocab_size), dtype=bool)
        labels[: length - 1] = self.allowed_next([int(i) for i in ids[1:-1]])
        return mask, labels

    def check(self, ids: list[int]) -> None:
        ids = as_ids(self, ids)
        v = self.vocab
        if len(ids) < 2 or ids[0] != v.bos or ids[-1] != v.eos:
            raise TaskError(f"{self.name}: a sequence must be <bos> s <eos>")
        string = ids[1:-1]
        if any(i >= v.n_symbols for i in string):
            raise TaskError(f"{self.name}: special token inside the string: {short_text(self, ids, 40)}")
        self.require_valid_length(len(string))
        if not self.dfa.accepts(string):
            raise TaskError(f"{self.name}: {short_text(self, string, 40)!r} is not in the language")
