"""Model cards (the Hub repos' README.md) generated from a manifest entry.

The YAML front matter is written by ``huggingface_hub.ModelCardData`` so that
the Hub reads it: license, library, tags, datasets and a ``model-index`` with
the sequence accuracy on each frozen test bin. The text below it says what the
model does, how it was trained, and how to load it. Cards are regenerated
whenever the manifest changes; never edit them by hand.
"""

from __future__ import annotations

from bench.data.task import BIN_LABELS as TEST_BIN_LABELS

BIN_LABELS = {name: f"lengths {label}" for name, label in TEST_BIN_LABELS.items()}
LICENSE = "apache-2.0"


def card_metadata(entry: dict):
    """The ``ModelCardData`` of a manifest entry (``.to_yaml()`` gives the front matter)."""
    from huggingface_hub import EvalResult, ModelCardData

    task = entry["task"]
    results = [
        EvalResult(
            task_type="text-generation",
            task_name=f"{task} (sequence-level exact match)",
            dataset_type=f"rasp-bench/{task}",
            dataset_name=f"rasp-bench {task}, {BIN_LABELS[split]}",
            dataset_config=f"v{entry['task_version']}",
            dataset_split=split,
            metric_type="accuracy",
            metric_name=f"sequence accuracy ({BIN_LABELS[split]})",
            metric_value=round(float(value), 4),
        )
        for split, value in entry["accuracy"].items()
    ]
    return ModelCardData(
        license=LICENSE,
        library_name="transformers",
        pipeline_tag="text-generation",
        tags=["rasp-bench", "gpt2", "interpretability", "length-generalization", "rasp", task, entry["role"]],
        datasets=[f"rasp-bench/{task}"],
        model_name=f"rasp-bench-{entry['id']}",
        eval_results=results,
    )


def reproduce_command(entry: dict) -> str:
    """The ``bench.zoo train`` command line that retrains this model bit for bit (same machine type)."""
    arch, recipe = entry["arch"], entry["recipe"]
    parts = [
        f"python -m bench.zoo train {entry['task']} --arch {arch['n_layer']}x{arch['n_head']}x{arch['n_embd']}",
        f"--steps {recipe['max_steps']} --seed {entry['seed']} --lr {recipe['lr']} --dropout {recipe['dropout']}",
        f"--eval-every {recipe['eval_every']}" + ("" if recipe["offsets"] else " --no-offsets")
        + (f" --length-buckets {recipe['length_buckets']}" if recipe.get("length_buckets", 1) > 1 else ""),
    ]
    return " ".join(parts)


def _predictions_note(entry: dict) -> str:
    """The stored predictions the harness scores programs against (absent for models without them)."""
    if not entry.get("predictions_sha256"):
        return ""
    return ("\nIts predictions on the three frozen test bins, against which rasp-bench scores extracted programs,\n"
            f"are `predictions.safetensors` (sha256 `{entry['predictions_sha256']}`; "
            "`python -m bench.zoo predictions --check` recomputes them).")


def _reading(kind: str) -> str:
    """How the model's output is read, for the card's first paragraph."""
    if kind == "token":
        return "a token task: the prediction for position t+1 is the argmax of the logits at t"
    return ("a language task: at every position the model predicts the set of allowed next tokens, "
            "read as `logit > 0` for each vocabulary entry (trained with a sigmoid / binary cross-entropy head)")


def _offsets(offsets: bool) -> str:
    """Whether the model was trained with position offsets, for the card's training paragraph."""
    if offsets:
        return ("with a random position offset per sequence (so every position embedding up to the longest test "
                "sequence is trained)")
    return "**without** position offsets (positions 0..T-1 only): a control that is not expected to length-generalize"


