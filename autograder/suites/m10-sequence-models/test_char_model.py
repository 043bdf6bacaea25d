"""Hidden tests, part `char_model`: batches, causality, the training loop replayed here, the held-out loss of the
trained model against a bigram baseline, and sampling that follows the model's own distribution.

The threshold test trains the student's train_char_model (default settings: 600 Adam steps of 64 names) on
29,032 makemore names and computes the loss here on 3,000 held-out names the student's code never receives.
Calibration (reference/m10-sequence-models/README.md): the add-one bigram model fitted on the same training
names scores 2.46 nats/char on them (2.45 even on its own training names), the reference 2.07-2.08 over seeds
0-1; the bar 2.25 fails the bigram model by 0.2 nats and passes the reference by ~0.17.
"""

import importlib.util
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from coursekit_student.testing import hint, kit, part, points, timeout

_SPEC = importlib.util.spec_from_file_location("_m10_trusted", Path(__file__).with_name("trusted.py"))
T = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(T)

LOSS_BAR = 2.25


@part("char_model")
@points(3)
@hint("x row = [0, ids...] padded with 0, y row = [ids..., 0] padded with -100, T = longest name + 1, int64.")
def test_names_to_batch_random(submission, rng, names_split):
    for _ in range(4):
        names = [names_split.train[i] for i in rng.integers(0, len(names_split.train), size=int(rng.integers(1, 20)))]
        x, y = submission.names_to_batch(names)
        ex, ey = T.names_batch(names)
        assert x.dtype == torch.int64 and y.dtype == torch.int64
        torch.testing.assert_close(x, ex, rtol=0, atol=0)
        torch.testing.assert_close(y, ey, rtol=0, atol=0)


@part("char_model")
@points(2)
@hint("CharRNN maps (B, T) ids to (B, T, 27) logits, and the logits at position t must not depend on later inputs.")
def test_char_rnn_shape_and_causality(submission, rng):
    model = submission.CharRNN()
    x = torch.from_numpy(rng.integers(0, 27, size=(3, 10)))
    out = torch.as_tensor(model(x))
    assert tuple(out.shape) == (3, 10, 27)
    x2 = x.clone()
    x2[:, 6:] = torch.from_numpy(rng.integers(0, 27, size=(3, 4)))
    out2 = torch.as_tensor(model(x2))
    torch.testing.assert_close(out2[:, :6], out[:, :6])
    assert not torch.allclose(out2[:, 6:], out[:, 6:])


@part("char_model")
@points(3)
@timeout(120)
@hint("Each step: names drawn with torch.randint(0, len(names), (batch_size,), generator=g), g seeded with seed; "
      "mean cross-entropy with ignore_index=-100; backward; clip the global grad norm to clip; Adam step; return the "
      "model in eval mode.")
def test_training_steps_replayed(submission, names_split):
    names = names_split.train[:2000]
    settings = dict(batch_size=8, lr=1e-2, clip=0.5, seed=5)
    with kit(submission).deadline(100):                  # the first optimizer step imports a lot of torch
        start = dict(submission.train_char_model(names, steps=0, **settings).state_dict())
        trained_model = submission.train_char_model(names, steps=3, **settings)
        trained = trained_model.state_dict()
        again = submission.train_char_model(names, steps=0, **settings).state_dict()
    assert trained_model.training is False            # the docstring: returned in eval mode
    for k in start:                                   # the seed fixes the initial weights
        torch.testing.assert_close(again[k], start[k], rtol=0, atol=0)

    model = T.ref_char_rnn()
    model.load_state_dict(start)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings["lr"])
    g = torch.Generator().manual_seed(settings["seed"])
    for _ in range(3):
        idx = torch.randint(0, len(names), (settings["batch_size"],), generator=g)
        x, y = T.names_batch([names[i] for i in idx.tolist()])
        loss = F.cross_entropy(model(x).reshape(-1, 27), y.reshape(-1), ignore_index=-100)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings["clip"])
        optimizer.step()
    # float32, the same operations: ~1e-7; Adam's first steps move each weight by ~lr = 1e-2, so any
    # different batch, target or clipping shows at 1e-3
    for k, v in model.state_dict().items():
        torch.testing.assert_close(trained[k], v, rtol=1e-4, atol=1e-5)


@part("char_model")
@points(7)
@timeout(240)
@hint("train_char_model (default settings) must reach a held-out loss well below a bigram model's (~2.45 nats per "
      "character): check the shifted targets, the -100 padding, the clipping and the optimizer steps.")
def test_heldout_loss_beats_bigram(submission, names_split, record_metric):
    with kit(submission).deadline(200):
        model = submission.train_char_model(names_split.train)
    loss = T.char_heldout_loss(model, names_split.held)
    record_metric("names_heldout_loss", loss, threshold=LOSS_BAR, higher_is_better=False)
    assert loss < LOSS_BAR


