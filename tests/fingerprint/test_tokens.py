"""Tests for release.fingerprint.tokens: normalisation, tokens, grams and the PRF."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from release.fingerprint.kernels import NUMPY
from release.fingerprint.kernels.reference import gram_hashes, gram_hashes_at
from release.fingerprint.tokens import (
    WordPlaces,
    normalize,
    siphash13,
    tokenize,
)


def siphash13_numpy(key: tuple[int, int], values: np.ndarray) -> np.ndarray:
    return siphash13(key, values, NUMPY)


def hashes_of(text: str) -> list[int]:
    return tokenize(normalize(text)).hashes.tolist()


def test_normalisation_folds_case_width_and_punctuation() -> None:
    assert normalize("Hello,   WORLD!\n").split() == [b"hello", b"world"]
    fullwidth = "\uff21\uff22\uff23"  # ABC in fullwidth forms
    assert normalize(f"Straße {fullwidth} \ufb01ne").split() == [b"strasse", b"abc", b"fine"]
    assert normalize("snake_case-words").split() == [b"snake", b"case", b"words"]
    assert hashes_of("The  quick,\nbrown fox") == hashes_of("the quick brown FOX")


def test_token_hashes_are_position_independent_and_long_words_work() -> None:
    long_word = "a" * 40 + "b"
    first = hashes_of(f"x {long_word} y")
    second = hashes_of(f"{long_word} x y")
    assert first[1] == second[0]
    assert hashes_of("abcdefgh") != hashes_of("abcdefghi")
    assert len(set(hashes_of("a b c d e f g h i j"))) == 10


def test_word_spans_line_up_with_tokens() -> None:
    for text in ("Hello, world: it's 42!", "Ünïcödé straße — fine", "ﬁne • ÉTÉ ß²"):
        assert len(WordPlaces(text.encode())) == len(tokenize(normalize(text)))


@given(st.text(alphabet=st.sampled_from("ab Z9_-\n\téßß́中²Ⅷﬁ•"),
               max_size=60) | st.text(max_size=60))
def test_word_spans_cover_the_words_the_matcher_sees(text: str) -> None:
    raw = text.encode("utf-8", errors="surrogatepass")
    places = WordPlaces(raw)
    every = np.arange(len(places))
    starts, ends = places.span(every, every)
    words = tokenize(normalize(text)).hashes.tolist()
    assert len(starts) == len(words)
    assert (starts[1:] >= starts[:-1]).all() and (ends[1:] >= ends[:-1]).all()
    for start, end, word in zip(starts.tolist(), ends.tolist(), words, strict=True):
        assert 0 <= start < end <= len(raw)
        piece = raw[start:end].decode("utf-8", errors="replace")
        assert word in tokenize(normalize(piece)).hashes.tolist()


def test_siphash13_matches_a_scalar_reference() -> None:
    mask = (1 << 64) - 1

    def rotl(x: int, b: int) -> int:
        return ((x << b) | (x >> (64 - b))) & mask

    def reference(k0: int, k1: int, m: int) -> int:
        v = [k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D, k0 ^ 0x6C7967656E657261,
             k1 ^ 0x7465646279746573]

        def sipround() -> None:
            v[0] = (v[0] + v[1]) & mask
            v[1] = rotl(v[1], 13) ^ v[0]
            v[0] = rotl(v[0], 32)
            v[2] = (v[2] + v[3]) & mask
            v[3] = rotl(v[3], 16) ^ v[2]
            v[0] = (v[0] + v[3]) & mask
            v[3] = rotl(v[3], 21) ^ v[0]
            v[2] = (v[2] + v[1]) & mask
            v[1] = rotl(v[1], 17) ^ v[2]
            v[2] = rotl(v[2], 32)

        v[3] ^= m
        sipround()
        v[0] ^= m
        v[3] ^= 8 << 56
        sipround()
        v[0] ^= 8 << 56
        v[2] ^= 0xFF
        for _ in range(3):
            sipround()
        return v[0] ^ v[1] ^ v[2] ^ v[3]

    values = np.array([0, 1, 2**63 + 5, 2**64 - 1], dtype=np.uint64)
    for implementation in (siphash13, siphash13_numpy):
        assert implementation((11, 22), values).tolist() == [reference(11, 22, int(v))
                                                             for v in values]
        assert implementation((11, 23), values).tolist() != implementation((11, 22),
                                                                           values).tolist()


@given(st.lists(st.integers(0, 2**64 - 1), min_size=8, max_size=40), st.integers(1, 8))
def test_grams_at_agrees_with_gram_hashes(values: list[int], n: int) -> None:
    hashes = np.array(values, dtype=np.uint64)
    every = gram_hashes(hashes, n)
    positions = np.arange(every.shape[0])
    assert gram_hashes_at(hashes, positions, n).tolist() == every.tolist()
