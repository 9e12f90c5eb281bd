"""``oracle``: the task's ground-truth program, whatever the model does.

It ignores the model, so it is faithful exactly where the model is right: its
``match_acc`` tracks the model's accuracy, and it fails on models that do not
length-generalize. It is the upper bound on correctness, not on faithfulness.
"""

from __future__ import annotations

from bench.data.oracles import get_oracle
from bench.scoring.methods import register_method


@register_method()
class Oracle:
    """The task's ground-truth program, whatever the model does (an upper bound on correctness)."""

    name = "oracle"
    parameters: dict = {}

    def extract(self, model, task):
        return get_oracle(task.name)
