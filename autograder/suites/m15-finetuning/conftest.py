"""Trusted helpers for the m15 hidden suite: the base GPT, the names split, and float64 oracles.

Everything here runs on the grader's side. The student's process receives the base model only as data
(its config and state dict, rebuilt there with GPT.from_state) and the training names only as ids; the
held-out names and every expected value stay here.
"""

from __future__ import annotations

import functools
from dataclasses import asdict
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from coursekit.data import load_dataset
from coursekit_student.base_gpt import GPT, GPTConfig, load_base_gpt

HELDOUT_NAMES = 3000  # names the student's code never receives: ~21,000 scored characters
EVAL_T = 32  # window length of the held-out evaluation (<= every model's block_size, the soft prompt's included)


@functools.cache
def _base_model():
    # the text passed explicitly: the trusted side reads it through coursekit.data (no datasets.json lookup)
    return load_base_gpt("base", text=load_dataset("tinyshakespeare")["input.txt"])


def pytest_collection_finish(session):
    """Load (or, the first time on a machine, build: ~2.5 CPU-minutes) the base model now, outside every
    test's timeout (pytest-timeout counts fixture setup in the first test that asks for it)."""
    if not session.config.option.collectonly:
        _base_model()


@pytest.fixture(scope="session")
def base():
    """The course's pretrained base GPT as data: config dict, state dict, tokenizer chars."""
    model, tokenizer = _base_model()  # built once by the kit and cached (sha256-checked)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return SimpleNamespace(config=asdict(model.config), state=state, chars=tokenizer.chars)


@pytest.fixture(scope="session")
def names(base):
    """(train ids, held-out ids) of makemore's names under the base tokenizer, split by a fixed permutation.

    The permutation is fixed (not drawn from `rng`) so that the thresholds are calibrated on exactly this
    held-out set (reference/m15-finetuning/calibrate.py uses the same split)."""
    all_names = load_dataset("makemore_names")["names.txt"].split()
    perm = np.random.default_rng(15).permutation(len(all_names))
    stoi = {c: i for i, c in enumerate(base.chars)}
    def ids(chosen):
        return torch.tensor([stoi[c] for c in "\n" + "\n".join(chosen) + "\n"], dtype=torch.long)
    train = ids([all_names[i] for i in perm[:-HELDOUT_NAMES]])
    heldout = ids([all_names[i] for i in perm[-HELDOUT_NAMES:]])
    return SimpleNamespace(train=train, heldout=heldout)


def heldout_loss(model, ids: torch.Tensor, T: int = EVAL_T, vocab: int = 65) -> float:
    """Mean cross-entropy (nats) over consecutive T-windows of the held-out stream, every position scored.

    `model` is a handle: only the inputs cross into the student's process; the targets stay here."""
    n = (len(ids) - 1) // T
    x, y = ids[: n * T].view(n, T), ids[1: n * T + 1].view(n, T)
    losses = []
    for rows in range(0, n, 128):  # chunks keep each reply a few MB
        logits = torch.as_tensor(model(x[rows:rows + 128])).detach().double()
        assert tuple(logits.shape) == (len(x[rows:rows + 128]), T, vocab), "logits must be (B, T, vocab_size)"
        losses.append(F.cross_entropy(logits.reshape(-1, vocab), y[rows:rows + 128].reshape(-1), reduction="sum"))
    return float(sum(losses) / (n * T))


def lora_forward(x, W, b, A, B, scaling):
    """The LoRA layer, float64: x W^T + b + scaling (x A^T) B^T (Hu et al. 2021, eq. 3; peft's Linear)."""
    x, W, A, B = (torch.as_tensor(t).double() for t in (x, W, A, B))
    y = x @ W.T + scaling * (x @ A.T) @ B.T
    return y if b is None else y + torch.as_tensor(b).double()


def trusted_gpt(config: dict, state: dict) -> GPT:
    """The kit's GPT rebuilt here from data, in float64 (the oracle for forward passes and training)."""
    model = GPT(GPTConfig(**config))
    model.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
    return model.double().eval()


def random_gpt_state(config: dict, seed: int) -> dict:
    """A freshly initialised GPT's state dict (float32), drawn here with a seed from the test's rng."""
    torch.manual_seed(seed)
    return {k: v.detach().clone() for k, v in GPT(GPTConfig(**config)).state_dict().items()}


def soft_prompt_forward(model: GPT, prompt: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Prompt tuning (Lester et al. 2021) written independently: prompt rows replace the first P token
    embeddings, positions 0..P+T-1, logits of the input positions only."""
    P, (Bn, T) = prompt.shape[0], idx.shape
    tokens = F.embedding(idx, model.tok_emb.weight)
    h = torch.cat([prompt.to(tokens.dtype).unsqueeze(0).repeat(Bn, 1, 1), tokens], dim=1)
    h = h + model.pos_emb.weight[: P + T]
    for block in model.blocks:
        h = block(h)
    return model.lm_head(model.ln_f(h))[:, P:]


def tune_prompt(wrapped, gradients, ids: torch.Tensor, config: dict) -> list[float]:
    """Prompt tuning driven from here: the student's SoftPromptGPT computes logits and, through the notebook's
    `gradients` helper, the prompt's gradient; batches, loss, AdamW and the update stay on the trusted side.

    d loss / d logits of the mean cross-entropy is (softmax - onehot) / (B T), so gradients(wrapped, x, that)
    is exactly d loss / d prompt. Keeping the loop here grades part `prompt` alone (not the student's
    finetune, which part `finetune` grades)."""
    g = torch.Generator().manual_seed(config["seed"])
    prompt = torch.nn.Parameter(torch.as_tensor(dict(wrapped.named_parameters())["prompt"]).detach().clone())
    opt = torch.optim.AdamW([prompt], lr=config["lr"], betas=(0.9, 0.95), weight_decay=config["weight_decay"])
    T, losses = config["block_size"], []
    for _ in range(config["steps"]):
        starts = torch.randint(0, len(ids) - T, (config["batch_size"],), generator=g)
        rows = starts[:, None] + torch.arange(T)[None, :]
        x, y = ids[rows], ids[rows + 1]
        logits = torch.as_tensor(wrapped(x)).detach().double()
        losses.append(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).item())
        dlogits = (torch.softmax(logits, -1) - F.one_hot(y, logits.shape[-1])) / y.numel()
        prompt.grad = torch.as_tensor(gradients(wrapped, x, dlogits.float())["prompt"]).detach().clone()
        opt.step()
        wrapped.load_state_dict({"prompt": prompt.detach().clone()}, strict=False)
    return losses


def small_gpt_config(rng) -> dict:
    """A random small GPT shape: every count a test derives from it changes with the submission."""
    n_head = int(rng.choice([2, 4]))
    return dict(vocab_size=int(rng.integers(20, 70)), block_size=int(rng.choice([16, 24])),
                n_layer=int(rng.integers(1, 4)), n_head=n_head, n_embd=n_head * int(rng.choice([4, 8, 12])))


@pytest.fixture(scope="session")
def oracle():
    """The trusted helpers above, for the tests (fixtures are how a suite shares code)."""
    return SimpleNamespace(heldout_loss=heldout_loss, lora_forward=lora_forward, trusted_gpt=trusted_gpt,
                           random_gpt_state=random_gpt_state, soft_prompt_forward=soft_prompt_forward,
                           small_gpt_config=small_gpt_config, tune_prompt=tune_prompt, EVAL_T=EVAL_T)
