"""Re-scoring every program of the submissions being validated, ``jobs`` models at a time.

The programs of one model are scored together in a worker process (the model's
predictions and splits loaded once); the parent records each outcome in its
:class:`~bench.leaderboard.model_check.ModelCheck` as it arrives.
"""

from __future__ import annotations

from bench.leaderboard.model_check import ModelCheck
from bench.leaderboard.progress import Progress


def rescore(checks: list[ModelCheck], harness, progress: Progress | None = None, jobs: int = 1) -> None:
    """Run the programs, model by model: each model's batches are made once for every submission that uses it.

    With ``jobs > 1`` the programs are scored first in that many worker processes (one model
    at a time per worker, the most expensive first); the checks then compare as usual.
    ``progress`` is told of every program scored and checked.
    """
    progress = progress or Progress(quiet=True)
    by_model: dict[str, list[ModelCheck]] = {}
    programs: dict[str, int] = {}
    for check in checks:
        by_model.setdefault(check.result.model.id, []).append(check)
        programs[check.folder] = programs.get(check.folder, 0) + 1
    progress.rescoring(programs)
    try:
        ahead = jobs > 1 and any(c.options.rescore for c in checks) and _score_ahead(by_model, harness, jobs, progress)
        for model_id in sorted(by_model):
            if not ahead:
                progress.model(model_id)
            for check in by_model[model_id]:
                try:
                    check.rescore()
                except Exception as exc:  # noqa: BLE001 -- as in _static_checks
                    check.verdict.add_internal_error(exc, f"re-scoring {check.where}")
                if not ahead:
                    progress.scored()
                progress.program_done(check.folder)
    finally:
        progress.close()


_AHEAD: dict[str, list[ModelCheck]] = {}  # the work of _score_ahead, inherited by its forked workers
_AHEAD_SCORED = None  # the programs the workers scored, shared with the parent (a multiprocessing.Value)


def _score_model(model_id: str) -> tuple[str, list]:
    """Worker: every program of one model scored (outcomes in check order); a model that fails to load gives None."""
    from bench.models.model import ModelError

    checks = _AHEAD[model_id]
    try:
        checks[0].harness.load_model(model_id)
    except ModelError:
        with _AHEAD_SCORED.get_lock():
            _AHEAD_SCORED.value += len(checks)
        return model_id, [None] * len(checks)  # rescore() reports it, in the parent
    outcomes = []
    for check in checks:
        outcomes.append(check.score())
        with _AHEAD_SCORED.get_lock():  # the parent's progress bar reads it
            _AHEAD_SCORED.value += 1
    return model_id, outcomes


def _score_ahead(by_model: dict[str, list[ModelCheck]], harness, jobs: int, progress: Progress) -> bool:
    """Score every program in ``jobs`` forked processes and keep the outcomes on the checks; False
    where processes cannot be forked (Windows: :func:`_rescore` scores in this process)."""
    import multiprocessing

    global _AHEAD_SCORED
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    cost = {m: sum(c.program.n_params + 1000 for c in cs) * max(c.task.n_positions for c in cs)
            for m, cs in by_model.items()}
    order = sorted(by_model, key=lambda m: -cost[m])
    context = multiprocessing.get_context("fork")
    _AHEAD.clear()
    _AHEAD.update(by_model)
    _AHEAD_SCORED = context.Value("q", 0)
    try:
        with context.Pool(min(jobs, len(order))) as pool:
            pending = pool.imap_unordered(_score_model, order)
            for done in range(1, len(order) + 1):
                model_id, outcomes = _next_outcome(pending, progress)
                for check, outcome in zip(by_model[model_id], outcomes):
                    check.scored = outcome
                progress.scored_until(_AHEAD_SCORED.value)
                progress.model(f"{done}/{len(order)} models done")
    finally:
        _AHEAD.clear()
        _AHEAD_SCORED = None
    return True


def _next_outcome(pending, progress: Progress):
    """The next model a worker finished; meanwhile the bar follows the workers' shared count."""
    import multiprocessing

    while True:
        try:
            return pending.next(timeout=0.5)
        except multiprocessing.TimeoutError:
            progress.scored_until(_AHEAD_SCORED.value)