def _optimization(entry: dict) -> str:
    """The optimizer, schedule and stopping rule, as far as the entry records them."""
    recipe = entry["recipe"]
    clip = recipe.get("max_grad_norm", None)
    clipping = f"gradient norm clipped at {clip}" if clip else "no gradient clipping"
    text = (f"AdamW (lr {recipe['lr']}, weight decay {recipe['weight_decay']}), {clipping}, linear decay to 0 over "
            f"{recipe['max_steps']:,} steps, no warm-up, batch {recipe['batch_size']}, dropout {recipe['dropout']}, "
            f"seed {entry['seed']}; checked every {recipe['eval_every']:,} steps, stopping at the first check that is perfect "
            "on lengths 0-50")
    if "published" in recipe:
        text += ("; this is the published recipe" if recipe["published"] else "; this deviates from the published recipe")
    if recipe.get("length_buckets", 1) > 1:
        text += (f" (executed as {recipe['length_buckets']} micro-batches by length: the same gradient with less padding, "
                 "other float rounding and dropout draws)")
    return text


def _search_note(entry: dict) -> str:
    """The architecture search that chose the model, one line per configuration tried."""
    if not entry.get("search"):
        return ""
    rows = "\n".join(
        f"| {r['arch']} | {r.get('lr', '')} | {r.get('dropout', '')} | {r['steps']:,} | "
        + " | ".join(f"{r['accuracy'][s]:.3f}" for s in BIN_LABELS) + " |"
        for r in entry["search"]
    )
    head = "| architecture | lr | dropout | steps | " + " | ".join(BIN_LABELS[s] for s in BIN_LABELS) + " |"
    return f"\n\nThe search that chose it (in order; the best accuracy at lengths 101-150 is kept):\n\n{head}\n|{'---|' * (4 + len(BIN_LABELS))}\n{rows}"


def _role_note(entry: dict) -> str:
    """Why a control is one (for main models: nothing)."""
    if entry["role"] != "control":
        return ""
    reason = entry.get("control_reason") or "trained without position offsets, it is not expected to length-generalize"
    return f" It is a control: {reason}."


def render_card(entry: dict) -> str:
    """The full README.md of the model's Hub repo."""
    arch, recipe = entry["arch"], entry["recipe"]
    reading, offsets = _reading(entry["kind"]), _offsets(recipe["offsets"])
    rows = "\n".join(f"| {split} ({BIN_LABELS[split]}) | {value:.4f} |" for split, value in entry["accuracy"].items())
    stop = "early stop: test_0_50 reached 1.0" if entry.get("stopped_early") else "step budget exhausted"
    return f"""---
{card_metadata(entry).to_yaml()}
---

# rasp-bench `{entry['id']}`: GPT-2 trained on `{entry['task']}`

A reference model of rasp-bench, a benchmark for
extracting RASP programs from transformers. Role: **{entry['role']}**.{_role_note(entry)} Task `{entry['task']}`
(version {entry['task_version']}) is {reading}. The task's formats (token ids, layouts, length
bins) are specified in the benchmark repository's `docs/tasks.md`; the test bins are generated and frozen by
`bench.data.splits` (the `datasets` ids above name those generated splits).

## Accuracy (sequence-level exact match, 2,000 sequences per bin)

| bin | accuracy |
|---|---|
{rows}

## Model

GPT-2 (pre-LayerNorm, learned absolute positions, `gelu_new`, tied embeddings):
{arch['n_layer']} layer(s), {arch['n_head']} head(s), width {arch['n_embd']},
{entry['n_params']:,} parameters. Weights: `model.safetensors`
(sha256 `{entry['sha256']}`).{_predictions_note(entry)}

## Training

Trained from scratch {offsets}. {_optimization(entry)}. It took {entry['steps']:,} steps ({stop}),
{entry['wall_time_s'] / 60:.1f} min on one CPU thread. Reproduce with

    {reproduce_command(entry)}{_search_note(entry)}

## Use

```python
from bench.models.hub import load_reference   # verified against the manifest's sha256
ref = load_reference("{entry['id']}")
logits, cache = ref.model.run_with_cache(input_ids, position_ids)

from transformers import GPT2LMHeadModel      # or plain transformers
model = GPT2LMHeadModel.from_pretrained("{entry['hub_repo']}")
```

Always pass explicit `position_ids` (0..T-1 at test time).
"""
