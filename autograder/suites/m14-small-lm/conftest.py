"""Trusted helpers for the m14 hidden suite: data sets, a reference BPE, a reference GPT forward pass.

Everything here runs on the grader's side; none of it is sent to the student's process.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import regex
import torch
import torch.nn.functional as F

from coursekit.data import load_dataset

GPT2_SPLIT = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def gpt2_byte_decoder() -> dict[str, int]:
    """GPT-2's printable-unicode stand-ins for bytes (the reference merges/vocab files are written with them)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def _to_bytes(token: str, dec: dict[str, int]) -> bytes:
    return bytes(dec[c] for c in token)


@pytest.fixture(scope="session")
def cs336():
    """corpus.en, the reference merges (list of byte pairs) and the reference vocabulary (set of bytes)."""
    files = load_dataset("cs336_bpe_fixtures")
    dec = gpt2_byte_decoder()
    merges = []
    for line in files["train-bpe-reference-merges.txt"].splitlines():
        if line.strip():
            a, b = line.split(" ")
            merges.append((_to_bytes(a, dec), _to_bytes(b, dec)))
    vocab = {_to_bytes(token, dec) for token in files["train-bpe-reference-vocab.json"]}
    return SimpleNamespace(corpus=files["corpus.en"], merges=merges, vocab=vocab, files=files)


@pytest.fixture(scope="session")
def shakespeare() -> str:
    return load_dataset("tinyshakespeare")["input.txt"]


def _split_specials(text, specials):
    if not specials:
        return [text]
    alternatives = "|".join(regex.escape(s) for s in sorted(specials, key=len, reverse=True))
    return [p for p in regex.split(f"({alternatives})", text) if p]


def oracle_encode(text: str, vocab: list[bytes], merges: list[tuple[bytes, bytes]], specials: list[str]) -> list[int]:
    """Reference BPE encoding: lowest-rank pair first inside each GPT-2 pre-token; longest special wins."""
    ids = {b: i for i, b in enumerate(vocab)}
    ranks = {p: r for r, p in enumerate(merges)}
    out = []
    for chunk in _split_specials(text, specials):
        if chunk in specials:
            out.append(ids[chunk.encode()])
            continue
        for piece in regex.findall(GPT2_SPLIT, chunk):
            toks = [bytes([b]) for b in piece.encode()]
            while len(toks) > 1:
                best = min(range(len(toks) - 1), key=lambda i: ranks.get((toks[i], toks[i + 1]), math.inf))
                pair = (toks[best], toks[best + 1])
                if pair not in ranks:
                    break
                merged, i = [], 0
                while i < len(toks):
                    if i + 1 < len(toks) and (toks[i], toks[i + 1]) == pair:
                        merged.append(pair[0] + pair[1])
                        i += 2
                    else:
                        merged.append(toks[i])
                        i += 1
                toks = merged
            out.extend(ids[t] for t in toks)
    return out


@pytest.fixture(scope="session")
def bpe_oracle():
    return SimpleNamespace(encode=oracle_encode)


def oracle_gpt_forward(state: dict[str, torch.Tensor], idx: torch.Tensor, n_layer: int, n_head: int,
                       gelu: str = "none") -> torch.Tensor:
    """GPT-2 forward pass from a state_dict (the architecture the notebook specifies), float64.

    ``gelu``: "none" (exact, erf) or "tanh" (GPT-2's approximation); the notebook allows both.
    """
    s = {k: v.double() for k, v in state.items()}
    B, T = idx.shape
    x = s["tok_emb.weight"][idx] + s["pos_emb.weight"][:T]
    C = x.shape[-1]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    for i in range(n_layer):
        p = f"blocks.{i}."
        h = F.layer_norm(x, (C,), s[p + "ln1.weight"], s[p + "ln1.bias"])
        q, k, v = F.linear(h, s[p + "attn.qkv.weight"], s[p + "attn.qkv.bias"]).split(C, dim=2)
        q, k, v = (t.view(B, T, n_head, C // n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=causal)
        x = x + F.linear(y.transpose(1, 2).reshape(B, T, C), s[p + "attn.proj.weight"], s[p + "attn.proj.bias"])
        h = F.layer_norm(x, (C,), s[p + "ln2.weight"], s[p + "ln2.bias"])
        h = F.linear(F.gelu(F.linear(h, s[p + "mlp.fc.weight"], s[p + "mlp.fc.bias"]), approximate=gelu),
                     s[p + "mlp.proj.weight"], s[p + "mlp.proj.bias"])
        x = x + h
    x = F.layer_norm(x, (C,), s["ln_f.weight"], s["ln_f.bias"])
    return x @ s["tok_emb.weight"].T


@pytest.fixture(scope="session")
def gpt_oracle():
    return oracle_gpt_forward
