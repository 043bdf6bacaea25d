"""The course's pretrained base GPT: a small character-level GPT on tiny shakespeare.

No model weights can be downloaded in this course, so the milestones that need a pretrained
model (m15 fine-tuning, m16 inference, m18 alignment) share one the kit trains itself: the m14
architecture (nanoGPT style, pre-norm blocks, tied embeddings), trained deterministically
(fixed seed, deterministic algorithms, one CPU thread) on the first 90% of tiny shakespeare.
``load_base_gpt()`` trains it on first use (about two minutes of one CPU core) and caches the
weights in the data layer's cache::

    <cache_dir()>/base_gpt/<name>-<digest>.pt     the state dict (torch.save)
    <cache_dir()>/base_gpt/<name>-<digest>.json   its sha256, config, val loss, seconds

``digest`` hashes the model and training configs, the text's sha256 and BUILD_VERSION, so a
change to any of them builds a new file instead of reusing a stale one. Loading re-checks the
sha256: a tampered or truncated cache file is rebuilt (with a one-line warning), never used.
Bitwise-equal weights are expected on one machine and torch version; across CPU types and
torch versions the floating-point results may differ in the last bits (the sha256 then
differs, the model's quality does not).

This module is part of the student package: it must not import ``coursekit``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F

from coursekit_student.data import cache_dir, load_text

DATASET = "tinyshakespeare"
# sha256 of input.txt as declared in course.yaml: the base model is defined on exactly this text
TEXT_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
BUILD_VERSION = 1  # bump when the training code below changes what it produces
TRAIN_FRACTION = 0.9  # first 90% trains, the last 10% is the held-out split (as in m14)


class BaseGPTError(RuntimeError):
    """The base model cannot be built or loaded; the message is one line with the fix."""


# ---------------------------------------------------------------- tokenizer


class CharTokenizer:
    """Characters <-> ids: id i is chars[i] (tiny shakespeare has 65 distinct characters).

    encode(text) -> list[int] (KeyError on a character outside the vocabulary);
    decode(ids) -> str.
    """

    def __init__(self, chars: str):
        self.chars = chars
        self.stoi = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_text(cls, text: str) -> "CharTokenizer":
        return cls("".join(sorted(set(text))))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        return [self.stoi[c] for c in text]

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)


# ---------------------------------------------------------------- model (m14's architecture)


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int = 65
    block_size: int = 64
    n_layer: int = 3
    n_head: int = 4
    n_embd: int = 96


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with a fused qkv projection: (B, T, C) -> (B, T, C)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        if config.n_embd % config.n_head:
            raise ValueError(f"n_embd={config.n_embd} is not divisible by n_head={config.n_head}")
        self.n_head = config.n_head
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.proj = nn.Linear(config.n_embd, config.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        # (B, T, C) -> (B, h, T, d): each head attends in its own d = C / h dimensions
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(k.shape[-1])
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        att = torch.softmax(att.masked_fill(~causal, float("-inf")), dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        return self.proj(y)


class MLP(nn.Module):
    """proj(gelu(fc(x))), fc: C -> 4C, proj: 4C -> C."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.proj = nn.Linear(4 * config.n_embd, config.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(F.gelu(self.fc(x)))


class Block(nn.Module):
    """Pre-norm block: x + attn(ln1(x)), then + mlp(ln2(x))."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """A GPT-2 style decoder-only transformer (no dropout: the base model is used for inference).

    Attributes: config, block_size, tok_emb, pos_emb, blocks (nn.ModuleList of Block), ln_f,
    lm_head (its weight is tok_emb.weight: tied). forward(idx (B, T) int64) -> logits (B, T, V).
    Raises ValueError if T > block_size.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.block_size = config.block_size
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight  # weight tying: one tensor, two uses
        for module in self.modules():  # GPT-2 init: N(0, 0.02^2) weights, zero biases
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight"):  # the residual-stream writers, scaled by depth
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        B, T = idx.shape
        if T > self.block_size:
            raise ValueError(f"{T} positions exceed block_size={self.block_size}")
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(T, device=idx.device))
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))

    @classmethod
    def from_state(cls, config: dict, state_dict: dict) -> "GPT":
        """Rebuild a model from data (a config dict and a state dict), e.g. in a sandboxed worker."""
        model = cls(GPTConfig(**config))
        model.load_state_dict({k: torch.as_tensor(v) for k, v in state_dict.items()})
        return model.eval()


# ---------------------------------------------------------------- deterministic training


