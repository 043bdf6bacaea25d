"""Trusted side of m16: the base and draft GPTs, held-out text, and oracles written independently of the
notebook (plain loops over the model's modules, float64 where it matters).

The base models are built (first use: ~2-3 CPU-minutes) or read from the cache when collection finishes,
outside every test's timeout; graders prebuild them with `course data build-base`.
"""

from __future__ import annotations

import dataclasses
import functools
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from coursekit.data import load_dataset
from coursekit_student.base_gpt import load_base_gpt, split_ids


@functools.cache
def models():
    text = load_dataset("tinyshakespeare")["input.txt"]
    base, tok = load_base_gpt("base", text=text)
    draft, _ = load_base_gpt("draft", text=text)
    return base, draft, tok, text


def pytest_collection_finish(session):
    if not session.config.option.collectonly:
        # the oracles run small models: one thread avoids contention on a loaded grading machine
        torch.set_num_threads(1)
        models()  # build or load now: a first build inside a test would run past its timeout


@pytest.fixture(scope="session")
def base():
    return models()[0]


@pytest.fixture(scope="session")
def draft():
    return models()[1]


@pytest.fixture(scope="session")
def val_ids():
    _, _, tok, text = models()
    return split_ids(text, tok)[1]  # the held-out 10%: the model never trained on it


def to_worker(submission, model):
    """The same weights as a GPT in the student's worker (a handle): only data crosses."""
    return submission.GPT.from_state(dataclasses.asdict(model.config), model.state_dict())


def held_out_prompts(val_ids, rng, n, lo, hi):
    """n prompts of random lengths in [lo, hi] cut from held-out text at random places."""
    out = []
    for _ in range(n):
        length = int(rng.integers(lo, hi + 1))
        start = int(rng.integers(0, len(val_ids) - length))
        out.append(val_ids[start:start + length].tolist())
    return out


