"""Probe the MLPs a decompiled program keeps as weights: is each a sum of one function per input,
and which split-MLP primitive (docs/decompile.md §4.1) fits each part?

    python scripts/probe_mlp_split.py d2
    python scripts/probe_mlp_split.py tomita4 --program path/to/tomita4.json --steps 2000

For each ``mlp`` operation of the program (the model's own MLP, reading
``readout(x_1 @ A_1 + ... + b)``) the script

1. samples sequences of lengths 0-150 and reads the MLP's input variables and its output;
2. distils the MLP into a split one, ``f_1(x_1) + ... + f_n(x_n)``: a table for a ``cat``
   input, a GELU MLP of ``--hidden`` units for a ``vec`` input, fitted to the output by mean
   squared error (Adam);
3. splices the split MLP into the program in place of the original and scores it against the
   model's stored predictions on the frozen test splits (match accuracy per bin, ``n_params``);
4. fits each primitive of ``decompile``'s split-MLP library (``split_mlp.library``) to each
   ``vec`` part by least squares and prints the best fractions of variance unexplained (FVU; the
   method tries a primitive below 0.6);
5. scores the candidates ``decompile`` itself would try with ``"split"`` in its MLP library
   (``baselines/decompile/split_mlp.py``: the library fitted to the MLP's output directly, no
   distillation), each spliced in the same way.

A tool for developing the MLP library: nothing here changes ``decompile``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from tabulate import tabulate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bench.program as rasp  # noqa: E402
from bench.program.arrays import load  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a zoo model id")
    parser.add_argument("--program", type=Path, help="default: submissions/decompile/programs/MODEL.json")
    parser.add_argument("--samples", type=int, default=512, help="sequences sampled for the fits")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from bench.errors import BenchError
    from bench.models.model_ref import zoo_refs

    if args.model not in zoo_refs():
        parser.error(f"{args.model!r} is not a zoo model (python -m bench.zoo list)")
    try:
        program = load(args.program or ROOT / "submissions" / "decompile" / "programs" / f"{args.model}.json")
    except BenchError as err:
        parser.error(str(err))
    task, batches = scored_batches(args.model)
    values, real = sample_values(program, task, args.samples, args.seed)
    mlps = [n for n in program.nodes if n.op == "mlp"]
    if not mlps:
        print(f"{args.model}: the program keeps no MLP")
        return 0
    rows = [["program as it is", *bin_matches(program, batches), program.n_params, ""]]
    for node in mlps:
        name = program.ids[node]
        inputs = [(program.ids[t.x], t.x) for t in node.x.terms]
        xs = [as_matrix(program, x, values[i][real]) for i, x in inputs]
        split = fit_split(xs, values[name][real], args.hidden, args.steps, args.seed)
        spliced = substitute(program, node, distilled(program, node, inputs, split))
        rows.append([f"{name} split into {len(inputs)} parts", *bin_matches(spliced, batches), spliced.n_params,
                     f"{split['fvu']:.4f}"])
        for label, replacement, fvu in library_candidates(program, node, inputs, xs, values[name][real]):
            spliced = substitute(program, node, replacement)
            rows.append([label.replace("split: ", "library: "), *bin_matches(spliced, batches), spliced.n_params,
                         f"{fvu:.4f}"])
        for (input_id, x), matrix, part in zip(inputs, xs, split["parts"]):
            if program.types[x].kind != "vec":
                continue
            share = part.var(0).mean() / values[name][real].var(0).mean()
            fits = ", ".join(f"{label} {fvu:.3f}" for fvu, label in library_fits(matrix, part)[:5])
            print(f"{name}, part of {input_id} ({matrix.shape[1]} dims, variance {share:.3f} of the output's): "
                  f"best primitives (FVU) {fits}")
    print(tabulate(rows, ["program", "match 0-50", "51-100", "101-150", "n_params", "split FVU"], floatfmt=".3f"))
    return 0


def scored_batches(model_id: str):
    """The task and the frozen test batches with the model's stored predictions."""
    from bench.leaderboard.harness import Harness
    from bench.models import predictions
    from bench.scoring import score

    harness = Harness()
    ref = harness.zoo[model_id]
    task = harness.task(ref.task)
    splits = harness.splits(task)
    stored = predictions.for_model(ref.id, ref.weights_sha256, task, splits, None, entry=ref.entry)
    return task, score.model_batches(task, splits, stored)


def bin_matches(program, batches) -> list[float]:
    from bench.scoring.score import count_bins

    return [m.match_acc for m in count_bins(program, batches).values()]


def sample_values(program, task, n: int, seed: int):
    """Every node's value on ``n`` sampled sequences (lengths 0-150), and the mask of real positions."""
    rng = np.random.default_rng(seed)
    batch = task.collate([task.sample(task.draw_length(0, 150, rng), rng) for _ in range(n)])
    chunks = [rasp.evaluate(program, batch.input_ids[i:i + 32], selectors=False) for i in range(0, n, 32)]
    width = batch.input_ids.shape[1]
    values = {k: np.concatenate([pad(c[k], width) for c in chunks]) for k in chunks[0]}
    return values, np.arange(width)[None] < batch.lengths[:, None]


def pad(x: np.ndarray, width: int) -> np.ndarray:
    return x if x.shape[1] == width else np.pad(x, [(0, 0), (0, width - x.shape[1])] + [(0, 0)] * (x.ndim - 2))


def as_matrix(program, node, x: np.ndarray) -> np.ndarray:
    """(positions, features): one-hot for cat values, a column for num values, vec values as they are."""
    t = program.types[node]
    if t.kind == "cat":
        return np.eye(program.sizes[t.basis])[x]
    return x[:, None] if t.kind == "num" else x


