"""Hidden tests, part `cells`: the RNN, LSTM and GRU cells against torch.nn.RNNCell / LSTMCell / GRUCell with the
same (copied) weights, on random sizes, one step and unrolled over a sequence; PyTorch's recurrent modules and
functions are unavailable to the student's code here.
"""

import torch

from coursekit_student.testing import forbid, hint, part, points

SHORTCUTS = ("torch.nn.RNNCell", "torch.nn.LSTMCell", "torch.nn.GRUCell", "torch.nn.RNN", "torch.nn.LSTM",
             "torch.nn.GRU", "torch.rnn_tanh_cell", "torch.lstm_cell", "torch.gru_cell", "torch._VF")


def _weights(module):
    return [getattr(module, n).detach() for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]


def _case(rng, cls, dtype=torch.float64):
    B, I, H = (int(v) for v in rng.integers(1, 9, size=3))
    torch.manual_seed(int(rng.integers(1 << 30)))
    module = cls(I, H).to(dtype)
    with torch.no_grad():
        for p in module.parameters():          # larger than PyTorch's init so the gates saturate somewhere
            p.copy_(torch.from_numpy(rng.normal(scale=0.8, size=tuple(p.shape))))
    x = torch.from_numpy(rng.normal(size=(B, I))).to(dtype)
    h = torch.from_numpy(rng.normal(size=(B, H))).to(dtype)
    c = torch.from_numpy(rng.normal(size=(B, H))).to(dtype)
    return module, x, h, c


# float64: the same operations in another order agree to ~1e-15; float32 cases get 1e-5
@part("cells")
@points(4)
@hint("h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh).")
@forbid(*SHORTCUTS)
def test_rnn_cell_matches_torch(submission, rng):
    for _ in range(5):
        module, x, h, _ = _case(rng, torch.nn.RNNCell)
        got = submission.rnn_cell(x, h, *_weights(module))
        torch.testing.assert_close(got, module(x, h).detach(), rtol=1e-10, atol=1e-12)


@part("cells")
@points(6)
@hint("LSTM gates in the order i, f, g, o (rows of W_ih / W_hh in blocks of H): c' = sigmoid(f) c + sigmoid(i) tanh(g), "
      "h' = sigmoid(o) tanh(c').")
@forbid(*SHORTCUTS)
def test_lstm_cell_matches_torch(submission, rng):
    for _ in range(5):
        module, x, h, c = _case(rng, torch.nn.LSTMCell)
        h_next, c_next = submission.lstm_cell(x, (h, c), *_weights(module))
        h_ref, c_ref = module(x, (h, c))
        torch.testing.assert_close(h_next, h_ref.detach(), rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(c_next, c_ref.detach(), rtol=1e-10, atol=1e-12)


@part("cells")
@points(6)
@hint("GRU gates r, z, n; n = tanh(W_in x + b_in + r * (W_hn h + b_hn)) -- the reset gate multiplies the transformed "
      "state, bias included; h' = (1 - z) n + z h.")
@forbid(*SHORTCUTS)
def test_gru_cell_matches_torch(submission, rng):
    for _ in range(5):
        module, x, h, _ = _case(rng, torch.nn.GRUCell)
        got = submission.gru_cell(x, h, *_weights(module))
        torch.testing.assert_close(got, module(x, h).detach(), rtol=1e-10, atol=1e-12)


@part("cells")
@points(3)
@hint("Each cell must work for float32 tensors too and keep their dtype; unrolled over a sequence, feed each step's "
      "state into the next.")
@forbid(*SHORTCUTS)
def test_cells_unrolled_float32(submission, rng):
    T = 12
    cells = {"rnn_cell": submission.rnn_cell, "lstm_cell": submission.lstm_cell, "gru_cell": submission.gru_cell}
    for cls, name in ((torch.nn.RNNCell, "rnn_cell"), (torch.nn.LSTMCell, "lstm_cell"), (torch.nn.GRUCell, "gru_cell")):
        module, _, h, c = _case(rng, cls, dtype=torch.float32)
        xs = torch.from_numpy(rng.normal(size=(T, h.shape[0], module.input_size))).float()
        state_ref = (h, c) if name == "lstm_cell" else h
        state = state_ref
        for t in range(T):
            state = cells[name](xs[t], state, *_weights(module))
            state_ref = tuple(s.detach() for s in module(xs[t], state_ref)) if name == "lstm_cell" \
                else module(xs[t], state_ref).detach()
        for got, ref in zip((state if name == "lstm_cell" else (state,)), (state_ref if name == "lstm_cell" else (state_ref,))):
            assert got.dtype == torch.float32, name
            # float32 over 12 steps: errors ~1e-6; 1e-4 leaves room, a wrong gate is off by ~1e-1
            torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)
