"""The fused attention path (no hooks attached) computes what the hooked path computes."""

import torch

from bench.models.model import GPT2, GPT2Config


def test_fused_and_hooked_attention_agree():
    torch.manual_seed(0)
    model = GPT2(GPT2Config(vocab_size=9, n_positions=40, n_embd=16, n_layer=2, n_head=2)).eval()
    ids = torch.randint(0, 9, (3, 33))
    positions = torch.arange(5, 38).expand(3, -1)
    with torch.no_grad():
        fused = model(ids, positions)
        hooked = model.run_with_hooks(ids, positions, fwd_hooks=[("blocks.0.attn.hook_pattern", lambda x, name: None),
                                                                ("blocks.1.attn.hook_pattern", lambda x, name: None)])
    assert torch.allclose(fused, hooked, atol=1e-5), (fused - hooked).abs().max()
    assert not any(p.fns for p in model.hook_points.values())  # hooks are removed after the run