@torch.no_grad()
def keys_values(model, idx):
    """Per layer (k, v), each (B, h, T, d), of the plain forward on idx: what a KV cache must hold."""
    B, T = idx.shape
    x = model.tok_emb(idx) + model.pos_emb(torch.arange(T))
    out = []
    for block in model.blocks:
        h = block.ln1(x)
        C = h.shape[-1]
        q, k, v = block.attn.qkv(h).split(C, dim=2)
        split = [t.view(B, T, block.attn.n_head, C // block.attn.n_head).transpose(1, 2) for t in (q, k, v)]
        out.append((split[1], split[2]))
        x = block(x)
    return out


@torch.no_grad()
def greedy(model, tokens, n):
    """Plain greedy decoding, full recomputation each step: list of n new ids."""
    seq = list(tokens)
    for _ in range(n):
        seq.append(int(model(torch.tensor([seq]))[0, -1].argmax()))
    return seq[len(tokens):]


@torch.no_grad()
def speculative_counts(target, draft, tokens, n, k):
    """(accepted, proposed) of greedy speculative decoding, by another route: the target's greedy
    continuation is known in advance, so a round accepts the draft's guesses while they equal it."""
    want = greedy(target, tokens, n)
    seq, done, accepted, proposed = list(tokens), 0, 0, 0
    while done < n:
        m = min(k, n - done)
        guess = list(seq)
        for _ in range(m):
            guess.append(int(draft(torch.tensor([guess]))[0, -1].argmax()))
        ok = 0
        while ok < m and guess[len(seq) + ok] == want[done + ok]:
            ok += 1
        accepted, proposed = accepted + ok, proposed + m
        step = min(ok + 1, n - done)
        seq += want[done:done + step]
        done += step
    return accepted, proposed


@torch.no_grad()
def speculative_replay(target, draft, tokens, n, k, temperature, seed, dtype=torch.float32, u_dtype=torch.float32,
                       u_upfront=False):
    """The tokens of speculative sampling replayed with the documented draw order, written apart from the
    notebook: per round the proposals (multinomial), then one u (rand) per proposal checked, then one
    multinomial for the replacement or the bonus token. The variants a correct student may write change
    the draws, so each is replayed: p and q in float64 (`dtype`), u in float64 (`u_dtype`), and the round's
    uniforms drawn at once right after the proposals (`u_upfront`)."""
    g = torch.Generator().manual_seed(seed)
    seq, goal = list(tokens), len(tokens) + n
    while len(seq) < goal:
        m = min(k, goal - len(seq))
        guess, qs = list(seq), []
        for _ in range(m):
            q = torch.softmax(draft(torch.tensor([guess]))[0, -1].to(dtype) / temperature, dim=-1)
            qs.append(q)
            guess.append(int(torch.multinomial(q, 1, generator=g)))
        ps = torch.softmax(target(torch.tensor([guess]))[0, len(seq) - 1:].to(dtype) / temperature, dim=-1)
        us = torch.rand(m, generator=g, dtype=u_dtype).tolist() if u_upfront else None
        new = []
        for i in range(m):
            token = guess[len(seq) + i]
            u = us[i] if u_upfront else float(torch.rand((), generator=g, dtype=u_dtype))
            if u >= min(1.0, float(ps[i][token] / qs[i][token])):
                residual = (ps[i] - qs[i]).clamp(min=0)
                new.append(int(torch.multinomial(residual / residual.sum(), 1, generator=g)))
                break
            new.append(token)
        else:
            new.append(int(torch.multinomial(ps[m], 1, generator=g)))
        seq += new[: goal - len(seq)]
    return seq


def int8_oracle(w: torch.Tensor):
    """Per-row symmetric int8 in float64: (q int64, scale float32 as the notebook specifies)."""
    amax = w.abs().amax(dim=1)
    scale = torch.where(amax > 0, amax / 127.0, torch.ones_like(amax))  # float32, as the docstring's s_r
    q = torch.round(w.double() / scale.double()[:, None]).clamp(-127, 127).long()
    return q, scale


def chi_square_pvalue(counts, probs, sims: int = 200_000):
    """Monte-Carlo p-value of Pearson's chi-square statistic for `counts` drawn from `probs`.

    Categories whose expected count is below 5 are pooled (smallest first). The p-value is the share of
    `sims` multinomial samples from `probs` whose statistic is at least the observed one, so it is exact up
    to Monte-Carlo error (the asymptotic chi-square law rejected a correct sampler ~6e-4 of the time at a
    nominal 1e-4 here, with many small categories). The simulation's seed is fixed: same counts, same p.
    Returns (p-value, number of pooled categories).
    """
    probs = np.asarray(probs, dtype=np.float64)
    probs = probs / probs.sum()
    counts = np.asarray(counts, dtype=np.int64)
    n = int(counts.sum())
    groups, current, mass = [], [], 0.0
    for i in np.argsort(probs * n, kind="stable"):
        current.append(i)
        mass += probs[i] * n
        if mass >= 5:
            groups.append(current)
            current, mass = [], 0.0
    if current:  # leftover small mass joins the last group
        groups[-1] += current
    p = np.array([probs[g].sum() for g in groups])
    obs = np.array([counts[g].sum() for g in groups])
    expected = n * p
    stat = ((obs - expected) ** 2 / expected).sum()
    sim = np.random.default_rng(20270528).multinomial(n, p, size=sims)
    sim_stats = ((sim - expected) ** 2 / expected).sum(axis=1)
    return float((1 + np.count_nonzero(sim_stats >= stat - 1e-9)) / (1 + sims)), len(groups)


@pytest.fixture(scope="session")
def oracle():
    """The helpers above, for the tests (fixtures are how a suite shares code)."""
    return SimpleNamespace(to_worker=to_worker, held_out_prompts=held_out_prompts, keys_values=keys_values,
                           greedy=greedy, speculative_counts=speculative_counts, speculative_replay=speculative_replay,
                           int8_oracle=int8_oracle,
                           chi_square_pvalue=chi_square_pvalue)
