"""The hookable GPT-2: same function as transformers' GPT2LMHeadModel, hooks that read and patch."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bench.data.task import get_task
from bench.models.model import GPT2, GPT2Config, ModelError
from bench.models.predict import predict, sequence_correct


def random_model(n_layer=2, n_head=2, n_embd=16, vocab_size=11, n_positions=40, seed=0, **extra) -> GPT2:
    """A model with every parameter far from its initialisation (LayerNorms included)."""
    torch.manual_seed(seed)
    cfg = GPT2Config(vocab_size=vocab_size, n_positions=n_positions, n_layer=n_layer, n_head=n_head, n_embd=n_embd, **extra)
    model = GPT2(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model


def inputs(batch=3, T=9, vocab=11, max_pos=40, seed=1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (batch, T), generator=g)
    offsets = torch.randint(0, max_pos - T + 1, (batch, 1), generator=g)
    return ids, offsets + torch.arange(T)


# ----- equivalence with transformers -----------------------------------------------------


def test_ours_saved_loads_in_transformers_with_same_logits(tmp_path):
    from transformers import GPT2LMHeadModel

    ours = random_model(rasp_bench={"task": "none"})
    ours.save_pretrained(tmp_path)
    theirs = GPT2LMHeadModel.from_pretrained(tmp_path).eval()
    ids, pos = inputs()
    with torch.no_grad():
        expected = theirs(input_ids=ids, position_ids=pos).logits
        assert torch.allclose(ours(ids, pos), expected, atol=1e-5, rtol=0)
    assert theirs.lm_head.weight.data_ptr() == theirs.transformer.wte.weight.data_ptr()  # tied, as saved


def test_transformers_saved_loads_in_ours_with_same_logits(tmp_path):
    from transformers import GPT2Config as HFConfig
    from transformers import GPT2LMHeadModel

    torch.manual_seed(3)
    hf = GPT2LMHeadModel(HFConfig(vocab_size=11, n_positions=40, n_embd=16, n_layer=2, n_head=4)).eval()
    with torch.no_grad():
        for p in hf.parameters():
            p.add_(0.3 * torch.randn_like(p))
    hf.save_pretrained(tmp_path)
    ours = GPT2.from_pretrained(tmp_path)
    ids, pos = inputs(seed=5)
    with torch.no_grad():
        assert torch.allclose(ours(ids, pos), hf(input_ids=ids, position_ids=pos).logits, atol=1e-5, rtol=0)


def test_saved_file_uses_gpt2_names_without_lm_head(tmp_path):
    from safetensors import safe_open

    random_model(n_layer=1).save_pretrained(tmp_path)
    with safe_open(str(tmp_path / "model.safetensors"), "pt") as f:
        names = set(f.keys())
    assert "lm_head.weight" not in names
    assert {"transformer.wte.weight", "transformer.wpe.weight", "transformer.h.0.attn.c_attn.weight",
            "transformer.h.0.mlp.c_proj.bias", "transformer.ln_f.weight"} <= names
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "gpt2" and config["architectures"] == ["GPT2LMHeadModel"]
    assert config["activation_function"] == "gelu_new" and config["layer_norm_epsilon"] == 1e-5


def test_round_trip_is_exact(tmp_path):
    model = random_model()
    model.save_pretrained(tmp_path)
    again = GPT2.from_pretrained(tmp_path)
    ids, pos = inputs()
    with torch.no_grad():
        assert torch.equal(model(ids, pos), again(ids, pos))


def test_bad_checkpoints_are_refused(tmp_path):
    model = random_model()
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "model_type": "llama"}))
    with pytest.raises(ModelError, match="model_type"):
        GPT2.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**config, "n_layer": 3}))
    with pytest.raises(ModelError, match="missing"):
        GPT2.from_pretrained(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(ModelError, match="looked for"):
        GPT2.from_pretrained(tmp_path)


def test_untied_lm_head_is_refused(tmp_path):
    from safetensors.torch import load_file, save_file

    model = random_model()
    model.save_pretrained(tmp_path)
    tensors = load_file(str(tmp_path / "model.safetensors"))
    tensors["lm_head.weight"] = tensors["transformer.wte.weight"] + 1
    save_file(tensors, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ModelError, match="lm_head"):
        GPT2.from_pretrained(tmp_path)


def test_inputs_out_of_range_are_refused():
    model = random_model()
    with pytest.raises(ModelError, match="position ids"):
        model(torch.zeros(1, 3, dtype=torch.long), torch.tensor([[38, 39, 40]]))
    with pytest.raises(ModelError, match="token ids"):
        model(torch.full((1, 3), 11))


# ----- hooks -------------------------------------------------------------------------------


def test_every_hook_point_is_captured_with_its_shape():
    L, H, d, B, T = 2, 2, 16, 3, 9
    model = random_model(n_layer=L, n_head=H, n_embd=d)
    ids, pos = inputs(B, T)
    logits, cache = model.run_with_cache(ids, pos)
    assert list(cache) == model.hook_names
    assert logits.shape == (B, T, 11)
    shapes = {
        "hook_resid_pre": (B, T, d), "ln1.hook_scale": (B, T, 1), "attn.hook_q": (B, T, H, d // H),
        "attn.hook_k": (B, T, H, d // H), "attn.hook_v": (B, T, H, d // H), "attn.hook_attn_scores": (B, H, T, T),
        "attn.hook_pattern": (B, H, T, T), "attn.hook_z": (B, T, H, d // H), "attn.hook_result": (B, T, H, d),
        "hook_attn_out": (B, T, d), "hook_resid_mid": (B, T, d), "ln2.hook_scale": (B, T, 1),
        "mlp.hook_pre": (B, T, 4 * d), "mlp.hook_post": (B, T, 4 * d), "hook_mlp_out": (B, T, d), "hook_resid_post": (B, T, d),
    }
    for layer in range(L):
        for suffix, shape in shapes.items():
            assert cache[f"blocks.{layer}.{suffix}"].shape == shape, suffix
    assert cache["hook_embed"].shape == cache["hook_pos_embed"].shape == (B, T, d)
    assert cache["ln_final.hook_scale"].shape == (B, T, 1)
    # the attention pattern is causal and normalised
    pattern = cache["blocks.1.attn.hook_pattern"]
    assert torch.all(pattern.triu(1) == 0) and torch.allclose(pattern.sum(-1), torch.ones(B, H, T))
    # the residual stream decomposes as the hooks say
    assert torch.allclose(cache["blocks.0.hook_resid_pre"], cache["hook_embed"] + cache["hook_pos_embed"])
    assert torch.allclose(cache["blocks.1.hook_resid_post"], cache["blocks.1.hook_resid_mid"] + cache["blocks.1.hook_mlp_out"])


def test_head_results_sum_to_attention_output():
    model = random_model(n_head=4)
    _, cache = model.run_with_cache(*inputs())
    for layer, block in enumerate(model.transformer.h):
        total = cache[f"blocks.{layer}.attn.hook_result"].sum(2) + block.attn.c_proj.bias
        assert torch.equal(total, cache[f"blocks.{layer}.hook_attn_out"])


def test_fused_and_explicit_attention_agree():
    model = random_model(n_head=4)
    ids, pos = inputs()
    with torch.no_grad():
        fused = model(ids, pos)  # no attention hook in use
        explicit, _ = model.run_with_cache(ids, pos, names=lambda n: ".attn." in n)
    assert torch.allclose(fused, explicit, atol=1e-5)


def test_cache_names_filter_and_unknown_hook():
    model = random_model()
    _, cache = model.run_with_cache(*inputs(), names=lambda n: n.endswith("hook_pattern"))
    assert sorted(cache) == ["blocks.0.attn.hook_pattern", "blocks.1.attn.hook_pattern"]
    with pytest.raises(ModelError, match="unknown hook"):
        model.run_with_cache(*inputs(), names=["blocks.9.hook_resid_pre"])


def test_hooks_are_removed_after_a_run():
    model = random_model()
    ids, pos = inputs()
    clean = model(ids, pos)
    model.run_with_hooks(ids, pos, [("blocks.0.hook_resid_mid", lambda x, name: torch.zeros_like(x))])
    assert all(not point.fns for point in model.hook_points.values())
    assert torch.equal(model(ids, pos), clean)


def test_patching_the_residual_at_one_position_leaves_earlier_positions_alone():
    model = random_model()
    ids, pos = inputs(B := 2, T := 9)
    other_ids, _ = inputs(B, T, seed=7)
    _, other = model.run_with_cache(other_ids, pos, names=["blocks.1.hook_resid_pre"])
    p = 4

    def patch(x, name):
        x = x.clone()
        x[:, p] = other[name][:, p]
        return x

    with torch.no_grad():
        clean = model(ids, pos)
        patched = model.run_with_hooks(ids, pos, [("blocks.1.hook_resid_pre", patch)])
    assert torch.equal(patched[:, :p], clean[:, :p])  # causal: nothing before p can see it
    assert not torch.allclose(patched[:, p], clean[:, p])
    assert not torch.allclose(patched[:, p + 1 :], clean[:, p + 1 :])


def test_zero_ablating_a_head_matches_a_manual_computation():
    model = random_model(n_head=4)
    ids, pos = inputs()
    layer, head = 0, 2
    _, cache = model.run_with_cache(ids, pos)

    def ablate(z, name):
        z = z.clone()
        z[:, :, head] = 0
        return z

    with torch.no_grad():
        ablated = model.run_with_hooks(ids, pos, [(f"blocks.{layer}.attn.hook_z", ablate)])
        # by hand: attention output without that head's result, then the rest of the network
        attn_out = cache[f"blocks.{layer}.hook_attn_out"] - cache[f"blocks.{layer}.attn.hook_result"][:, :, head]
        x = cache[f"blocks.{layer}.hook_resid_pre"] + attn_out
        block = model.transformer.h[layer]
        x = x + block.mlp(block.ln_2(x))
        for later in model.transformer.h[layer + 1 :]:
            x = later(x)
        manual = model.transformer.ln_f(x) @ model.transformer.wte.weight.T
    assert torch.allclose(ablated, manual, atol=1e-5)
    assert not torch.allclose(ablated, model(ids, pos))


def test_hook_returning_a_wrong_shape_is_an_error():
    model = random_model()
    with pytest.raises(ModelError, match="shape"):
        model.run_with_hooks(*inputs(), fwd_hooks=[("hook_embed", lambda x, n: x[:, :1])])


def test_dropout_only_in_training_mode():
    model = random_model(attn_pdrop=0.5, resid_pdrop=0.5, embd_pdrop=0.5)
    ids, pos = inputs()
    with torch.no_grad():
        assert torch.equal(model.eval()(ids, pos), model(ids, pos))
        assert not torch.equal(model.train()(ids, pos), model.eval()(ids, pos))


# ----- predictions -----------------------------------------------------------------------------


def test_predict_reads_token_and_token_set_tasks():
    task = get_task("bin_majority")
    model = random_model(vocab_size=task.vocab_size, n_positions=task.n_positions)
    batch = task.sample_batch(5, 0, 50, np.random.default_rng(0), offsets=True)
    out = predict(model, batch, "token", batch_size=2)
    assert out.shape == batch.input_ids.shape and out.dtype == np.int64
    sets = predict(model, batch, "token_set")
    assert sets.shape == (*batch.input_ids.shape, task.vocab_size) and sets.dtype == bool
    with torch.no_grad():
        from bench.models.predict import model_inputs

        ids, pos = model_inputs(batch, task.n_positions)
        expected = model(torch.from_numpy(ids), torch.from_numpy(pos))
    assert np.array_equal(out, expected.argmax(-1).numpy())
    assert np.array_equal(sets, (expected > 0).numpy())


def test_sequence_correct_requires_every_scored_position():
    task = get_task("bin_majority")
    batch = task.collate([task.sample(5, np.random.default_rng(1)), task.sample(7, np.random.default_rng(2))])
    perfect = np.where(batch.label_mask, batch.labels, 0)
    assert sequence_correct(perfect, batch, "token").all()
    wrong = perfect.copy()
    wrong[1, np.flatnonzero(batch.label_mask[1])[0]] += 1
    assert sequence_correct(wrong, batch, "token").tolist() == [True, False]
