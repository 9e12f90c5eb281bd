"""The leaderboard: submissions verified by re-scoring, and the pages built from them.

- :mod:`bench.leaderboard.submission`: the ``submission.json`` schema;
- :mod:`bench.leaderboard.validate`: every check, and the re-scoring of every program;
- :mod:`bench.leaderboard.harness`: what validation uses of the benchmark (zoo, tasks, scoring);
- :mod:`bench.leaderboard.tables`, :mod:`~bench.leaderboard.plots`,
  :mod:`~bench.leaderboard.html`, :mod:`~bench.leaderboard.build`: ``leaderboard/``.

Command line: ``python -m bench.leaderboard validate|build`` (see ``__main__``).
"""
