"""Hidden tests, part `seq2seq`: masking, the teacher-forcing shift, greedy decoding, and a training run.

The training run builds the student's model, trains it with the student's train_seq2seq on digit
strings generated here (trusted side), decodes held-out strings with the student's greedy_decode and
scores exact match here. The GPU test and its CPU smoke twin carry the same points.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

from coursekit_student.testing import cpu_smoke, gpu, hint, kit, part, points, timeout

PAD, BOS, EOS, VOCAB = 0, 1, 2, 13

# Training configurations. SMOKE: measured on the shared 2-core CI machine, see reference/m13-transformer/.
# GPU: provisional (no GPU run yet), sized from the smoke run and standard seq2seq reversal results.
SMOKE = dict(d_model=32, n_heads=4, n_layers=2, d_ff=64, max_digits=6, steps=400, batch_size=128, lr=3e-3,
             max_seconds=150, deadline=200, threshold=0.60, n_train=20000, n_test=500)
GPU = dict(d_model=128, n_heads=8, n_layers=3, d_ff=512, max_digits=12, steps=4000, batch_size=256, lr=1e-3,
           max_seconds=150, deadline=240, threshold=0.95, n_train=50000, n_test=1000)


def reversal_data(rng, n, max_digits, min_digits=3):
    """Trusted copy of the notebook's task: src digits + PAD; tgt BOS, reversed digits, EOS, PAD."""
    src = np.full((n, max_digits), PAD, dtype=np.int64)
    tgt = np.full((n, max_digits + 2), PAD, dtype=np.int64)
    for i in range(n):
        L = int(rng.integers(min_digits, max_digits + 1))
        digits = rng.integers(0, 10, size=L) + 3
        src[i, :L] = digits
        tgt[i, 0] = BOS
        tgt[i, 1:L + 1] = digits[::-1]
        tgt[i, L + 1] = EOS
    return torch.from_numpy(src), torch.from_numpy(tgt)


def small_model(submission, n_layers=1):
    submission.torch.manual_seed(0)
    return submission.Seq2SeqTransformer(VOCAB, 16, 2, n_layers, 32, 32)


@part("seq2seq")
@points(2)
@hint("The decoder's self-attention needs the causal mask: the logits at position t may not depend on "
      "decoder inputs after t.")
def test_decoder_is_causal(submission, rng):
    model = small_model(submission, n_layers=2)
    src, tgt = reversal_data(rng, 4, 6)
    tgt_in = tgt[:, :-1].clone()
    base = model(src, tgt_in)
    for t in (1, 3, 5):
        changed = tgt_in.clone()
        changed[:, t + 1:] = torch.from_numpy(rng.integers(3, 13, size=changed[:, t + 1:].shape))
        out = model(src, changed)
        # float32 forward passes of identical inputs: equal up to a few ulps
        torch.testing.assert_close(out[:, :t + 1], base[:, :t + 1], rtol=1e-5, atol=1e-5)
        assert (out[:, t + 1:] - base[:, t + 1:]).abs().max() > 1e-4  # the later positions do see them


@part("seq2seq")
@points(2)
@hint("Mask PAD source positions (src != PAD) in the encoder's self-attention and the decoder's cross-attention.")
def test_source_padding_ignored(submission, rng):
    model = small_model(submission)
    src, tgt = reversal_data(rng, 5, 6)
    longer = torch.cat([src, torch.full((5, 4), PAD, dtype=torch.long)], dim=1)
    # extra PAD columns must change nothing: attention gives them weight exactly 0
    torch.testing.assert_close(model(longer, tgt[:, :-1]), model(src, tgt[:, :-1]), rtol=1e-5, atol=1e-5)


@part("seq2seq")
@points(2)
@hint("Teacher forcing: feed tgt[:, :-1], predict tgt[:, 1:], and average the cross-entropy over non-PAD targets.")
def test_loss_is_shifted_cross_entropy(submission, rng):
    model = small_model(submission)
    src, tgt = reversal_data(rng, 8, 6)
    logits = model(src, tgt[:, :-1])
    expected = F.cross_entropy(logits.reshape(-1, VOCAB), tgt[:, 1:].reshape(-1), ignore_index=PAD)
    loss = submission.seq2seq_loss(model, src, tgt)
    # same float32 logits on both sides; the reductions may sum in another order
    assert math.isclose(float(loss), float(expected), rel_tol=1e-5), (float(loss), float(expected))


