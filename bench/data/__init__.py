"""The task layer: task formats and their registry (``task``, ``language``), the frozen test splits (``splits``), the oracle programs' registry (``oracles``).

The tasks themselves live in ``tasks/`` (installed as ``bench.tasks``).
"""