def fit_split(xs: list[np.ndarray], out: np.ndarray, hidden: int, steps: int, seed: int) -> dict:
    """``out ~ bias + sum_k f_k(x_k)`` by Adam on mean squared error: f_k a table (one-hot x_k) or a GELU MLP."""
    torch.manual_seed(seed)
    X = [torch.tensor(x) for x in xs]
    Y = torch.tensor(out)
    d = Y.shape[1]
    onehot = [bool(((x == 0) | (x == 1)).all() and (x.sum(1) == 1).all()) for x in xs]
    params = [torch.zeros(x.shape[1], d, dtype=torch.float64) if oh else
              [0.3 * torch.randn(x.shape[1], hidden, dtype=torch.float64), torch.zeros(hidden, dtype=torch.float64),
               0.1 * torch.randn(hidden, d, dtype=torch.float64), torch.zeros(d, dtype=torch.float64)]
              for x, oh in zip(xs, onehot)]
    bias = Y.mean(0).clone()
    leaves = [bias] + [t for p in params for t in (p if isinstance(p, list) else [p])]
    for t in leaves:
        t.requires_grad_(True)
    optimizer = torch.optim.Adam(leaves, lr=3e-3)

    def parts(rows):
        return [x[rows] @ p if oh else
                torch.nn.functional.gelu(x[rows] @ p[0] + p[1], approximate="tanh") @ p[2] + p[3]
                for x, p, oh in zip(X, params, onehot)]

    for _ in range(steps):
        rows = torch.randint(0, len(Y), (2048,))
        loss = ((bias + sum(parts(rows)) - Y[rows]) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        every = torch.arange(len(Y))
        fitted = parts(every)
        fvu = float(((bias + sum(fitted) - Y) ** 2).mean() / Y.var(0).mean())
    detach = lambda p: [t.detach().numpy() for t in p] if isinstance(p, list) else p.detach().numpy()  # noqa: E731
    return {"bias": bias.detach().numpy(), "params": [detach(p) for p in params],
            "parts": [f.numpy() for f in fitted], "fvu": fvu}


def distilled(program, node, inputs: list, split: dict):
    """The replacement of MLP ``node`` by its distilled split: one MLP per vec input, tables for the rest."""
    basis = program.types[node].basis
    resid = rasp.Basis(basis, program.sizes[basis])
    name = program.ids[node]
    terms = []
    for k, ((_, x), p) in enumerate(zip(inputs, split["params"])):
        if isinstance(p, list):
            f = rasp.mlp(x, [(p[0], p[1]), (p[2], p[3])], activation="gelu_new", basis=resid).named(f"{name}_f{k}")
            terms.append((f, np.eye(resid.size)))
        else:
            terms.append((x, p))
    return rasp.readout(*terms, bias=split["bias"], basis=resid).named(name)


def library_candidates(program, node, inputs: list, xs: list[np.ndarray], out: np.ndarray) -> list:
    """(label, replacement variable, fvu) for the split candidates ``decompile`` would try (its four best
    fits below FVU 0.6), each a readout over the MLP's basis built as the method renders it."""
    from bench.baselines.decompile import split_mlp
    from bench.baselines.decompile.match_mlp import SPLIT_TRIALS

    found = split_mlp.candidates([split_mlp.Input(k, input_id, program.types[x].kind == "cat", matrix)
                                  for k, ((input_id, x), matrix) in enumerate(zip(inputs, xs))],
                                 out, max_fvu=0.6)[:SPLIT_TRIALS]
    out_rows = []
    for label, split, fvu in found:
        terms = split_mlp.readout_terms(split, lambda k: (inputs[k][1], xs[k].shape[1]), "probe")
        basis = program.types[node].basis
        replacement = rasp.readout(*terms, bias=split.bias, basis=rasp.Basis(basis, program.sizes[basis]))
        replacement = replacement.named(program.ids[node])
        out_rows.append((label, replacement, fvu))
    return out_rows


def substitute(program, old, new):
    """The program with variable ``old`` replaced by ``new`` wherever it is read."""
    import dataclasses

    done: dict = {}
    readers = set()  # the variables that read ``old``, directly or not: the only ones rebuilt
    for node in program.nodes:
        if any(v is old or id(v) in readers for v in node.inputs()):
            readers.add(id(node))

    def rebuild(value):
        if isinstance(value, rasp.Node):
            if value is old:
                return new
            if id(value) not in readers:
                return value
            if id(value) not in done:
                done[id(value)] = _replace_fields(value, rebuild)
            return done[id(value)]
        if isinstance(value, tuple):
            return tuple(rebuild(v) for v in value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return _replace_fields(value, rebuild)
        return value

    return rasp.Program(rebuild(program.output), vocab_size=program.vocab_size, kind=program.kind,
                        n_positions=program.n_positions, name=program.name)


def _replace_fields(obj, rebuild):
    import dataclasses

    changes = {f.name: rebuild(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
    return dataclasses.replace(obj, **changes)


def library_fits(x: np.ndarray, part: np.ndarray) -> list[tuple[float, str]]:
    """(FVU of ``part ~ bias + primitive(x) @ C``, primitive) over ``decompile``'s split-MLP library
    (``split_mlp.library``: on inputs of more than 16 entries, without exists and diff), best first."""
    from bench.baselines.decompile import split_mlp

    return sorted((split_mlp.fit([prim.features(x)], part)[2], prim.label) for prim in split_mlp.library(x.shape[1]))


if __name__ == "__main__":
    sys.exit(main())
