"""Tests for release.fingerprint.native: the compiled kernels compute what the numpy code does."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from release.config import load_config
from release.fingerprint import hashing, native
from release.fingerprint.hashing import (
    Scratch,
    count_newlines,
    fold,
    fold_many,
    gram_fingerprints,
    gram_hashes,
    gram_hashes_at,
    high_runs,
    normalize,
    siphash13,
    siphash13_numpy,
    sorted_with_order,
    tokenize,
    tokenize_numpy,
    tokenize_pieces,
)
from release.fingerprint.index import build_index, load_index
from release.fingerprint.keys import IndexKey
from release.fingerprint.match import Matcher, _SortedSet
from tests.fingerprint.corpus import make_records, write_corpus

compiled = pytest.mark.skipif(native.LIBRARY is None, reason="the kernels were not compiled")
KEY = (0x0123456789ABCDEF, 0xFEDCBA9876543210)

# normalised text: words of ASCII letters, digits and UTF-8 letters, some longer than 32 bytes
WORDS = st.lists(st.one_of(st.text("abcxyz0189éßж", min_size=1, max_size=40),
                           st.sampled_from(["a" * 33, "b" * 8, "c" * 9, "d" * 16, "e" * 17])),
                 max_size=60)
GAPS = st.lists(st.integers(1, 3), min_size=61, max_size=61)


def test_the_build_compiled_the_kernels_when_ci_requires_them() -> None:
    if os.environ.get(native.REQUIRE_ENV) == "1":
        assert native.LIBRARY is not None


def test_a_missing_library_means_numpy_unless_required(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(native.REQUIRE_ENV, raising=False)
    monkeypatch.delenv(native.DISABLE_ENV, raising=False)
    assert native.load(tmp_path / "absent.so") is None
    monkeypatch.setenv(native.REQUIRE_ENV, "1")
    with pytest.raises(RuntimeError, match=r"absent\.so cannot be loaded"):
        native.load(tmp_path / "absent.so")


def test_the_switch_turns_the_kernels_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(native.DISABLE_ENV, "off")
    assert native.load() is None


@compiled
@settings(max_examples=300)
@given(WORDS, GAPS, st.integers(0, 2))
def test_tokens_agree(words: list[str], gaps: list[int], edge: int) -> None:
    text = " " * edge + "".join(w + " " * g for w, g in zip(words, gaps, strict=False))
    norm = text.encode("utf-8")
    reference = tokenize_numpy(norm)
    assert native.LIBRARY is not None
    try:
        for allowed in (1, 0):  # the AVX2 word finder where the CPU has it, and the portable one
            native.LIBRARY.rk_allow_avx2(allowed)
            ours = tokenize(norm)
            assert ours.starts.tolist() == reference.starts.tolist()
            assert ours.ends.tolist() == reference.ends.tolist()
            assert ours.hashes.tolist() == reference.hashes.tolist()
    finally:
        native.LIBRARY.rk_allow_avx2(1)


@compiled
@settings(max_examples=40)
@given(st.lists(st.sampled_from(["a", "bc", "abcdefgh", "abcdefghi", "x" * 16, "y" * 17,
                                 "\u00e9" * 5, "z" * 40, "Q9"]), min_size=200, max_size=900),
       st.integers(1, 3))
def test_tokens_agree_across_hash_batches_in_reused_arrays(words: list[str], gap: int) -> None:
    scratch = Scratch()
    for text in ((" " * gap).join(words), " ".join(reversed(words[:300]))):
        norm = text.encode("utf-8")
        ours, reference = tokenize(norm, scratch), tokenize_numpy(norm)
        assert ours.hashes.tolist() == reference.hashes.tolist()
        assert ours.starts.tolist() == reference.starts.tolist()
        assert ours.ends.tolist() == reference.ends.tolist()


@compiled
@given(st.lists(st.lists(st.text(st.characters(codec="utf-8"), max_size=80), min_size=1,
                         max_size=4), min_size=1, max_size=3))
def test_pieces_tokenized_one_by_one_in_reused_arrays_agree(batches: list[list[str]]) -> None:
    scratch = Scratch()
    for texts in batches:  # the same scratch, longer and shorter batches in turn
        raw = [text.encode("utf-8", errors="surrogatepass") for text in texts]
        hashes, first = tokenize_pieces(raw, scratch)
        buffer, offsets = fold_many(raw)
        expected = tokenize(buffer)
        assert hashes.tolist() == expected.hashes.tolist()
        assert first.tolist() == expected.pieces(offsets)[0].tolist()


@compiled
@given(st.binary(max_size=300) | st.text("\n a", max_size=300).map(str.encode),
       st.integers(-5, 400))
def test_newline_counts_agree(data: bytes, end: int) -> None:
    assert count_newlines(data, end) == data[:max(0, end)].count(b"\n")


@compiled
@settings(max_examples=300)
@given(st.text(st.characters(codec="utf-8"), max_size=200))
def test_raw_text_tokens_and_non_ascii_runs_agree(text: str) -> None:
    folded = fold(text)
    ours = tokenize(folded)
    for reference in (tokenize_numpy(folded), tokenize_numpy(normalize(text))):
        assert ours.hashes.tolist() == reference.hashes.tolist()
        assert ours.starts.tolist() == reference.starts.tolist()
    raw = text.encode("utf-8", errors="surrogatepass")
    runs = high_runs(raw)
    saved = native.LIBRARY
    try:
        native.LIBRARY = None
        assert runs.tolist() == high_runs(raw).tolist()
    finally:
        native.LIBRARY = saved


@compiled
@given(st.lists(st.integers(0, 2**64 - 1), max_size=50), st.integers(1, 12),
       st.integers(0, 2**64 - 1))
def test_prf_and_gram_fingerprints_agree(values: list[int], n: int, mask: int) -> None:
    hashes = np.array(values, dtype=np.uint64)
    assert siphash13(KEY, hashes).tolist() == siphash13_numpy(KEY, hashes).tolist()
    every = siphash13_numpy(KEY, gram_hashes(hashes, n)) & np.uint64(mask)
    assert gram_fingerprints(hashes, n, KEY, mask).tolist() == every.tolist()
    positions = np.arange(0, every.shape[0], 3, dtype=np.int64)
    at = siphash13_numpy(KEY, gram_hashes_at(hashes, positions, n)) & np.uint64(mask)
    assert gram_fingerprints(hashes, n, KEY, mask, positions).tolist() == at.tolist()


@pytest.fixture(scope="module")
def small_matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    folder = tmp_path_factory.mktemp("probe")
    config = load_config(write_corpus(folder, make_records(300)))
    key = IndexKey(bytes(range(32)), "test")
    build_index(config, key)
    return Matcher(load_index(config.data.index, key))


@compiled
@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 5000), st.integers(0, 2**32))
def test_the_fused_probe_agrees_with_its_steps(small_matcher: Matcher, size: int,
                                                seed: int) -> None:
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**64 - 1, size=size, dtype=np.uint64, endpoint=True)
    # some stored grams and sensitive first tokens among them, so the bitmaps let some through
    records = tokenize(normalize(" ".join(r["text"] + " " + r["email"]
                                          for r in make_records(300)[:40]))).hashes
    hashes[: min(size, records.shape[0])] = records[: min(size, records.shape[0])]
    fused = small_matcher._probe(hashes, Scratch())
    saved = native.LIBRARY
    try:
        native.LIBRARY = None
        steps = small_matcher._probe(hashes, Scratch())
    finally:
        native.LIBRARY = saved
    assert fused.token_prf.tolist() == steps.token_prf.tolist()
    assert fused.grams.tolist() == steps.grams.tolist()
    assert fused.gram_fingerprints.tolist() == steps.gram_fingerprints.tolist()
    assert fused.first.tolist() == steps.first.tolist()
    assert size < 200 or (fused.grams.size > 0 and fused.first.size > 0)  # the corpus's own


@compiled
@given(st.integers(1, 64).flatmap(lambda bits: st.tuples(
    st.just(bits), st.lists(st.integers(0, 2**bits - 1) | st.sampled_from([0, 2**bits - 1]),
                            max_size=300))))
def test_radix_order_is_a_stable_sort(case: tuple[int, list[int]]) -> None:
    bits, values = case
    array = np.array(values, dtype=np.uint64)
    ours, order = sorted_with_order(array, bits)
    saved = native.LIBRARY
    try:
        native.LIBRARY = None
        expected, expected_order = sorted_with_order(array, bits)
    finally:
        native.LIBRARY = saved
    assert ours.tolist() == expected.tolist() == sorted(values)
    assert order.tolist() == expected_order.tolist()


def test_numpy_fallback_finds_the_same_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    text = normalize("The quick brown fox, jumps over the lazy dog " * 3 + "x" * 40)
    expected = tokenize(text).hashes.tolist()
    monkeypatch.setattr(native, "LIBRARY", None)
    assert hashing.tokenize(text).hashes.tolist() == expected


@compiled
@given(st.lists(st.integers(0, 2**16 - 1), max_size=300), st.lists(st.integers(0, 2**16 - 1),
                                                                   max_size=50))
def test_sorted_ranges_agree(stored: list[int], queried: list[int]) -> None:
    values = np.sort(np.array(stored, dtype=np.uint64))  # 16-bit values: many repeats
    sorted_set = _SortedSet(values, 16)
    queries = np.array(queried + stored[:20], dtype=np.uint64)
    lo, hi = sorted_set.ranges(queries)
    assert lo.tolist() == np.searchsorted(values, queries, side="left").tolist()
    assert hi.tolist() == np.searchsorted(values, queries, side="right").tolist()
