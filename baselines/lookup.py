"""``lookup``: the current token decides the output — the benchmark's lower bound.

The program is one table from the token at a position to the prediction the
model makes most often after that token, estimated on sampled
training-length inputs (lengths 0-50, positions from 0). Tokens never seen at
a scored position get the model's most frequent prediction overall. For
token-set tasks the "prediction" is the whole allowed-next set, and the table
becomes a readout of +1/-1 logits.

A task whose output depends on more than the current token (copying, sorting,
counting beyond one step) defeats it; that is the point of a lower bound.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

import bench.program as rasp
from bench.models.predict import predict
from bench.scoring.methods import register_method


@register_method()
class Lookup:
    """One table from the current token to the model's most frequent prediction (the lower bound)."""

    name = "lookup"

    def __init__(self, n_samples: int = 1024, max_length: int = 50):
        self.n_samples = n_samples
        self.max_length = max_length

    @property
    def parameters(self) -> dict:
        return {"n_samples": self.n_samples, "lengths": [0, self.max_length]}

    def extract(self, model, task):
        batch = task.sample_batch(self.n_samples, 0, self.max_length, offsets=False)
        predictions = predict(model, batch, task.kind)
        rows, cols = np.nonzero(batch.label_mask)
        current = batch.input_ids[rows, cols]
        seen = predictions[rows, cols]  # (N,) token ids or (N, V) sets
        if task.kind == "token":
            return rasp.Program.for_task(task, self._token_table(current, seen), name="lookup")
        return rasp.Program.for_task(task, self._set_readout(current, seen, task.vocab_size), name="lookup")

    @staticmethod
    def _most_frequent(current: np.ndarray, outputs: list) -> tuple[dict, object]:
        """Per current token, its most frequent output (ties: the smallest); and the overall one."""
        by_token: dict[int, Counter] = defaultdict(Counter)
        for token, output in zip(current.tolist(), outputs):
            by_token[token][output] += 1
        overall = Counter(outputs)

        def top(counter: Counter):
            return min(counter.items(), key=lambda kv: (-kv[1], kv[0]))[0]

        return {token: top(counter) for token, counter in by_token.items()}, (top(overall) if outputs else None)

    def _token_table(self, current: np.ndarray, seen: np.ndarray):
        table, fallback = self._most_frequent(current, seen.tolist())
        return rasp.map(rasp.tokens, table, basis="tokens", default=fallback or 0).named("lookup")

    def _set_readout(self, current: np.ndarray, seen: np.ndarray, vocab_size: int):
        sets = [tuple(np.flatnonzero(row).tolist()) for row in seen]
        table, fallback = self._most_frequent(current, sets)
        logits = np.full((vocab_size, vocab_size), -1.0)
        for token in range(vocab_size):
            logits[token, list(table.get(token, fallback or ()))] = 1.0
        return rasp.readout((rasp.tokens, logits)).named("lookup")
