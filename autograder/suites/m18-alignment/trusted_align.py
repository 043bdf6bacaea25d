"""Trusted helpers of the m18 hidden suite (loaded by path: the grader imports suites with
--import-mode=importlib): a sampler, the true rewards, exact KL, evaluation of a trained policy.

Everything here runs on the grader's side; the student's process only receives weights, token ids and
reward weights as data, and gives back trained weights, which are evaluated here.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from coursekit_student.base_gpt import GPT

VOWELS = "aeiouAEIOU"


def to_worker(submission, model: GPT):
    """A copy of `model` built in the student's process from data (config + state dict): a handle."""
    return submission.GPT.from_state(dataclasses.asdict(model.config), model.state_dict())


def from_worker(handle, config) -> GPT:
    """The student's trained weights, read back as data and rebuilt in a trusted GPT."""
    return GPT.from_state(dataclasses.asdict(config), {k: v.clone() for k, v in handle.state_dict().items()})


def vowel_weights(tok) -> torch.Tensor:
    return torch.tensor([1.0 if c in VOWELS else 0.0 for c in tok.chars])


def random_prompts(ids: torch.Tensor, n: int, length: int, gen: torch.Generator) -> torch.Tensor:
    starts = torch.randint(0, len(ids) - length, (n,), generator=gen)
    return ids[starts[:, None] + torch.arange(length)[None, :]]


@torch.no_grad()
def trusted_sample(model: GPT, idx: torch.Tensor, n_new: int, gen: torch.Generator) -> torch.Tensor:
    for _ in range(n_new):
        logits = model(idx[:, -model.block_size:])[:, -1, :]
        nxt = torch.multinomial(torch.softmax(logits.double(), dim=-1), 1, generator=gen)
        idx = torch.cat([idx, nxt], dim=1)
    return idx


def char_reward(seq: torch.Tensor, prompt_len: int, weights: torch.Tensor) -> torch.Tensor:
    return weights.double()[seq[:, prompt_len:]].mean(dim=1)


@torch.no_grad()
def exact_kl(policy: GPT, ref: GPT, seq: torch.Tensor, prompt_len: int) -> torch.Tensor:
    """KL(policy || ref) of each completion, summed over its positions with the FULL next-token
    distributions (lower variance than the sampled log-ratio; the same expectation)."""
    lp = F.log_softmax(policy(seq[:, :-1]).double(), dim=-1)[:, prompt_len - 1:]
    lr = F.log_softmax(ref(seq[:, :-1]).double(), dim=-1)[:, prompt_len - 1:]
    return (lp.exp() * (lp - lr)).sum(dim=-1).sum(dim=-1)


def oracle_token_logprobs(model: GPT, idx: torch.Tensor) -> torch.Tensor:
    logits = model(idx[:, :-1]).double()
    return torch.gather(F.log_softmax(logits, dim=-1), 2, idx[:, 1:, None]).squeeze(2)


@torch.no_grad()
def evaluate_policy(policy: GPT, base: GPT, heldout_ids, weights, prompt_len: int, n_new: int, n_prompts: int,
                    seed: int) -> dict:
    """Sample one completion per held-out prompt from the policy and one from the base model; measure the
    true reward of both, the win-rate (ties one half) and the mean exact KL(policy || base)."""
    gen = torch.Generator().manual_seed(seed)
    prompts = random_prompts(heldout_ids, n_prompts, prompt_len, gen)
    ours, theirs = trusted_sample(policy, prompts, n_new, gen), trusted_sample(base, prompts, n_new, gen)
    r_ours, r_base = char_reward(ours, prompt_len, weights), char_reward(theirs, prompt_len, weights)
    win = ((r_ours > r_base).double() + 0.5 * (r_ours == r_base).double()).mean().item()
    return {"win_rate": win, "reward": r_ours.mean().item(), "base_reward": r_base.mean().item(),
            "kl": exact_kl(policy, base, ours, prompt_len).mean().item()}
