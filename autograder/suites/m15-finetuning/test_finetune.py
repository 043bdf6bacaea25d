"""Hidden tests, part `finetune`: names as ids, the loop replayed step by step, and the base GPT fine-tuned
on makemore names, fully and with LoRA, with the held-out loss measured here.

The threshold tests send the base model as data (config + state dict) and the TRAINING names as ids; the
3,000 held-out names never enter the student's process: the test sends input windows and scores the
returned logits itself (conftest.heldout_loss). The seed of each run comes from `rng`, so the thresholds
were calibrated over seeds 0-4 (reference/m15-finetuning/calibrate.py, figures in its README).

Memory: full fine-tuning holds gradients and two AdamW moments for all 348,096 parameters (~4 MB more than
LoRA in float32), less than the run-to-run noise of the worker's peak RSS at this scale (activations and the
allocator's cache dominate), so the suite grades the memory claim through its cause instead: after LoRA
training the frozen weights are bit-for-bit unchanged (no optimizer touched them) and part `lora` checks that
they receive no gradient. The peak RSS of both runs is recorded as a metric for the reference figures.
"""

import numbers

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from coursekit_student.testing import cpu_smoke, gpu, hint, kit, part, points, timeout

# SMOKE: 250 steps of batch 32 x 32 characters, 12-18 CPU-s per run on one loaded core. Calibrated on the held-out
# names over seeds 0-4 (reference/m15-finetuning/smoke-calibration.json): the un-fine-tuned base scores 4.49 nats,
# a bigram model fitted on the training names 2.467; full fine-tuning reaches 2.182-2.190, LoRA (r=4, alpha=8)
# 2.297-2.331 (spread over seeds 0.034; the held-out set is fixed, so the estimate has no sampling noise).
SMOKE_FULL = dict(steps=250, batch_size=32, block_size=32, lr=1e-3, weight_decay=0.0)
SMOKE_LORA = dict(steps=250, batch_size=32, block_size=32, lr=1e-2, weight_decay=0.0)
SMOKE_FULL_THRESHOLD = 2.30   # reference <= 2.190 (0.11 to spare); the bigram fails by 0.17, the base by 2.2
SMOKE_LORA_THRESHOLD = 2.40   # reference <= 2.331 (0.07 to spare); the bigram fails by 0.067, the base by 2.1
# GPU: 1,000 steps (seconds on a GPU). PROVISIONAL: no GPU was available; calibrated by running this exact
# config on the CPU (same maths, last-bit differences; reference/m15-finetuning/README.md), seed 0: full 2.096,
# LoRA 2.276. Bars: full 2.20 (0.10 to spare; the bigram 2.467 fails), LoRA 2.36 (0.084 to spare).
GPU_FULL = dict(SMOKE_FULL, steps=1000)
GPU_LORA = dict(SMOKE_LORA, steps=1000)
GPU_FULL_THRESHOLD = 2.20
GPU_LORA_THRESHOLD = 2.36
LORA_R, LORA_ALPHA = 4, 8.0


@part("finetune")
@points(2)
@hint('encode_names: the ids of "\\n" + "\\n".join(names) + "\\n" as a 1-D int64 tensor; a character outside '
      "the tokenizer's vocabulary raises ValueError.")
def test_encode_names(submission, rng):
    letters = "abcdefghijklmnopqrstuvwxyz"
    chars = "".join(sorted(set("\n" + "".join(rng.choice(list(letters), size=18)))))
    names = ["".join(rng.choice(list(chars[1:]), size=int(rng.integers(1, 8)))) for _ in range(int(rng.integers(2, 9)))]
    tokenizer = submission.CharTokenizer(chars)
    ids = torch.as_tensor(submission.encode_names(names, tokenizer))
    assert ids.dtype == torch.int64 and ids.dim() == 1
    assert ids.tolist() == [chars.index(c) for c in "\n" + "\n".join(names) + "\n"]
    assert torch.as_tensor(submission.encode_names([], tokenizer)).tolist() == [chars.index("\n")] * 2
    outside = next(c for c in letters if c not in chars)
    with pytest.raises(ValueError):
        submission.encode_names([names[0], names[0] + outside], tokenizer)


