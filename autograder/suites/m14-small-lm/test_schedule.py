"""Hidden tests, part `schedule`: the learning rate point by point, AdamW parameter groups."""

import math

import pytest

from coursekit_student.testing import hint, part, points


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
@hint("Decay the parameters with 2 or more dimensions (Linear and Embedding weights), not biases or LayerNorm.")
def test_decay_names(submission):
    submission.torch.manual_seed(0)
    model = submission.GPT(20, 8, 2, 2, 16)
    decay, no_decay = submission.decay_parameter_names(model)
    # a tied lm_head.weight is listed once, as tok_emb.weight; ignore it so that part `gpt` is not charged twice
    decay = [n for n in decay if n != "lm_head.weight"]
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items() if k != "lm_head.weight"}
    assert sorted(decay) == sorted(k for k, s in shapes.items() if len(s) >= 2)
    assert sorted(no_decay) == sorted(k for k, s in shapes.items() if len(s) < 2)


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