@dataclass(frozen=True)
class TrainConfig:
    max_steps: int = 1500
    batch_size: int = 32
    lr: float = 3e-3
    min_lr: float = 3e-4
    warmup_steps: int = 50
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    seed: int = 0


# Two sizes: the target model, and a 1-layer draft for speculative decoding (m16).
SIZES: dict[str, tuple[GPTConfig, TrainConfig]] = {
    "base": (GPTConfig(block_size=64, n_layer=3, n_head=4, n_embd=96), TrainConfig(max_steps=1200)),
    "draft": (GPTConfig(block_size=64, n_layer=1, n_head=2, n_embd=48), TrainConfig(max_steps=1200)),
}


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay from lr to min_lr at max_steps."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    ratio = (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps)
    return cfg.min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (cfg.lr - cfg.min_lr)


@contextlib.contextmanager
def deterministic(threads: int = 1) -> Iterator[None]:
    """One thread and deterministic algorithms inside; the caller's settings restored after."""
    old_threads, old_det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)  # one thread: the reduction order, hence the bits, is fixed
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(old_det)
        torch.set_num_threads(old_threads)


def split_ids(text: str, tokenizer: CharTokenizer) -> tuple[torch.Tensor, torch.Tensor]:
    """(train ids, held-out ids): the first 90% of the text and the rest, as int64 tensors."""
    ids = torch.tensor(tokenizer.encode(text), dtype=torch.long)
    cut = int(TRAIN_FRACTION * len(ids))
    return ids[:cut], ids[cut:]


@torch.no_grad()
def heldout_loss(model: GPT, ids: torch.Tensor, windows: int = 256, seed: int = 1234) -> float:
    """Mean next-character cross-entropy (nats) over `windows` fixed random windows of `ids`."""
    g = torch.Generator().manual_seed(seed)
    T = model.block_size
    starts = torch.randint(0, len(ids) - T - 1, (windows,), generator=g)
    rows = starts[:, None] + torch.arange(T)[None, :]
    losses = [F.cross_entropy(model(ids[r]).reshape(-1, model.config.vocab_size), ids[r + 1].reshape(-1)).item()
              for r in rows.split(64)]
    return sum(losses) / len(losses)


def train_gpt(model_cfg: GPTConfig, train_cfg: TrainConfig, train_ids: torch.Tensor) -> GPT:
    """Train a GPT from scratch, deterministically (same inputs, same machine -> same bits)."""
    with deterministic():
        torch.manual_seed(train_cfg.seed)
        model = GPT(model_cfg)
        decay = [p for p in model.parameters() if p.dim() >= 2]  # matrices decay; biases, norms do not
        rest = [p for p in model.parameters() if p.dim() < 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": train_cfg.weight_decay},
                                 {"params": rest, "weight_decay": 0.0}], lr=train_cfg.lr, betas=(0.9, 0.95))
        g = torch.Generator().manual_seed(train_cfg.seed)
        T = model_cfg.block_size
        model.train()
        for step in range(train_cfg.max_steps):
            for group in opt.param_groups:
                group["lr"] = lr_at(step, train_cfg)
            starts = torch.randint(0, len(train_ids) - T - 1, (train_cfg.batch_size,), generator=g)
            rows = starts[:, None] + torch.arange(T)[None, :]
            logits = model(train_ids[rows])
            loss = F.cross_entropy(logits.reshape(-1, model_cfg.vocab_size), train_ids[rows + 1].reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), train_cfg.grad_clip)
            opt.step()
    return model.eval()


# ---------------------------------------------------------------- cache


def config_digest(model_cfg: GPTConfig, train_cfg: TrainConfig) -> str:
    key = {"model": asdict(model_cfg), "train": asdict(train_cfg), "text": TEXT_SHA256, "version": BUILD_VERSION}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]


def cache_paths(name: str = "base", cache: str | Path | None = None) -> tuple[Path, Path]:
    """(weights file, sidecar) of a size in the cache."""
    model_cfg, train_cfg = _size(name)
    stem = cache_dir(cache) / "base_gpt" / f"{name}-{config_digest(model_cfg, train_cfg)}"
    return stem.with_suffix(".pt"), stem.with_suffix(".json")


def _size(name: str) -> tuple[GPTConfig, TrainConfig]:
    if name not in SIZES:
        raise BaseGPTError(f"unknown base model {name!r}; the course builds: {', '.join(SIZES)}")
    return SIZES[name]


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)  # readers see the old file or the whole new one, never half
    finally:
        Path(tmp).unlink(missing_ok=True)