@part("seq2seq")
@points(2)
@hint("Greedy decoding: start from BOS, append the arg-max of the last position's logits, and write PAD after EOS.")
def test_greedy_matches_stepwise(submission, rng):
    model = small_model(submission)
    src, _ = reversal_data(rng, 6, 5)
    got = submission.greedy_decode(model, src, 6)
    model.eval()
    prefix = torch.full((6, 1), BOS, dtype=torch.long)
    done = torch.zeros(6, dtype=torch.bool)
    for _ in range(6):
        nxt = model(src, prefix)[:, -1].argmax(-1)
        nxt = torch.where(done, torch.full_like(nxt, PAD), nxt)
        done |= nxt == EOS
        prefix = torch.cat([prefix, nxt[:, None]], 1)
    np.testing.assert_array_equal(got.numpy(), prefix[:, 1:].numpy())
    assert got.dtype == torch.int64 and tuple(got.shape) == (6, 6)
    # a random model need not emit EOS at all; with EOS's logit raised far above the rest every sequence ends at
    # once, and everything after that EOS must be PAD (whatever the arg-max would be)
    head = model.head.state_dict()
    bias = head["bias"].clone()
    bias[EOS] += 100.0
    model.head.load_state_dict({"weight": head["weight"], "bias": bias})
    got = submission.greedy_decode(model, src, 4)
    np.testing.assert_array_equal(got.numpy(), np.array([[EOS, PAD, PAD, PAD]] * 6))


def _pre_norm_encoder(blk, x, mask):
    h = blk.norm1(x)
    x = x + blk.self_attn(h, h, h, mask)[0]
    return x + blk.ff(blk.norm2(x))


def _pre_norm_decoder(blk, y, mem, self_mask, mem_mask):
    h = blk.norm1(y)
    y = y + blk.self_attn(h, h, h, self_mask)[0]
    y = y + blk.cross_attn(blk.norm2(y), mem, mem, mem_mask)[0]
    return y + blk.ff(blk.norm3(y))


@part("seq2seq")
@points(2)
@hint("encode: src_emb(src) * sqrt(D), + positions, every encoder block (pre-norm) with the source padding mask, "
      "enc_norm; decode: tgt_emb * sqrt(D), + positions, every decoder block (pre-norm) with the causal mask and "
      "the source padding mask, dec_norm, head. n_layers blocks in each stack.")
def test_model_wiring(submission, rng):
    # The expected values are composed here from the student's own sub-modules, called one at a time (the blocks
    # and attention are graded in their own parts): only the model's wiring is judged.
    D, layers = 16, 2
    submission.torch.manual_seed(0)
    model = submission.Seq2SeqTransformer(VOCAB, D, 2, layers, 32, 32)
    state = model.state_dict()
    for stack in ("encoder", "decoder"):
        assert {int(k.split(".")[1]) for k in state if k.startswith(stack + ".")} == set(range(layers)), stack
    src, tgt = reversal_data(rng, 3, 6)
    tgt_in = tgt[:, :-1]
    src_mask = (src != PAD)[:, None, :]
    causal = torch.ones(tgt_in.shape[1], tgt_in.shape[1], dtype=torch.bool).tril()
    x = model.pos(model.src_emb(src) * math.sqrt(D))
    for i in range(layers):
        x = _pre_norm_encoder(model.encoder[i], x, src_mask)
    memory = model.enc_norm(x)
    # float32, the same modules on both sides: only the order of a few additions may differ
    torch.testing.assert_close(model.encode(src), memory, rtol=1e-5, atol=1e-5)
    y = model.pos(model.tgt_emb(tgt_in) * math.sqrt(D))
    for i in range(layers):
        y = _pre_norm_decoder(model.decoder[i], y, memory, causal, src_mask)
    torch.testing.assert_close(model.decode(tgt_in, memory, src), model.head(model.dec_norm(y)), rtol=1e-5, atol=1e-5)


