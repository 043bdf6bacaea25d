"""Hidden tests, part `prompt`: the soft-prompt wrapper against an independent oracle, and prompt tuning of the
base GPT on makemore names with the held-out loss measured here (see test_finetune.py for the protocol).

The tuning loop is the test's own (conftest.tune_prompt: batches, loss, AdamW here; the student's SoftPromptGPT
gives logits and, via the notebook's `gradients`, the prompt's gradient), so this part does not depend on the
student's finetune (part `finetune`)."""

import pytest
import torch

from coursekit_student.testing import cpu_smoke, gpu, hint, kit, part, points, timeout

# SMOKE: 200 steps of a 16-vector prompt (lr 3e-2), ~12 CPU-s. Calibrated over seeds 0-4
# (reference/m15-finetuning/smoke-calibration.json): the un-tuned base scores 4.49 nats on the held-out names and
# the base behind the un-trained "\n" prompt 5.01; prompt tuning reaches 2.73-2.76. The bar, 3.0, fails both
# baselines by >= 1.4 nats and passes the reference by >= 0.24. (A count-based unigram model of the training
# names, 2.82, would pass it: 1,536 prompt numbers steer a frozen Shakespeare model only so far; the written
# question asks why. The mechanics are graded exactly by the other tests of this file.)
SMOKE = dict(steps=200, batch_size=32, block_size=32, lr=3e-2, weight_decay=0.0)
SMOKE_THRESHOLD = 3.0
# GPU: 800 steps. PROVISIONAL (no GPU was available): this exact config run on the CPU reaches 2.674 (seed 0,
# reference/m15-finetuning/gpu-config-on-cpu.json); the bar 2.85 leaves 0.18 and fails both baselines above.
GPU = dict(SMOKE, steps=800)
GPU_THRESHOLD = 2.85
N_PROMPT = 16


def _gpt(submission, oracle, rng):
    config = oracle.small_gpt_config(rng)
    state = oracle.random_gpt_state(config, int(rng.integers(1 << 30)))
    return submission.GPT.from_state(config, state), config, state


@part("prompt")
@points(3)
@hint("SoftPromptGPT keeps the base as self.base and freezes all of it; its only trainable parameter is prompt "
      "(n_prompt, n_embd), initialised from tok_emb rows init_ids (copies) or N(0, 0.02^2); block_size = "
      "base.block_size - n_prompt.")
