"""The course's base GPT (coursekit_student.base_gpt): deterministic, cached with a checked sha256,
passable to sandboxed student code as data, and actually pretrained (below the bigram's loss)."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from coursekit.data import load_dataset
from coursekit.grading import protocol
from coursekit_student import base_gpt
from coursekit_student.base_gpt import (SIZES, BaseGPTError, CharTokenizer, GPT, GPTConfig, TrainConfig,
                                        build_base_gpt, cache_paths, heldout_loss, load_base_gpt, split_ids,
                                        train_gpt)

TINY = (GPTConfig(block_size=16, n_layer=1, n_head=2, n_embd=16), TrainConfig(max_steps=15, batch_size=4))
BIGRAM_NATS = 2.45  # a count-based bigram on tiny shakespeare's held-out 10% (m14's measured baseline ~2.45-2.5)


@pytest.fixture(scope="module")
def text() -> str:
    return load_dataset("tinyshakespeare")["input.txt"]


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setitem(SIZES, "tiny", TINY)
    return "tiny"


def test_tokenizer_has_65_characters_and_roundtrips(text):
    tok = CharTokenizer.from_text(text)
    assert tok.vocab_size == 65
    assert tok.decode(tok.encode("First Citizen:\n")) == "First Citizen:\n"


def test_training_is_deterministic_twice_in_one_process(text):
    train_ids, _ = split_ids(text, CharTokenizer.from_text(text))
    threads = torch.get_num_threads()
    a = train_gpt(*TINY, train_ids[:20_000]).state_dict()
    b = train_gpt(*TINY, train_ids[:20_000]).state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert torch.get_num_threads() == threads  # the one-thread build restores the caller's setting
    other = train_gpt(TINY[0], TrainConfig(max_steps=15, batch_size=4, seed=1), train_ids[:20_000]).state_dict()
    assert not torch.equal(a["tok_emb.weight"], other["tok_emb.weight"])  # the seed matters


def test_cache_is_reused_and_a_tampered_file_is_rebuilt(text, tiny, tmp_path):
    info = build_base_gpt(tiny, text=text, cache=tmp_path)
    weights, sidecar = cache_paths(tiny, tmp_path)
    assert weights.parent == tmp_path / "base_gpt" and json.loads(sidecar.read_text())["sha256"] == info["sha256"]
    mtime = weights.stat().st_mtime_ns
    assert build_base_gpt(tiny, text=text, cache=tmp_path)["sha256"] == info["sha256"]
    assert weights.stat().st_mtime_ns == mtime  # reused, not retrained

    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="does not match the sha256"):
        model, tok = load_base_gpt(tiny, text=text, cache=tmp_path)
    # rebuilt deterministically: the same bits as the first build
    assert base_gpt._file_sha256(weights) == info["sha256"]
    assert isinstance(model, GPT) and not model.training and tok.vocab_size == 65


def test_a_missing_sidecar_rebuilds_and_a_foreign_text_is_refused(text, tiny, tmp_path):
    build_base_gpt(tiny, text=text, cache=tmp_path)
    weights, sidecar = cache_paths(tiny, tmp_path)
    sidecar.unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing sidecar is a plain miss, not a tamper warning
        build_base_gpt(tiny, text=text, cache=tmp_path)
    assert sidecar.is_file()
    with pytest.raises(BaseGPTError, match="tiny shakespeare"):
        build_base_gpt(tiny, text=text[:-1], cache=tmp_path / "other")
    with pytest.raises(BaseGPTError, match="unknown base model"):
        cache_paths("huge")


def test_the_digest_changes_with_the_config(tiny, monkeypatch):
    before = cache_paths(tiny)[0].name
    monkeypatch.setitem(SIZES, "tiny", (TINY[0], TrainConfig(max_steps=16, batch_size=4)))
    assert cache_paths(tiny)[0].name != before


def test_a_state_dict_crosses_the_grading_protocol_and_rebuilds_the_same_model(text, tiny, tmp_path):
    model, _ = load_base_gpt(tiny, text=text, cache=tmp_path)
    payload = {"config": dict(vars(model.config)), "state": model.state_dict()}
    encoder = protocol.Encoder(lambda obj: (_ for _ in ()).throw(TypeError(type(obj).__name__)))
    encoded = encoder.encode(payload)
    received = protocol.Decoder(encoder.blobs, lambda ref: ref).decode(encoded)
    rebuilt = GPT.from_state(received["config"], received["state"])
    idx = torch.randint(0, 65, (2, 16), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(model(idx), rebuilt(idx))
    assert rebuilt.lm_head.weight is rebuilt.tok_emb.weight  # tying survives load_state_dict


@pytest.mark.slow
def test_real_sizes_are_pretrained_below_the_bigram(text):
    """Builds (or reuses) the real cached models: ~2 CPU-minutes on first use."""
    _, val_ids = split_ids(text, CharTokenizer.from_text(text))
    losses = {}
    for name in ("base", "draft"):
        model, _ = load_base_gpt(name, text=text)
        losses[name] = heldout_loss(model, val_ids)
        assert losses[name] < BIGRAM_NATS - 0.3, (name, losses[name])
    assert losses["base"] < losses["draft"] - 0.05  # the target is clearly better than its draft