def _oracle_training(state, D, src, tgt, steps, lr):
    """The documented recipe on the zero-layer model (logits = head(dec_norm(tgt_emb * sqrt(D) + pe))) for a
    one-example data set, where every minibatch is that example whatever the sampler: seq2seq loss, fresh gradients,
    clipping to norm 1.0, AdamW(lr) with torch's defaults (weight_decay 0.01). float64."""
    # other saved state the text allows (a bool causal-mask buffer, as nanoGPT keeps) is not a parameter
    params = {k: torch.nn.Parameter(v.detach().clone()) for k, v in state.items()
              if k != "pos.pe" and v.is_floating_point()}
    pe = state["pos.pe"].reshape(-1, D)  # the table, whether saved as (max_len, D) or (1, max_len, D)
    opt = torch.optim.AdamW(list(params.values()), lr=lr, weight_decay=0.01)
    tgt_in, target = tgt[:, :-1], tgt[:, 1:]
    for _ in range(steps):
        y = F.embedding(tgt_in, params["tgt_emb.weight"]) * math.sqrt(D) + pe[:tgt_in.shape[1]]
        y = F.layer_norm(y, (D,), params["dec_norm.weight"], params["dec_norm.bias"], eps=1e-5)
        logits = F.linear(y, params["head.weight"], params["head.bias"])
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), target.reshape(-1), ignore_index=PAD)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)
        opt.step()
    return {k: v.detach() for k, v in params.items()}


@part("seq2seq")
@points(2)
@timeout(120)  # a few short runs (~1 s each unloaded; the first pays torch's optimiser warm-up)
@hint("train_seq2seq trains the given model in place, returns one loss (a Python float) per step taken, is "
      "reproducible for a given seed (another seed gives other minibatches), stops once max_seconds have passed, "
      "and each step zeroes the gradients, back-propagates seq2seq_loss, clips the gradient norm to 1.0 and makes "
      "one AdamW(lr) step (weight_decay 0.01): checked against the parameters after 3 steps.")