def test_soft_prompt_parameters(submission, rng, oracle):
    model, config, state = _gpt(submission, oracle, rng)
    P = int(rng.integers(2, config["block_size"] // 2))
    init_ids = [int(i) for i in rng.integers(0, config["vocab_size"], size=P)]
    wrapped = submission.SoftPromptGPT(model, P, init_ids)
    params = dict(wrapped.named_parameters())
    assert set(params) == {"prompt"} | {"base." + k for k in state if k != "lm_head.weight"}
    # trainable = receives a gradient (requires_grad flags do not cross from the student's process)
    idx = torch.from_numpy(rng.integers(0, config["vocab_size"], size=(2, config["block_size"] - P)))
    weight = torch.from_numpy(rng.normal(size=(2, config["block_size"] - P, config["vocab_size"]))).float()
    assert {k for k, g in submission.gradients(wrapped, idx, weight).items() if g is not None} == {"prompt"}
    torch.testing.assert_close(torch.as_tensor(params["prompt"]), state["tok_emb.weight"][init_ids], rtol=0, atol=0)
    assert int(wrapped.block_size) == config["block_size"] - P and int(wrapped.n_prompt) == P
    # the base passed in is frozen itself (kept, not copied): alone it has nothing to train
    assert all(g is None for g in submission.gradients(model, idx, weight).values())
    random_init = submission.SoftPromptGPT(_gpt(submission, oracle, rng)[0], 12)
    prompt = torch.as_tensor(dict(random_init.named_parameters())["prompt"])
    assert prompt.shape[0] == 12
    # 12 * n_embd >= 96 draws of N(0, 0.02^2): the sample std lies in [0.013, 0.028] with 5-sigma room
    assert 0.013 < prompt.std().item() < 0.028


@part("prompt")
@points(5)
@hint("forward: concatenate the prompt (P rows) before tok_emb(idx), add pos_emb of positions 0..P+T-1, run the "
      "blocks, ln_f and lm_head, and return the logits of the T input positions only.")
def test_soft_prompt_forward_matches_oracle(submission, rng, oracle):
    model, config, state = _gpt(submission, oracle, rng)
    P = int(rng.integers(1, config["block_size"] // 2))
    wrapped = submission.SoftPromptGPT(model, P)
    prompt = torch.from_numpy(rng.normal(0, 1, size=(P, config["n_embd"]))).float()
    wrapped.load_state_dict({"prompt": prompt, **{"base." + k: v for k, v in state.items()}})
    mine = oracle.trusted_gpt(config, state)
    for T in (config["block_size"] - P, 1, int(rng.integers(2, config["block_size"] - P + 1))):
        idx = torch.from_numpy(rng.integers(0, config["vocab_size"], size=(3, T)))
        out = torch.as_tensor(wrapped(idx)).double()
        assert tuple(out.shape) == (3, T, config["vocab_size"])
        with torch.no_grad():
            expected = oracle.soft_prompt_forward(mine, prompt.double(), idx)
        # float32 GPT forward vs float64: ~1e-6 relative on O(1) logits
        torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-4)


@part("prompt")
@points(4)
@hint("Only the prompt may receive a gradient: every base parameter is frozen (check with gradients(model, idx, w)).")
def test_soft_prompt_gradients(submission, rng, oracle):
    model, config, state = _gpt(submission, oracle, rng)
    P, T = 3, 5
    wrapped = submission.SoftPromptGPT(model, P)
    prompt = torch.from_numpy(rng.normal(0, 1, size=(P, config["n_embd"]))).float()
    wrapped.load_state_dict({"prompt": prompt, **{"base." + k: v for k, v in state.items()}})
    idx = torch.from_numpy(rng.integers(0, config["vocab_size"], size=(2, T)))
    weight = torch.from_numpy(rng.normal(size=(2, T, config["vocab_size"]))).float()
    grads = submission.gradients(wrapped, idx, weight)
    assert {k for k, g in grads.items() if g is not None} == {"prompt"}
    mine = oracle.trusted_gpt(config, state)
    p = prompt.double().requires_grad_(True)
    (oracle.soft_prompt_forward(mine, p, idx) * weight.double()).sum().backward()
    # float32 backward through a small GPT vs float64: ~1e-5 relative
    torch.testing.assert_close(torch.as_tensor(grads["prompt"]).double(), p.grad, rtol=1e-3, atol=1e-4)


@part("prompt")
@points(2)
@hint("ValueError: n_prompt < 1 or >= base.block_size, len(init_ids) != n_prompt, or forward with T > block_size "
      "(= base.block_size - n_prompt).")
def test_soft_prompt_errors(submission, rng, oracle):
    model, config, _ = _gpt(submission, oracle, rng)
    B = config["block_size"]
    for bad in (0, B):
        with pytest.raises(ValueError):
            submission.SoftPromptGPT(model, bad)
    with pytest.raises(ValueError):
        submission.SoftPromptGPT(model, 3, [0, 1])
    for ok in (1, B - 1):  # both ends of 1 <= n_prompt < base.block_size are allowed
        edge = submission.SoftPromptGPT(model, ok)
        assert int(edge.block_size) == B - ok
        assert tuple(torch.as_tensor(edge(torch.zeros(1, B - ok, dtype=torch.long))).shape) == (1, B - ok, config["vocab_size"])
    P = int(rng.integers(1, B // 2))
    wrapped = submission.SoftPromptGPT(model, P)
    wrapped(torch.zeros(1, B - P, dtype=torch.long))  # the longest input fits
    with pytest.raises(ValueError):
        wrapped(torch.zeros(1, B - P + 1, dtype=torch.long))


def _tune(submission, base, names, oracle, rng, config, device):
    model = submission.GPT.from_state(base.config, base.state)
    newline = base.chars.index("\n")
    wrapped = submission.SoftPromptGPT(model, N_PROMPT, [newline] * N_PROMPT)
    wrapped.to(device)
    with kit(submission).deadline(500):
        losses = oracle.tune_prompt(wrapped, submission.gradients, names.train, dict(config, seed=int(rng.integers(1000))))
    wrapped.to("cpu")
    wrapped.eval()
    assert len(losses) == config["steps"]
    params = dict(wrapped.named_parameters())
    for name, value in base.state.items():
        if name != "lm_head.weight":  # tied to tok_emb.weight
            assert bool(torch.equal(torch.as_tensor(params["base." + name]), value)), "the base must stay frozen"
    return oracle.heldout_loss(wrapped, names.heldout)


@part("prompt")
@points(4)
@cpu_smoke
@timeout(600)
@hint("Prompt tuning (SoftPromptGPT(base, 16, ['\\n' id] * 16), trained by the grader through your forward and "
      "gradients) must bring the held-out names' loss below the bar with the base frozen.")
def test_prompt_tuning_threshold_smoke(submission, base, names, oracle, rng, record_metric):
    loss = _tune(submission, base, names, oracle, rng, SMOKE, "cpu")
    record_metric("prompt_heldout_loss_smoke", loss, threshold=SMOKE_THRESHOLD, higher_is_better=False)
    assert loss < SMOKE_THRESHOLD


@part("prompt")
@points(4)
@gpu
@timeout(600)
@hint("Prompt tuning (SoftPromptGPT(base, 16, ['\\n' id] * 16), trained by the grader through your forward and "
      "gradients) must bring the held-out names' loss below the bar with the base frozen.")
def test_prompt_tuning_threshold_gpu(submission, base, names, oracle, rng, device, record_metric):
    loss = _tune(submission, base, names, oracle, rng, GPU, device)
    record_metric("prompt_heldout_loss", loss, threshold=GPU_THRESHOLD, higher_is_better=False)
    assert loss < GPU_THRESHOLD
