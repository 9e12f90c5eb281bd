"""The decompiler's report as the program's notes: how this program was obtained, in a few lines.

Match accuracies here are the method's own, on its fixed evaluation set
(``Config.eval_size`` sequences of lengths ``[0, max_length]``), not the
harness's scores on the frozen test splits.
"""

from __future__ import annotations


def _lam(x: float) -> str:
    """λ in one significant figure where that says it (the grid's values), else two."""
    return f"{x:.0e}" if abs(float(f"{x:.0e}") - x) <= 1e-9 * abs(x) else f"{x:.1e}"


def _runs(report: dict, stage: int) -> str:
    runs = [r for r in report.get("runs", []) if r["stage"] == stage]
    unit = "terms" if stage == 3 else "edges"
    return "; ".join(f"lambda {_lam(r['lambda'])}: {r['edges']} {unit} {r['acc']:.3f} ({r['steps']} steps"
                     + (f", from graph {r['point'] + 1}" if "point" in r else "")
                     + (", too many paths)" if r.get("too_large") else ")") for r in runs) or "none"


def _starts(report: dict, stage: int) -> list[str]:
    """The graphs a stage started from, where it started from more than one (``lambda_search="bins"``)."""
    points = report.get(f"stage{stage}", {}).get("from")
    if not points:
        return []
    return [f"stage {stage} started from {len(points)} graphs of the stage-{stage - 1} frontier: " + "; ".join(
        f"{n + 1}: {p['edges']} edges {p['acc']:.3f}" for n, p in enumerate(points))]


def _mlps(report: dict) -> list[str]:
    lines = []
    for name, entry in report.get("mlp_matching", {}).items():
        if isinstance(entry, str):
            lines.append(f"{name}: kept as an MLP ({entry})")
        elif "primitive" in entry:
            lines.append(f"{name}: replaced by {entry['primitive']} (match {entry['acc']:.3f}, fvu {entry['fvu']:.3f})")
        else:
            best = entry.get("best")
            tail = f"; best candidate {best[0]} reached {best[1]:.3f}" if best else ""
            lines.append(f"{name}: kept as an MLP{tail}")
    return lines


def _selects(report: dict) -> list[str]:
    s = report.get("select_matching")
    if not s:
        return []
    matched = ", ".join(f"{k} -> {v}" for k, v in s.get("matched", {}).items()) or "none"
    verdict = "kept" if s.get("kept") else "undone (match fell too far)"
    return [f"primitive search: {s.get('tried', 0)} trials, match {s.get('acc0', 0):.3f} -> {s.get('final', 0):.3f}, "
            f"{verdict}; replaced: {matched}"]


def report_notes(report: dict, max_length: int, eval_size: int, target_acc: float) -> str:
    cal = report.get("calibration")
    linear = max(report["unpruned_linear_acc"], cal["acc_after"] if cal else 0.0)
    lines = [
        f"decompile: pruned on lengths 0-{max_length}; match accuracies below are on the method's own "
        f"{eval_size} sequences",
        f"un-pruned, linearised LayerNorm: match {report['unpruned_linear_acc']:.3f}"
        + (f"; {cal['acc_after']:.3f} after fitting sigma and o with every edge on ({cal['steps']} steps"
           + (")" if cal["acc_after"] >= cal["acc_before"] else ", not kept)") if cal else "")
        + ("" if linear >= target_acc else f" (< {target_acc}: LLN-A does not hold here)"),
    ]
    if "lookup_acc" in report:
        lines.append(f"lambda search: stage 1 aimed at accuracy bins from the lookup baseline's match "
                     f"{report['lookup_acc']:.3f} up to 1; stages 2-3 bisected toward anchored targets")
    if any(r["stage"] == 0 for r in report.get("runs", [])):
        lines.append(f"stage 0 runs (real LayerNorm, the LLN-A check): {_runs(report, 0)}")
    for stage, key in ((1, "stage1"), (2, "stage2"), (3, "stage3")):
        if key not in report and not any(r["stage"] == stage for r in report.get("runs", [])):
            continue
        lines += _starts(report, stage)
        lines.append(f"stage {stage} runs: {_runs(report, stage)}")
        chosen = report.get(key)
        if chosen:
            size = chosen.get("edges", chosen.get("terms"))
            lam = f"lambda {_lam(chosen['lambda'])}" if chosen["lambda"] else "no pruning kept"
            lines.append(f"stage {stage} chosen: {lam}, {size} {'terms' if stage == 3 else 'edges'}, "
                         f"match {chosen['acc']:.3f}")
    lines += _mlps(report) + _selects(report)
    if "fallback" in report:
        lines.append(f"fallback: {report['fallback']}; the program is the embeddings-to-logits graph alone")
    lines.append(f"{report.get('cpu_seconds', 0):.0f} CPU seconds, {report.get('seconds', 0):.0f} s wall")
    return "\n".join(line.encode("ascii", "replace").decode() for line in lines)