def _sharp_model(submission, rng, end_bias):
    """An untrained CharRNN with large random weights: peaked next-character distributions that depend on the prefix."""
    model = submission.CharRNN()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["emb.weight"] = torch.from_numpy(rng.normal(scale=2.0, size=tuple(state["emb.weight"].shape))).float()
    state["head.weight"] = torch.from_numpy(rng.normal(scale=0.6, size=tuple(state["head.weight"].shape))).float()
    bias = rng.normal(scale=1.5, size=27)
    bias[0] = end_bias
    state["head.bias"] = torch.from_numpy(bias).float()
    model.load_state_dict(state)
    return model, state


def _tv(counts, probs):
    return 0.5 * float(np.abs(counts / counts.sum() - probs).sum())


@part("char_model")
@points(3)
@timeout(120)
@hint("Sampling: feed the whole sequence so far, take the LAST position's logits / temperature, draw with "
      "torch.multinomial from the softmax (never the argmax); stop at the first '.', at most max_len characters.")
def test_sampling_follows_the_model(submission, rng):
    model, state = _sharp_model(submission, rng, end_bias=1.5)     # names of ~7 characters
    ref = T.ref_char_rnn()
    ref.load_state_dict(state)
    n = 3000
    for temperature, seed in ((1.0, 11), (0.5, 12)):
        with kit(submission).deadline(90):               # 3,000 names of ~7 characters: ~5 s on a quiet core
            names = submission.sample_names(model, n, submission.torch.Generator().manual_seed(seed),
                                         temperature=temperature)
        names = list(names)
        assert len(names) == n and all(set(nm) <= set(T.CHARS[1:]) and len(nm) <= 20 for nm in names)
        with torch.no_grad():
            first = F.softmax(ref(torch.zeros(1, 1, dtype=torch.long))[0, -1].double() / temperature, -1).numpy()
        counts = np.bincount([T.CHARS.index(nm[0]) if nm else 0 for nm in names], minlength=27).astype(float)
        # 3,000 draws over 27 symbols: the sampling noise of the total-variation distance is ~0.03; the argmax, a
        # missing temperature or the wrong position are off by > 0.2
        assert _tv(counts, first) < 0.07
        top = int(np.argmax(counts[1:])) + 1
        follow = [nm[1] if len(nm) > 1 else "." for nm in names if nm and nm[0] == T.CHARS[top]]
        with torch.no_grad():
            second = F.softmax(ref(torch.tensor([[0, top]]))[0, -1].double() / temperature, -1).numpy()
        counts2 = np.bincount([T.CHARS.index(c) for c in follow], minlength=27).astype(float)
        assert len(follow) >= 300 and _tv(counts2, second) < 0.12
    # an end mark that is (almost) never drawn: every name stops at max_len
    long_model, _ = _sharp_model(submission, rng, end_bias=-30.0)
    names = list(submission.sample_names(long_model, 50, submission.torch.Generator().manual_seed(0), max_len=5))
    assert [len(nm) for nm in names] == [5] * 50


def _bigram_state(state, next_logits):
    """Weights for the docstring's CharRNN that make it an exact bigram model: logits(next | current id c) =
    next_logits[c]. The embedding is one-hot (emb >= 27), the GRU's update gate is shut (bias -30: z ~ 1e-13), so
    h' = n = tanh(20 * onehot(c)) puts ~1 on hidden unit c and exactly 0 elsewhere, and head column c holds the row."""
    state = {k: torch.zeros_like(torch.as_tensor(v)) for k, v in state.items()}
    hidden = state["rnn.weight_hh_l0"].shape[1]
    state["emb.weight"][:, :27] = torch.eye(27)
    state["rnn.bias_ih_l0"][hidden:2 * hidden] = -30.0
    state["rnn.weight_ih_l0"][2 * hidden:2 * hidden + 27, :27] = 20.0 * torch.eye(27)
    state["head.weight"][:, :27] = torch.as_tensor(next_logits, dtype=torch.float32).T
    return state


@part("char_model")
@points(1)
@timeout(60)
@hint("Sampling: a name is the characters drawn until the first '.', which is not part of it; every name stops there "
      "(or after max_len characters), whatever characters it contains.")
def test_sampling_a_deterministic_model(submission):
    # a bigram model that (up to probabilities below 1e-24 per draw: logit gaps of 60) always writes "cab" then "."
    chain = {0: "c", 3: "a", 1: "b", 2: "."}
    next_logits = np.full((27, 27), -60.0)
    for current, nxt in chain.items():
        next_logits[current, T.CHARS.index(nxt)] = 0.0
    model = submission.CharRNN()
    model.load_state_dict(_bigram_state(model.state_dict(), next_logits))
    with torch.no_grad():                              # the oracle: the same weights in the text's architecture
        ref = T.ref_char_rnn()
        ref.load_state_dict(_bigram_state(ref.state_dict(), next_logits))
        probs = F.softmax(ref(torch.tensor([[0, 3, 1, 2]]))[0].double(), -1).numpy()
    assert np.all(probs[[0, 1, 2, 3], [3, 1, 2, 0]] > 1 - 1e-12)
    for max_len, temperature, expected in ((20, 1.0, "cab"), (2, 1.0, "ca"), (3, 2.0, "cab")):
        names = list(submission.sample_names(model, 40, submission.torch.Generator().manual_seed(max_len),
                                             temperature=temperature, max_len=max_len))
        assert names == [expected] * 40
