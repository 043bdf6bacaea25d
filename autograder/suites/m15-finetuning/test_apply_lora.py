"""Hidden tests, part `apply_lora`: LoRA on every block's attention projections, exact parameter counts.

The GPTs are the kit's architecture (coursekit_student.base_gpt.GPT) in random small shapes drawn from `rng`
and initialised here, so every expected count (6 * n_layer * r * n_embd trainable) changes per submission.
"""

import torch

from coursekit_student.testing import hint, part, points


def _gpt(submission, oracle, rng):
    config = oracle.small_gpt_config(rng)
    state = oracle.random_gpt_state(config, int(rng.integers(1 << 30)))
    return submission.GPT.from_state(config, state), config, state


def _adapted(config):
    return {f"blocks.{i}.attn.{layer}.{m}" for i in range(config["n_layer"]) for layer in ("qkv", "proj") for m in "AB"}


@part("apply_lora")
@points(5)
@hint("apply_lora: first freeze every parameter of the model, then wrap blocks[i].attn.qkv and blocks[i].attn.proj "
      "of EVERY block in LoRALinear(original, r, alpha); the MLP stays plain. Trainable: exactly the A and B "
      "matrices, 6 * n_layer * r * n_embd numbers.")
def test_apply_lora_trains_only_attention_adapters(submission, rng, oracle):
    model, config, state = _gpt(submission, oracle, rng)
    r, alpha = int(rng.integers(1, 5)), float(rng.choice([2.0, 8.0]))  # (the scaling's value is part `lora`'s)
    returned = submission.apply_lora(model, r, alpha)
    params = dict(model.named_parameters())
    # the docstring's "Returns: model itself" (a course mutate survivor returned None); handles cannot be compared
    # by identity, so the returned object must hold the same, adapted parameters
    assert returned is not None, "apply_lora must return the model"
    assert set(dict(returned.named_parameters())) == set(params)
    # trainable = receives a gradient (requires_grad flags do not cross from the student's process)
    idx = torch.from_numpy(rng.integers(0, config["vocab_size"], size=(2, config["block_size"])))
    weight = torch.from_numpy(rng.normal(size=(2, config["block_size"], config["vocab_size"]))).float()
    trainable = {k for k, g in submission.gradients(model, idx, weight).items() if g is not None}
    assert trainable == _adapted(config)
    C, L = config["n_embd"], config["n_layer"]
    assert sum(params[k].numel() for k in trainable) == 6 * L * r * C
    for i in range(L):
        p = f"blocks.{i}."
        assert tuple(params[p + "attn.qkv.A"].shape) == (r, C) and tuple(params[p + "attn.qkv.B"].shape) == (3 * C, r)
        assert tuple(params[p + "attn.proj.A"].shape) == (r, C) and tuple(params[p + "attn.proj.B"].shape) == (C, r)
        assert p + "mlp.fc.weight" in params and p + "mlp.proj.weight" in params  # the MLP is not wrapped
        # the pretrained weights are kept (wrapped, not re-initialised)
        for layer in ("qkv", "proj"):
            torch.testing.assert_close(torch.as_tensor(params[f"{p}attn.{layer}.base.weight"]),
                                       state[f"{p}attn.{layer}.weight"], rtol=0, atol=0)


@part("apply_lora")
@points(3)
@hint("Right after apply_lora (B = 0) the model must compute exactly the same logits as before.")
def test_apply_lora_keeps_the_function(submission, rng, oracle):
    model, config, state = _gpt(submission, oracle, rng)
    idx = torch.from_numpy(rng.integers(0, config["vocab_size"], size=(3, config["block_size"])))
    expected = oracle.trusted_gpt(config, state)(idx)
    submission.apply_lora(model, 2, 4.0)
    # float32 forward of a small GPT vs float64: ~1e-6 relative on O(1) logits
    torch.testing.assert_close(torch.as_tensor(model(idx)).double(), expected, rtol=1e-4, atol=1e-4)


@part("apply_lora")
@points(5)
@hint("count_parameters returns (trainable, total) as two ints, over model.parameters() (a tied weight counts once).")
def test_count_parameters(submission, rng, oracle):
    model, config, state = _gpt(submission, oracle, rng)
    # tok_emb and lm_head share one tensor: count it once
    total = sum(v.numel() for k, v in state.items() if k != "lm_head.weight")
    assert tuple(int(v) for v in submission.count_parameters(model)) == (total, total)
    r = int(rng.integers(1, 5))
    submission.apply_lora(model, r, 1.0)
    adapters = 6 * config["n_layer"] * r * config["n_embd"]
    assert tuple(int(v) for v in submission.count_parameters(model)) == (adapters, total + adapters)
    first = submission.torch.nn.Linear(7, 3)
    first.requires_grad_(False)
    mixed = submission.torch.nn.Sequential(first, submission.torch.nn.Linear(3, 2))
    assert tuple(int(v) for v in submission.count_parameters(mixed)) == (8, 32)