@contextlib.contextmanager
def _build_lock(path: Path) -> Iterator[None]:
    """Two processes (e.g. two graders) asking at once: one builds, the other waits and reuses it."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock; the atomic writes still keep the cache consistent
        yield
        return
    with open(path.with_suffix(".lock"), "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_cached(weights: Path, sidecar: Path) -> tuple[dict, dict] | None:
    """(state dict, sidecar info) if the cache holds an intact copy; None if absent or tampered."""
    if not weights.is_file() or not sidecar.is_file():
        return None
    try:
        info = json.loads(sidecar.read_text(encoding="utf-8"))
        expected = info["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        expected = None
    if expected is None or _file_sha256(weights) != expected:
        warnings.warn(f"base GPT cache {weights} does not match the sha256 in its sidecar; rebuilding it",
                      stacklevel=3)
        return None
    return torch.load(weights, map_location="cpu", weights_only=True), info


def build_base_gpt(name: str = "base", *, text: str | None = None, cache: str | Path | None = None,
                   mirror: str | None = None, force: bool = False) -> dict:
    """Train size `name` and cache it unless an intact copy is cached; returns the sidecar info
    (sha256, config, train, val_loss, seconds, torch, path)."""
    model_cfg, train_cfg = _size(name)
    weights, sidecar = cache_paths(name, cache)
    weights.parent.mkdir(parents=True, exist_ok=True)
    with _build_lock(weights):
        cached = None if force else _read_cached(weights, sidecar)
        if cached is not None:
            return cached[1]
        text = _checked_text(text, cache, mirror)
        tokenizer = CharTokenizer.from_text(text)
        if tokenizer.vocab_size != model_cfg.vocab_size:
            raise BaseGPTError(f"the text has {tokenizer.vocab_size} characters, the model {model_cfg.vocab_size}")
        train_ids, val_ids = split_ids(text, tokenizer)
        t0, c0 = time.perf_counter(), time.process_time()
        model = train_gpt(model_cfg, train_cfg, train_ids)
        seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
        with deterministic():
            val = heldout_loss(model, val_ids)
        tmp = weights.with_name(f".{weights.name}.build")
        torch.save(model.state_dict(), tmp)
        data = tmp.read_bytes()
        tmp.unlink()
        _write_atomic(weights, data)
        info = {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "config": asdict(model_cfg),
                "train": asdict(train_cfg), "val_loss": round(val, 4), "seconds": round(seconds, 1),
                "cpu_seconds": round(cpu_seconds, 1), "torch": torch.__version__, "chars": tokenizer.chars}
        _write_atomic(sidecar, json.dumps(info, indent=1).encode())
        return info


def _checked_text(text: str | None, cache: str | Path | None, mirror: str | None) -> str:
    if text is None:
        text = load_text(DATASET, cache=cache, mirror=mirror)  # through the data layer: verified sha256
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != TEXT_SHA256:
        raise BaseGPTError("the base GPT is defined on tiny shakespeare's input.txt; this text differs "
                           "(pass load_text('tinyshakespeare') or nothing)")
    return text


def load_base_gpt(name: str = "base", *, text: str | None = None, cache: str | Path | None = None,
                  mirror: str | None = None) -> tuple[GPT, CharTokenizer]:
    """The pretrained base GPT (``"base"``) or its 1-layer draft (``"draft"``), in eval mode,
    and its tokenizer. Trains and caches it on first use (base: ~2 CPU-minutes, draft: ~20 s).

    Args:
        text: tiny shakespeare's input.txt (default: fetched through coursekit_student.data).
        cache: the data cache folder (default $COURSE_DATA_CACHE or ~/.cache/zero-to-llm).
        mirror: a data mirror folder or URL (default $COURSE_DATA_MIRROR).
    Raises:
        BaseGPTError: unknown name, or a text that is not tiny shakespeare.
    """
    info = build_base_gpt(name, text=text, cache=cache, mirror=mirror)
    weights, sidecar = cache_paths(name, cache)
    cached = _read_cached(weights, sidecar)
    if cached is None:  # tampered between build and load: refuse rather than loop
        raise BaseGPTError(f"base GPT cache {weights} changed while loading; delete it and run "
                           "`course data build-base`")
    model = GPT.from_state(info["config"], cached[0])
    return model, CharTokenizer(info["chars"])


__all__ = ["SIZES", "BaseGPTError", "CharTokenizer", "GPT", "GPTConfig", "TrainConfig", "build_base_gpt",
           "cache_paths", "config_digest", "heldout_loss", "load_base_gpt", "split_ids", "train_gpt"]