def _oracle_finetune(model, ids, config, frozen_prefixes):
    """The loop of the notebook, run here on a trusted copy (float32, like the student's)."""
    for name, p in model.named_parameters():
        p.requires_grad_(not name.startswith(frozen_prefixes))
    g = torch.Generator().manual_seed(config["seed"])
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config["lr"], betas=(0.9, 0.95), weight_decay=config["weight_decay"])
    T, losses = config["block_size"], []
    for _ in range(config["steps"]):
        starts = torch.randint(0, len(ids) - T, (config["batch_size"],), generator=g)
        rows = starts[:, None] + torch.arange(T)[None, :]
        logits = model(ids[rows])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[rows + 1].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@part("finetune")
@points(6)
@hint("finetune: g = torch.Generator().manual_seed(seed); each step draws starts = torch.randint(0, len(ids) - T, "
      "(batch_size,), generator=g), x = the windows, y = the windows shifted by one; AdamW(lr, betas=(0.9, 0.95), "
      "weight_decay) over the trainable parameters only; one step per batch; return each step's loss as a float "
      "(loss.item()); train() mode for the loop, eval() at the end.")
def test_finetune_steps_match_oracle(submission, rng, oracle):
    config = oracle.small_gpt_config(rng)
    state = oracle.random_gpt_state(config, int(rng.integers(1 << 30)))
    ids = torch.from_numpy(rng.integers(0, config["vocab_size"], size=300))
    run = dict(steps=4, batch_size=3, block_size=int(rng.integers(5, config["block_size"] + 1)), lr=1e-2,
               weight_decay=0.1, seed=int(rng.integers(1000)))
    model = submission.GPT.from_state(config, state)
    model.ln_f.requires_grad_(False)  # a frozen part: the loop must leave it alone
    returned = list(submission.finetune(model, ids, run))
    # "list of floats": a Python/NumPy float per step, not the loss tensor (which would keep its graph alive)
    assert all(isinstance(v, numbers.Real) for v in returned), "finetune returns floats (loss.item())"
    losses = [float(v) for v in returned]
    assert not bool(model.training), "finetune leaves the model in eval() mode"

    mine = oracle.trusted_gpt(config, state).float()
    expected = _oracle_finetune(mine, ids, run, ("ln_f.",))
    assert len(losses) == run["steps"]
    # float32 on both sides, the same operations: ~1e-6; a wrong batch or lr changes the losses by ~1e-2
    np.testing.assert_allclose(losses, expected, rtol=1e-4, atol=1e-5)
    theirs = dict(model.named_parameters())
    for name, p in mine.named_parameters():
        # after 4 Adam steps of lr 1e-2 a wrong step moves weights by ~1e-2; rounding accounts for < 1e-5
        torch.testing.assert_close(torch.as_tensor(theirs[name]), p.detach(), rtol=1e-4, atol=1e-4)
    assert bool(torch.equal(torch.as_tensor(theirs["ln_f.weight"]), state["ln_f.weight"]))
    # "put in train() mode for the loop": the GPT has no dropout, so train/eval mode is invisible in its numbers.
    # A model handed over in eval() mode with a BatchNorm1d over the T positions (affine=False: no parameters)
    # adds 1 to num_batches_tracked per training-mode forward pass: one per step, and eval() again at the end.
    V, T = config["vocab_size"], run["block_size"]
    counted = submission.torch.nn.Sequential(submission.torch.nn.Embedding(V, V),
                                             submission.torch.nn.BatchNorm1d(T, affine=False))
    counted.eval()
    assert len(submission.finetune(counted, ids, dict(run, steps=3))) == 3
    passes = int(np.asarray(counted[1].num_batches_tracked))
    assert passes == 3, f"finetune ran {passes} training-mode forward passes for 3 steps (expected 3)"
    assert not bool(counted.training), "finetune leaves the model in eval() mode"


