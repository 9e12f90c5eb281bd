"""Speed of the program interpreters on 2,000-sequence test bins.

For the `sort` task's `test_101_150` bin (long sequences, T up to 303) and a
language task's bin (`d12`), prints side by side: the vectorized interpreter's
time on the whole bin, the reference (plain Python) interpreter's time
(measured on a sample of sequences and scaled to the bin, since it takes
minutes), the speed-up, and the forward pass of a reference-model-sized GPT-2
(random weights; the size of the published model for the task) on the same bin.
The programs are the tasks' oracle programs (bench.oracles), checked to be
correct on the bin first.

    python scripts/bench_interpreter.py [--reference-sequences 40] [--threads 1]

The frozen splits come from bench.splits.load_splits (built and cached on
first use); with --synthetic, equivalent sequences are sampled instead.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import bench.program as rasp
from bench.oracles import get_oracle
from bench.task import get_task

# (task, demo program, split, model size like the published ones: layers, heads, width)
CASES = [
    ("sort", lambda task: get_oracle("sort"), "test_101_150", (1, 1, 256)),
    ("d12", lambda task: get_oracle("d12"), "test_101_150", (2, 1, 64)),
    ("tomita4", lambda task: get_oracle("tomita4"), "test_101_150", (2, 1, 64)),
]


def load_bin(task, split: str, synthetic: bool, n: int = 2000):
    """The frozen split as one padded Batch (or n freshly sampled sequences of the same lengths range)."""
    if not synthetic:
        try:
            from bench.splits import load_splits, split_batches

            dataset = load_splits(task)[split]
            return next(split_batches(task, dataset, batch_size=len(dataset))), "frozen split"
        except Exception as err:  # no splits module or no cache: fall back, and say so
            print(f"  (frozen split unavailable: {type(err).__name__}: {err}; sampling instead)")
    lo, hi = (int(part) for part in split.split("_")[1:])
    return task.sample_batch(n, lo, hi, np.random.default_rng(0), offsets=False), "sampled"


def time_it(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def model_forward_seconds(task, batch, layers: int, heads: int, width: int) -> float | None:
    try:
        from bench.model import GPT2, GPT2Config
        from bench.predict import logits
    except Exception as err:
        print(f"  (model unavailable: {err})")
        return None
    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=task.vocab_size, n_positions=task.n_positions, n_embd=width, n_layer=layers,
                     n_head=heads)
    model = GPT2(cfg).eval()
    return time_it(lambda: logits(model, batch))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference-sequences", type=int, default=40,
                        help="sequences the reference interpreter runs (its time is scaled to the bin)")
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads (default 1)")
    parser.add_argument("--synthetic", action="store_true", help="sample sequences instead of the frozen splits")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    rows = []
    for name, make, split, (layers, heads, width) in CASES:
        task = get_task(name)
        program = make(task)
        batch, source = load_bin(task, split, args.synthetic)
        n, T = batch.input_ids.shape
        print(f"{name} {split} ({source}): {n} sequences, T <= {T}; program n_ops={program.n_ops} "
              f"depth={program.depth}")
        predictions = rasp.run_program(program, batch)
        correct = np.mean([np.array_equal(predictions[b][batch.label_mask[b]], batch.labels[b][batch.label_mask[b]])
                           for b in range(n)])
        fast = time_it(lambda: rasp.run_program(program, batch), repeat=2)
        sample = np.random.default_rng(1).choice(n, size=min(args.reference_sequences, n), replace=False)
        sequences = [batch.input_ids[b, : batch.lengths[b]] for b in sample]
        ref_sample = time_it(lambda: [rasp.run_reference(program, s) for s in sequences])
        reference = ref_sample * n / len(sample)
        model = model_forward_seconds(task, batch, layers, heads, width)
        rows.append((f"{name} {split}", n, correct, fast, reference, len(sample), model, f"{layers}x{heads}x{width}"))

    print()
    header = (f"{'bin':<18} {'seqs':>5} {'prog acc':>8} {'vectorized s':>12} {'reference s':>12} "
              f"{'speed-up':>9} {'model fwd s':>11}  model")
    print(header)
    print("-" * len(header))
    for label, n, acc, fast, ref, n_ref, model, arch in rows:
        model_text = f"{model:11.2f}" if model is not None else f"{'n/a':>11}"
        print(f"{label:<18} {n:>5} {acc:>8.3f} {fast:>12.2f} {ref:>12.1f} {ref / fast:>8.0f}x {model_text}  {arch}")
    print(f"\nreference time scaled from {rows[0][5]} sequences per bin; vectorized: best of 2 runs; "
          f"{args.threads} thread(s)")


if __name__ == "__main__":
    main()
