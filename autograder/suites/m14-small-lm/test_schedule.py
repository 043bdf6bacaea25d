"""Hidden tests, part `schedule`: the learning rate point by point, AdamW parameter groups."""

import math
import re

import pytest
import torch

from coursekit_student.testing import hint, part, points

# the weights the notebook names; a model may also hold buffers (position ids, a causal mask), which are not parameters
WEIGHT = re.compile(r"(tok_emb|pos_emb|ln_f|lm_head|blocks\.\d+\.(ln1|ln2|attn\.qkv|attn\.proj|mlp\.fc|mlp\.proj))"
                    r"\.(weight|bias)")


def oracle_lr(step, max_lr, min_lr, warmup, total):
    if step < warmup:
        return max_lr * (step + 1) / warmup
    if step >= total:
        return min_lr
    ratio = (step - warmup) / (total - warmup)
    return min_lr + 0.5 * (1 + math.cos(math.pi * ratio)) * (max_lr - min_lr)


@part("schedule")
@points(4)
@hint("Check every step: linear warm-up (step + 1) / warmup_steps, cosine from max_lr at warmup_steps down "
      "to min_lr at max_steps, min_lr afterwards.")
def test_every_step_matches(submission, rng):
    for _ in range(3):
        warmup, total = int(rng.integers(1, 50)), int(rng.integers(60, 300))
        max_lr, min_lr = float(rng.uniform(1e-4, 1e-2)), float(rng.uniform(0, 1e-4))
        steps = list(range(total + 20))
        got = [submission.lr_at(s, max_lr, min_lr, warmup, total) for s in steps]
        for s, value in zip(steps, got):
            # closed-form floats: agreement to ~1e-15 relative; 1e-12 allows another evaluation order
            assert math.isclose(value, oracle_lr(s, max_lr, min_lr, warmup, total), rel_tol=1e-12, abs_tol=1e-15), s


@part("schedule")
@points(1)
@hint("warmup_steps = 0 starts directly on the cosine; warmup_steps = max_steps never decays; invalid "
      "arguments (negative step, negative warmup_steps, warmup_steps > max_steps) raise ValueError.")
def test_edges(submission):
    assert math.isclose(submission.lr_at(0, 1.0, 0.0, 0, 100), 1.0)
    assert math.isclose(submission.lr_at(50, 1.0, 0.0, 0, 100), 0.5)
    assert math.isclose(submission.lr_at(99, 2.0, 0.5, 100, 100), 2.0)
    assert math.isclose(submission.lr_at(100, 2.0, 0.5, 100, 100), 0.5)
    with pytest.raises(ValueError):
        submission.lr_at(0, 1.0, 0.1, 20, 10)
    with pytest.raises(ValueError):
        submission.lr_at(-1, 1.0, 0.1, 2, 10)
    with pytest.raises(ValueError):
        submission.lr_at(0, 1.0, 0.1, -1, 10)


@part("schedule")
@points(2)
@hint("Decay the parameters with 2 or more dimensions (Linear and Embedding weights), not biases or LayerNorm; "
      "names from model.named_parameters(), in its order, a tied weight once (as tok_emb.weight).")
def test_decay_names(submission, rng):
    submission.torch.manual_seed(0)
    model = submission.GPT(20, 8, 2, 2, 16)
    decay, no_decay = submission.decay_parameter_names(model)
    decay, no_decay = [str(n) for n in decay], [str(n) for n in no_decay]
    # named_parameters() lists a tied weight once, under its first name (the markdown): when lm_head shares
    # tok_emb's tensor, only one of the two names may appear (AdamW would otherwise get the tensor twice). An untied
    # lm_head is a parameter of its own, so part `gpt` is not charged twice for the missing tie.
    state = model.state_dict()
    new = torch.from_numpy(rng.normal(size=tuple(state["tok_emb.weight"].shape))).float()
    model.load_state_dict({"tok_emb.weight": new}, strict=False)
    tied = torch.equal(model.state_dict()["lm_head.weight"], new)
    shared = ("tok_emb.weight", "lm_head.weight")
    if tied:
        assert sum(n in shared for n in decay + no_decay) == 1, "a tied weight is listed once, as tok_emb.weight"
    # the tied weight (or an untied lm_head) is left out below: its name is test_configure_adamw's business
    decay = [n for n in decay if n not in shared]
    # parameters only (buffers, which the text allows, are not parameters), in named_parameters() order: the
    # state_dict lists the parameters in that same order
    shapes = {k: tuple(v.shape) for k, v in state.items() if WEIGHT.fullmatch(k) and k not in shared}
    assert decay == [k for k, s in shapes.items() if len(s) >= 2]
    assert no_decay == [k for k, s in shapes.items() if len(s) < 2]


@part("schedule")
@points(1)
@hint("configure_adamw: AdamW with [decayed group (weight_decay), undecayed group (0.0)], betas (0.9, 0.95).")
def test_configure_adamw(submission):
    submission.torch.manual_seed(0)
    model = submission.GPT(20, 8, 1, 2, 16)
    opt = submission.configure_adamw(model, 3e-4, 0.05)
    groups = opt.param_groups
    assert len(groups) == 2
    assert groups[0]["weight_decay"] == 0.05 and groups[1]["weight_decay"] == 0.0
    assert tuple(groups[0]["betas"]) == (0.9, 0.95) and groups[0]["lr"] == 3e-4
    decay, no_decay = submission.decay_parameter_names(model)
    assert len(groups[0]["params"]) == len(decay) and len(groups[1]["params"]) == len(no_decay)
    assert "tok_emb.weight" in decay