def _finetune_base(submission, base, names, oracle, rng, config, device, lora):
    model = submission.GPT.from_state(base.config, base.state)
    if lora:
        # LoRA is put on here with the student's LoRALinear, not with apply_lora: part `apply_lora` grades that
        model.requires_grad_(False)
        for i in range(base.config["n_layer"]):
            attn = model.blocks[i].attn
            for name in ("qkv", "proj"):
                attn.add_module(name, submission.LoRALinear(getattr(attn, name), LORA_R, LORA_ALPHA))
    model.to(device)
    run = dict(config, seed=int(rng.integers(1000)))
    kit(submission).reset_peak_memory()
    with kit(submission).deadline(500):
        losses = submission.finetune(model, names.train, run)
    try:
        peak = kit(submission).peak_memory_mb()
    except RuntimeError:  # a backend that cannot read the worker's RSS: the figure is only recorded
        peak = None
    model.to("cpu")
    model.eval()
    assert len(losses) == run["steps"]
    return model, oracle.heldout_loss(model, names.heldout), peak


def _check_full(submission, base, names, oracle, rng, record_metric, config, device, threshold, tag):
    model, loss, peak = _finetune_base(submission, base, names, oracle, rng, config, device, lora=False)
    record_metric(f"full_heldout_loss{tag}", loss, threshold=threshold, higher_is_better=False)
    if peak is not None:
        record_metric(f"full_peak_rss_mb{tag}", peak)
    assert loss < threshold


def _check_lora(submission, base, names, oracle, rng, record_metric, config, device, threshold, tag):
    model, loss, peak = _finetune_base(submission, base, names, oracle, rng, config, device, lora=True)
    record_metric(f"lora_heldout_loss{tag}", loss, threshold=threshold, higher_is_better=False)
    if peak is not None:
        record_metric(f"lora_peak_rss_mb{tag}", peak)
    params = dict(model.named_parameters())
    idx = names.train[:64].view(2, 32)
    grads = submission.gradients(model, idx, torch.ones(2, 32, base.config["vocab_size"]))
    trainable = {k for k, g in grads.items() if g is not None}  # receives a gradient = trainable
    assert sum(params[k].numel() for k in trainable) == 6 * base.config["n_layer"] * LORA_R * base.config["n_embd"]
    # the frozen base is bit-for-bit the pretrained one: one copy serves every task, no optimizer state for it
    for name, value in base.state.items():
        stored = name.replace("attn.qkv.", "attn.qkv.base.").replace("attn.proj.", "attn.proj.base.")
        if name == "lm_head.weight":
            continue  # tied to tok_emb.weight
        assert bool(torch.equal(torch.as_tensor(params[stored]), value)), f"{stored} changed"
    assert loss < threshold


@part("finetune")
@points(10)
@cpu_smoke
@timeout(600)
@hint("Full fine-tuning of the base GPT on the names (your finetune, every parameter trainable) must bring the "
      "held-out names' loss below the bar.")
def test_full_finetune_threshold_smoke(submission, base, names, oracle, rng, record_metric):
    _check_full(submission, base, names, oracle, rng, record_metric, SMOKE_FULL, "cpu", SMOKE_FULL_THRESHOLD, "_smoke")


@part("finetune")
@points(10)
@gpu
@timeout(600)
@hint("Full fine-tuning of the base GPT on the names (your finetune, every parameter trainable) must bring the "
      "held-out names' loss below the bar.")
def test_full_finetune_threshold_gpu(submission, base, names, oracle, rng, device, record_metric):
    _check_full(submission, base, names, oracle, rng, record_metric, GPU_FULL, device, GPU_FULL_THRESHOLD, "")


@part("finetune")
@points(10)
@cpu_smoke
@timeout(600)
@hint("LoRA fine-tuning (your LoRALinear, r=4, alpha=8, on every attn.qkv and attn.proj, then your finetune) must "
      "bring the held-out names' loss below the bar while the pretrained weights stay exactly as they were.")
def test_lora_finetune_threshold_smoke(submission, base, names, oracle, rng, record_metric):
    _check_lora(submission, base, names, oracle, rng, record_metric, SMOKE_LORA, "cpu", SMOKE_LORA_THRESHOLD, "_smoke")


@part("finetune")
@points(10)
@gpu
@timeout(600)
@hint("LoRA fine-tuning (your LoRALinear, r=4, alpha=8, on every attn.qkv and attn.proj, then your finetune) must "
      "bring the held-out names' loss below the bar while the pretrained weights stay exactly as they were.")
def test_lora_finetune_threshold_gpu(submission, base, names, oracle, rng, device, record_metric):
    _check_lora(submission, base, names, oracle, rng, record_metric, GPU_LORA, device, GPU_LORA_THRESHOLD, "")