def test_train_seq2seq_mechanics(submission, rng):
    src, tgt = reversal_data(rng, 64, 5)

    def run(seed, steps=4, **limit):
        model = small_model(submission)
        # outputs (copied to this side as data) on a fixed batch show whether the weights moved
        before = model(src[:4], tgt[:4, :-1]).detach()
        losses = submission.train_seq2seq(model, src, tgt, steps=steps, batch_size=8, lr=1e-3, seed=seed, **limit)
        model.eval()
        after = model(src[:4], tgt[:4, :-1]).detach()
        return list(losses), before, after

    losses, before, after = run(seed=0)
    assert len(losses) == 4 and all(type(x) is float and math.isfinite(x) for x in losses)
    assert not torch.equal(before, after), "the model must be trained in place"
    again, _, after_again = run(seed=0)
    assert again == losses and torch.equal(after, after_again), "the same seed must give the same run"
    assert run(seed=1)[0] != losses, "the seed must decide the minibatches"
    assert len(run(seed=0, steps=50, max_seconds=0.0)[0]) <= 1, "max_seconds=0 must stop at once"
    assert len(run(seed=0, steps=3, max_seconds=3600.0)[0]) == 3, "a budget that is not used up must not stop it"

    # one minibatch of `batch_size` examples per step: with lr=0 the model never changes, so with batch_size=1 every
    # loss is the loss of one example. Two examples whose losses differ as much as the candidates allow: a minibatch
    # of another size mixes them and its loss lies strictly between them
    model = small_model(submission)
    cand_src, cand_tgt = reversal_data(rng, 16, 6)
    logits = model(cand_src, cand_tgt[:, :-1]).detach().double()
    nll = F.cross_entropy(logits.reshape(-1, VOCAB), cand_tgt[:, 1:].reshape(-1), ignore_index=PAD,
                          reduction="none").reshape(16, -1)
    per_example = nll.sum(1) / (cand_tgt[:, 1:] != PAD).sum(1)
    pair = [int(per_example.argmin()), int(per_example.argmax())]
    single = submission.train_seq2seq(model, cand_src[pair], cand_tgt[pair], steps=6, batch_size=1, lr=0.0, seed=0)
    assert len(single) == 6
    for value in single:
        # float32 forward passes of one example vs the same example in a batch of 16: ~1e-7 relative
        assert any(math.isclose(value, float(per_example[i]), rel_tol=1e-5) for i in pair), "batch_size examples per step"

    # the update itself: a zero-layer model (its logits depend on the target prefix only) in float64, trained on
    # one example, against the documented recipe run here
    D = 16
    submission.torch.manual_seed(0)
    model = submission.Seq2SeqTransformer(VOCAB, D, 2, 0, 32, 32)
    model.double()
    start = {k: v.clone() for k, v in model.state_dict().items()}
    one_src, one_tgt = reversal_data(rng, 1, 6)
    steps = submission.train_seq2seq(model, one_src, one_tgt, steps=3, batch_size=1, lr=1e-2, seed=0)
    assert len(steps) == 3
    got = model.state_dict()
    # the oracle's layer norm is torch's: judge the update only where the student's dec_norm computes the same
    # function (a LayerNorm mistake is graded in part `blocks`, not charged here again)
    probe = torch.from_numpy(rng.normal(size=(2, 3, D)))
    same_norm = torch.allclose(model.dec_norm(probe), F.layer_norm(probe, (D,), got["dec_norm.weight"],
                                                                   got["dec_norm.bias"], eps=1e-5), rtol=1e-9, atol=1e-9)
    if same_norm:
        expected = _oracle_training(start, D, one_src, one_tgt, 3, 1e-2)
        for k, v in expected.items():
            # float64 on both sides, 3 steps: ~1e-14 apart; AdamW's division by sqrt(v) + 1e-8 cannot blow that
            # above ~1e-9 for the gradients here (all far from 0 or exactly 0)
            torch.testing.assert_close(got[k], v, rtol=1e-6, atol=1e-8, msg=k)


def _train_and_score(submission, rng, cfg, device):
    src, tgt = reversal_data(rng, cfg["n_train"], cfg["max_digits"])
    test_src, test_tgt = reversal_data(rng, cfg["n_test"], cfg["max_digits"])
    submission.torch.manual_seed(0)
    model = submission.Seq2SeqTransformer(VOCAB, cfg["d_model"], cfg["n_heads"], cfg["n_layers"], cfg["d_ff"],
                                          cfg["max_digits"] + 4)
    with kit(submission).deadline(cfg["deadline"]):
        losses = submission.train_seq2seq(model, src, tgt, steps=cfg["steps"], batch_size=cfg["batch_size"],
                                          lr=cfg["lr"], seed=0, max_seconds=cfg["max_seconds"], device=device)
    model.to("cpu")
    pred = submission.greedy_decode(model, test_src, cfg["max_digits"] + 1)
    exact = float((pred == test_tgt[:, 1:]).all(dim=1).float().mean())
    return exact, len(losses)


@part("seq2seq")
@points(4)
@gpu
@timeout(300)
@hint("Your model, trained by your train_seq2seq (AdamW, clipping, teacher forcing), must reverse held-out "
      "digit strings exactly; check the causal mask and the target shift first.")
def test_training_reverses_strings_gpu(submission, rng, device, record_metric):
    exact, steps = _train_and_score(submission, rng, GPU, device)
    record_metric("reversal_exact_match", exact, threshold=GPU["threshold"])
    assert exact >= GPU["threshold"]


@part("seq2seq")
@points(4)
@cpu_smoke
@timeout(260)
@hint("Your model, trained by your train_seq2seq (AdamW, clipping, teacher forcing), must reverse held-out "
      "digit strings exactly; check the causal mask and the target shift first.")
def test_training_reverses_strings_smoke(submission, rng, record_metric):
    exact, steps = _train_and_score(submission, rng, SMOKE, "cpu")
    record_metric("reversal_exact_match_smoke", exact, threshold=SMOKE["threshold"])
    assert exact >= SMOKE["threshold"]
