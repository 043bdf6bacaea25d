"""Hidden tests, part `vocab`: tokenisation, vocabulary order (specials, counts, ties, min_freq), unknown words."""

import importlib.util
from pathlib import Path

import pytest

from coursekit_student.testing import hint, part, points

# the grader imports suites with --import-mode=importlib: the sibling oracles are loaded by path
_SPEC = importlib.util.spec_from_file_location("_m10_trusted", Path(__file__).with_name("trusted.py"))
T = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(T)

WORDS = ["a", "b", "ab", "ba", "abc", "the", "The", "don't", "x1", "é"]


@part("vocab")
@points(2)
@hint("Lower-case first, then keep the runs of a-z, 0-9 and the apostrophe; every other character separates tokens.")
def test_tokenize_random_text(submission, rng):
    alphabet = list("abcXYZ09' .,!?-\n\té日")
    texts = ["".join(rng.choice(alphabet, size=int(rng.integers(0, 40)))) for _ in range(30)]
    texts += ["", "   ", "Hello, World!", "It's 2027 -- rock'n'roll", "ÇA VA? naïve"]
    for text in texts:
        assert list(submission.tokenize(text)) == T.oracle_tokenize(text)


@part("vocab")
@points(3)
@hint("itos = specials, then tokens with count >= min_freq by decreasing count; equal counts in increasing "
      "string order (sorted with key (-count, token)).")
def test_build_vocab_order_and_ties(submission, rng):
    for min_freq in (1, 2, 3):
        docs = [list(rng.choice(WORDS, size=int(rng.integers(0, 12)))) for _ in range(25)]
        itos, stoi = submission.build_vocab(docs, min_freq=min_freq)
        expected = T.oracle_vocab(docs, min_freq)
        assert list(itos) == expected
        assert dict(stoi) == {t: i for i, t in enumerate(expected)}
    # many exact ties: every word twice
    docs = [["d", "c", "b", "a"], ["a", "b", "c", "d"]]
    assert list(submission.build_vocab(docs, specials=())[0]) == ["a", "b", "c", "d"]


@part("vocab")
@points(2)
@hint("Specials keep the order given and appear once, even when a special also occurs in the text; "
      "min_freq < 1 raises ValueError.")
def test_build_vocab_specials_and_errors(submission):
    docs = [["<unk>", "hello", "hello", "<s>"], ["world"]]
    itos, stoi = submission.build_vocab(docs, specials=("<s>", "<pad>", "<unk>", "<s>"))
    assert list(itos) == ["<s>", "<pad>", "<unk>", "hello", "world"]
    assert stoi["hello"] == 3
    itos, _ = submission.build_vocab(docs, min_freq=2, specials=[])
    assert list(itos) == ["hello"]
    with pytest.raises(ValueError):
        submission.build_vocab(docs, min_freq=0)


@part("vocab")
@points(2)
@hint("encode maps a token to stoi[token], an unknown one to stoi[unk]; without unk in stoi an unknown token "
      "raises KeyError.")
def test_encode_unknown(submission, rng):
    stoi = {"<pad>": 0, "<unk>": 1, "cat": 2, "dog": 3}
    tokens = list(rng.choice(["cat", "dog", "emu", "<pad>", "Cat"], size=40))
    expected = [stoi.get(t, 1) for t in tokens]
    assert list(submission.encode(tokens, stoi)) == expected
    assert list(submission.encode([], stoi)) == []
    custom = {"?": 7, "a": 0}
    assert list(submission.encode(["a", "b"], custom, unk="?")) == [0, 7]
    with pytest.raises(KeyError):
        submission.encode(["cat", "emu"], {"cat": 0, "dog": 1})
