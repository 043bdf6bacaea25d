"""Hidden tests, part `positions`."""

import numpy as np
import pytest
import torch

from coursekit_student.testing import hint, part, points


def _oracle(T, D):
    p = np.arange(T)[:, None]
    i = np.arange(0, D, 2)[None, :]
    pe = np.zeros((T, D))
    pe[:, 0::2] = np.sin(p / 10000 ** (i / D))
    pe[:, 1::2] = np.cos(p / 10000 ** (i / D))
    return pe


@part("positions")
@points(3)
@hint("Use exponent 2i/D for the pair (2i, 2i+1): dimensions 2i and 2i+1 share one frequency.")
def test_sinusoidal_random_sizes(submission, rng):
    for T, D in ((50, 16), (7, 6), (int(rng.integers(60, 120)), 2 * int(rng.integers(5, 40)))):
        pe = submission.sinusoidal_positions(T, D)
        assert tuple(pe.shape) == (T, D) and pe.dtype == torch.float32
        # float32 output of sin/cos (values <= 1): 1e-6; angles up to ~120 rad computed in float32
        # would lose up to ~1e-5, so allow that too
        np.testing.assert_allclose(pe.numpy(), _oracle(T, D), atol=2e-5)


@part("positions")
@points(1)
@hint("SinusoidalPositions keeps the table as a buffer `pe`, adds its first T rows to x (T = max_len included) and refuses T > max_len "
      "with ValueError.")
def test_sinusoidal_module(submission, rng):
    module = submission.SinusoidalPositions(20, 8)
    x = torch.from_numpy(rng.normal(size=(3, 11, 8))).float()
    np.testing.assert_allclose(module(x).numpy(), x.numpy() + _oracle(11, 8), atol=2e-5)
    assert "pe" in module.state_dict()
    # "a buffer named `pe` ... not trained" (an nn.Parameter table would be trained and weight-decayed by the
    # optimiser); names only: tensors come back here as data
    assert "pe" in [name for name, _ in module.named_buffers()]
    assert "pe" not in [name for name, _ in module.named_parameters()]
    # T == max_len is the longest allowed sequence
    np.testing.assert_allclose(module(torch.zeros(1, 20, 8)).numpy()[0], _oracle(20, 8), atol=2e-5)
    with pytest.raises(ValueError):
        module(torch.zeros(1, 21, 8))


@part("positions")
@points(2)
@hint("LearnedPositions: an nn.Embedding(max_len, D) named `pos`, initialised N(0, 0.02²), added to x.")
def test_learned_module(submission, rng):
    module = submission.LearnedPositions(64, 32)
    state = module.state_dict()
    # other saved state (e.g. a position-id buffer, as Hugging Face's GPT-2 keeps) is allowed: the docstring fixes pos
    assert "pos.weight" in state and tuple(state["pos.weight"].shape) == (64, 32)
    # 2048 draws of N(0, 0.02²): the sample std is within 0.02 ± 5% with overwhelming probability
    assert 0.018 < float(state["pos.weight"].std()) < 0.022
    table = torch.from_numpy(rng.normal(size=(64, 32))).float()
    module.pos.load_state_dict({"weight": table})
    x = torch.from_numpy(rng.normal(size=(2, 10, 32))).float()
    torch.testing.assert_close(module(x), x + table[:10])


@part("positions")
@points(1)
@hint("A learned table has rows for positions 0..max_len-1: T = max_len works, T > max_len raises ValueError.")
def test_learned_too_long(submission):
    module = submission.LearnedPositions(8, 4)
    x = torch.zeros(2, 8, 4)  # T == max_len: every row of the table is used
    torch.testing.assert_close(module(x), module.state_dict()["pos.weight"].expand(2, 8, 4))
    with pytest.raises(ValueError):
        module(torch.zeros(1, 9, 4))
