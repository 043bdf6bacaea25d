"""Hidden tests, part `bpe`: CS336 reference merges, a trusted encoder, exact round trips."""

import pytest

from coursekit_student.testing import hint, part, points, timeout

EOT = "<|endoftext|>"


def reference_tables(cs336):
    """The CS336 reference merges with the ids the notebook specifies (bytes, merges in rank order, specials)."""
    merges = list(cs336.merges)
    vocab = [bytes([b]) for b in range(256)] + [a + b for a, b in merges] + [EOT.encode()]
    return vocab, merges


@part("bpe")
@points(6)
@timeout(180)
@hint("Train on pre-tokens (GPT-2 regex), count pairs inside pre-tokens weighted by frequency, merge the most "
      "frequent pair, break ties by the lexicographically greatest pair; vocab = 256 bytes, merges, specials.")
def test_cs336_reference_merges_and_vocab(submission, cs336, credit):
    vocab, merges = submission.train_bpe(cs336.corpus, 500, [EOT])
    merges = [tuple(m) for m in merges]
    agree = next((i for i, (a, b) in enumerate(zip(merges, cs336.merges)) if a != b),
                 min(len(merges), len(cs336.merges)))
    if merges != cs336.merges:  # partial credit: half the points in proportion to the matching prefix
        credit.award(0.5 * agree / len(cs336.merges), f"the first {agree} merges match the reference")
    assert merges == cs336.merges
    assert len(vocab) == 500 and set(vocab) == cs336.vocab
    assert vocab[:256] == [bytes([b]) for b in range(256)]
    assert vocab[256] == merges[0][0] + merges[0][1] and vocab[-1] == EOT.encode()


@part("bpe")
@points(2)
@hint("On a tie in pair counts, merge the lexicographically greatest pair (compare the byte pairs); stop early "
      "when no pair is left to merge.")
def test_tie_break(submission):
    # every pair occurs once: the greatest pair (b"c", b"d") must be merged first, then (b"b", b"cd") ...
    vocab, merges = submission.train_bpe("abcd", 256 + 3)
    assert list(map(tuple, merges)) == [(b"c", b"d"), (b"b", b"cd"), (b"a", b"bcd")]
    # counts beat order: (b"z", b"z") is the greater pair but occurs twice, (b"a", b"b") three times
    vocab, merges = submission.train_bpe("ab ab ab zz zz", 256 + 1)
    assert tuple(merges[0]) == (b"a", b"b")
    # training stops early when no pair is left: "ab ab" has exactly two merges, (a, b) then (" ", ab)
    vocab, merges = submission.train_bpe("ab ab", 256 + 10)
    assert list(map(tuple, merges)) == [(b"a", b"b"), (b" ", b"ab")] and len(vocab) == 258


@part("bpe")
@points(2)
@hint("Remove the special tokens from the training text before pre-tokenization: no merge may contain them; "
      "ValueError if vocab_size < 256 + number of special tokens (equal is allowed: no merges).")
def test_specials_never_merged(submission):
    text = (EOT + "xy").join(["ab"] * 50) + "<|pad|>" * 10
    vocab, merges = submission.train_bpe(text, 256 + 6, [EOT, "<|pad|>"])
    assert vocab[-2:] == [EOT.encode(), b"<|pad|>"]
    for a, b in merges:
        assert b"|" not in a + b and b"<" not in a + b
    # vocab_size must hold the 256 bytes and the specials: exactly that many is allowed (no merge), one less is not
    vocab, merges = submission.train_bpe("abab", 256 + 2, [EOT, "<|pad|>"])
    assert len(merges) == 0 and len(vocab) == 258 and vocab[-2:] == [EOT.encode(), b"<|pad|>"]
    with pytest.raises(ValueError):
        submission.train_bpe("abab", 256 + 1, [EOT, "<|pad|>"])


@part("bpe")
@points(3)
@timeout(120)
@hint("Encode each pre-token by repeatedly merging the pair with the lowest merge rank (not left to right).")
def test_encode_matches_reference(submission, cs336, bpe_oracle):
    vocab, merges = reference_tables(cs336)
    tok = submission.BPETokenizer(vocab, merges, [EOT])
    for name in ("tinystories_sample.txt", "german.txt", "address.txt"):
        text = cs336.files[name]
        assert list(tok.encode(text)) == bpe_oracle.encode(text, vocab, merges, [EOT]), name


@part("bpe")
@points(3)
@timeout(120)
@hint("Round trips must be exact for any text: multi-byte UTF-8 (accents, CJK, emoji), whitespace runs, "
      "special tokens, and overlapping special tokens (the longest one wins).")
def test_roundtrip_unicode_and_specials(submission, cs336, bpe_oracle):
    vocab, merges = reference_tables(cs336)
    double = EOT + EOT
    vocab = vocab + [double.encode()]
    tok = submission.BPETokenizer(vocab, merges, [EOT, double])
    texts = ["héllo wörld — ünïcödé", "日本語のテキスト 😀👍🏽", "  spaces\n\n\ttabs  ", "",
             f"one{EOT}two{double}three{EOT}{EOT}{EOT}", cs336.files["german.txt"]]
    for text in texts:
        ids = list(tok.encode(text))
        assert tok.decode(ids) == text
        assert ids == bpe_oracle.encode(text, vocab, merges, [EOT, double])
    ids = list(tok.encode(f"a{double}b"))
    assert ids.count(len(vocab) - 1) == 1 and ids.count(len(vocab) - 2) == 0  # the longest special wins


@part("bpe")
@points(1)
@hint("decode_bytes joins the tokens' bytes exactly; decode uses errors='replace' so that a token sequence "
      "cut inside a multi-byte character gives U+FFFD instead of an exception; the constructor raises ValueError "
      "for a special token that is not in vocab.")
def test_partial_utf8(submission):
    vocab = [bytes([b]) for b in range(256)]
    tok = submission.BPETokenizer(vocab, [])
    smile = "😀".encode()  # 4 bytes: f0 9f 98 80
    ids = list(tok.encode("😀"))
    assert ids == list(smile)
    assert tok.decode_bytes(ids[:2]) == smile[:2]
    assert tok.decode(ids[:2]) == "\ufffd" * len(smile[:2].decode("utf-8", errors="replace"))
    assert tok.decode([0xE2, 0x82, 0xAC]) == "€"
    with pytest.raises(ValueError):  # a special token must be in the vocabulary
        submission.BPETokenizer(vocab, [], [EOT])
