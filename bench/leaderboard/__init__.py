"""The leaderboard: submissions verified by re-scoring, and the pages built from them.

- :mod:`bench.leaderboard.submission`: the ``submission.json`` schema;
- :mod:`bench.leaderboard.init`: ``submission.json`` written from a run's ``results.json``;
- :mod:`bench.leaderboard.validate`: every check of a submission folder, in order;
- :mod:`bench.leaderboard.findings`: what validation finds (problems, verdicts) and its limits;
- :mod:`bench.leaderboard.model_check`: the checks of one model's entry;
- :mod:`bench.leaderboard.rescore`: the re-scoring of every program, in worker processes;
- :mod:`bench.leaderboard.harness`: what validation uses of the benchmark (zoo, tasks, scoring);
- :mod:`bench.leaderboard.verdicts`: accepted re-scorings recorded, so that ``build`` reuses them;
- :mod:`bench.leaderboard.progress`: progress bars and one line per submission;
- :mod:`bench.leaderboard.pr`: a pull request changes one submission folder and nothing else;
- :mod:`bench.leaderboard.tables`, :mod:`~bench.leaderboard.plots`,
  :mod:`~bench.leaderboard.html`, :mod:`~bench.leaderboard.build`: ``leaderboard/``.

Command line: ``python -m bench.leaderboard init|validate|build|check-pr`` (see ``__main__``).
"""
