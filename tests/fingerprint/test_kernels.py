"""Tests for release.fingerprint.kernels: the compiled kernels compute what their numpy twins do,
and both refuse outputs too small for their results."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from release.config import load_config
from release.errors import KernelError
from release.fingerprint import kernels as backends
from release.fingerprint.assemble import to_rows
from release.fingerprint.build import build_index
from release.fingerprint.index import SortedColumn, directory_shift, load_index, make_directory
from release.fingerprint.kernels import NATIVE, NUMPY, Kernels
from release.fingerprint.kernels.reference import gram_hashes, gram_hashes_at
from release.fingerprint.keys import IndexKey
from release.fingerprint.match import Matcher, _SortedSet
from release.fingerprint.tokens import (
    Scratch,
    Tokens,
    count_newlines,
    fold,
    fold_many,
    gram_fingerprints,
    high_runs,
    normalize,
    siphash13,
    sorted_with_order,
    tokenize,
    tokenize_pieces,
)
from tests.fingerprint.corpus import make_records, write_corpus

compiled = pytest.mark.skipif(NATIVE is None, reason="the kernels were not compiled")


def _native() -> Kernels:
    assert NATIVE is not None
    return NATIVE


def tokenize_numpy(folded: bytes) -> Tokens:
    return tokenize(folded, kernels=NUMPY)


def siphash13_numpy(key: tuple[int, int], values: np.ndarray) -> np.ndarray:
    return siphash13(key, values, NUMPY)
KEY = (0x0123456789ABCDEF, 0xFEDCBA9876543210)

# normalised text: words of ASCII letters, digits and UTF-8 letters, some longer than 32 bytes
WORDS = st.lists(st.one_of(st.text("abcxyz0189éßж", min_size=1, max_size=40),
                           st.sampled_from(["a" * 33, "b" * 8, "c" * 9, "d" * 16, "e" * 17])),
                 max_size=60)
GAPS = st.lists(st.integers(1, 3), min_size=61, max_size=61)


def test_the_build_compiled_the_kernels_when_ci_requires_them() -> None:
    if os.environ.get(backends.REQUIRE_ENV) == "1":
        assert NATIVE is not None
        assert backends.KERNELS is NATIVE or os.environ.get(backends.SWITCH_ENV) == "off"


def test_a_missing_library_means_numpy_unless_required(tmp_path: Path) -> None:
    assert backends.choose({}, tmp_path / "absent.so") is NUMPY
    with pytest.raises(KernelError, match=r"absent\.so cannot be loaded"):
        backends.choose({backends.REQUIRE_ENV: "1"}, tmp_path / "absent.so")


def test_the_switch_turns_the_kernels_off() -> None:
    assert backends.choose({backends.SWITCH_ENV: "off"}) is NUMPY
    assert backends.choose({backends.SWITCH_ENV: "off", backends.REQUIRE_ENV: "1"}) is NUMPY


@compiled
@settings(max_examples=300)
@given(WORDS, GAPS, st.integers(0, 2))
def test_tokens_agree(words: list[str], gaps: list[int], edge: int) -> None:
    text = " " * edge + "".join(w + " " * g for w, g in zip(words, gaps, strict=False))
    norm = text.encode("utf-8")
    reference = tokenize_numpy(norm)
    library = NATIVE
    assert library is not None
    try:
        for allowed in (True, False):  # the AVX2 word finder where the CPU has it, and the
            library.allow_avx2(allowed)  # portable one
            ours = tokenize(norm, kernels=library)
            assert ours.starts.tolist() == reference.starts.tolist()
            assert ours.ends.tolist() == reference.ends.tolist()
            assert ours.hashes.tolist() == reference.hashes.tolist()
    finally:
        library.allow_avx2(True)


@compiled
@settings(max_examples=40)
@given(st.lists(st.sampled_from(["a", "bc", "abcdefgh", "abcdefghi", "x" * 16, "y" * 17,
                                 "\u00e9" * 5, "z" * 40, "Q9"]), min_size=200, max_size=900),
       st.integers(1, 3))
def test_tokens_agree_across_hash_batches_in_reused_arrays(words: list[str], gap: int) -> None:
    scratch = Scratch()
    for text in ((" " * gap).join(words), " ".join(reversed(words[:300]))):
        norm = text.encode("utf-8")
        ours, reference = tokenize(norm, scratch, _native()), tokenize_numpy(norm)
        assert ours.hashes.tolist() == reference.hashes.tolist()
        assert ours.starts.tolist() == reference.starts.tolist()
        assert ours.ends.tolist() == reference.ends.tolist()


@pytest.mark.parametrize("kernels", ["native", "numpy"], indirect=True)
@given(st.lists(st.lists(st.text(st.characters(codec="utf-8"), max_size=80), min_size=1,
                         max_size=4), min_size=1, max_size=3))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_pieces_tokenized_one_by_one_in_reused_arrays_agree(kernels: Kernels,
                                                             batches: list[list[str]]) -> None:
    scratch = Scratch()
    for texts in batches:  # the same scratch, longer and shorter batches in turn
        raw = [text.encode("utf-8", errors="surrogatepass") for text in texts]
        hashes, first = tokenize_pieces(raw, scratch, kernels)
        buffer, offsets = fold_many(raw)
        expected = tokenize(buffer, kernels=NUMPY)
        assert hashes.tolist() == expected.hashes.tolist()
        assert first.tolist() == expected.pieces(offsets)[0].tolist()


@compiled
@given(st.binary(max_size=300) | st.text("\n a", max_size=300).map(str.encode),
       st.integers(-5, 400))
def test_newline_counts_agree(data: bytes, end: int) -> None:
    assert count_newlines(data, end, _native()) == data[:max(0, end)].count(b"\n")
    assert count_newlines(data, end, NUMPY) == data[:max(0, end)].count(b"\n")


@compiled
@settings(max_examples=300)
@given(st.text(st.characters(codec="utf-8"), max_size=200))
def test_raw_text_tokens_and_non_ascii_runs_agree(text: str) -> None:
    folded = fold(text)
    ours = tokenize(folded, kernels=_native())
    for reference in (tokenize_numpy(folded), tokenize_numpy(normalize(text))):
        assert ours.hashes.tolist() == reference.hashes.tolist()
        assert ours.starts.tolist() == reference.starts.tolist()
    raw = text.encode("utf-8", errors="surrogatepass")
    assert high_runs(raw, _native()).tolist() == high_runs(raw, NUMPY).tolist()


@compiled
@given(st.lists(st.integers(0, 2**64 - 1), max_size=50), st.integers(1, 12),
       st.integers(0, 2**64 - 1))
def test_prf_and_gram_fingerprints_agree(values: list[int], n: int, mask: int) -> None:
    hashes = np.array(values, dtype=np.uint64)
    library = _native()
    assert siphash13(KEY, hashes, library).tolist() == siphash13_numpy(KEY, hashes).tolist()
    every = siphash13_numpy(KEY, gram_hashes(hashes, n)) & np.uint64(mask)
    for kernels in (library, NUMPY):
        assert gram_fingerprints(hashes, n, KEY, mask, kernels=kernels).tolist() == \
            every.tolist()
    positions = np.arange(0, every.shape[0], 3, dtype=np.int64)
    at = siphash13_numpy(KEY, gram_hashes_at(hashes, positions, n)) & np.uint64(mask)
    for kernels in (library, NUMPY):
        assert gram_fingerprints(hashes, n, KEY, mask, positions, kernels).tolist() == \
            at.tolist()


@pytest.fixture(scope="module")
def small_matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    folder = tmp_path_factory.mktemp("probe")
    config = load_config(write_corpus(folder, make_records(300)))
    key = IndexKey(bytes(range(32)), "test")
    build_index(config, key)
    return Matcher(load_index(config.data.index, key))


@pytest.fixture
def kernels(request: pytest.FixtureRequest) -> Kernels:
    if request.param == "native" and NATIVE is None:
        pytest.skip("the kernels were not compiled")
    return _native() if request.param == "native" else NUMPY


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
    index = small_matcher.index
    fused = Matcher(index, _native())._probe(hashes, Scratch())
    steps = Matcher(index, NUMPY)._probe(hashes, Scratch())
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
    ours, order = sorted_with_order(array, bits, _native())
    expected, expected_order = sorted_with_order(array, bits, NUMPY)
    assert ours.tolist() == expected.tolist() == sorted(values)
    assert order.tolist() == expected_order.tolist()


def test_numpy_fallback_finds_the_same_tokens() -> None:
    text = normalize("The quick brown fox, jumps over the lazy dog " * 3 + "x" * 40)
    expected = tokenize(text).hashes.tolist()
    assert tokenize(text, kernels=NUMPY).hashes.tolist() == expected


@compiled
@given(st.lists(st.integers(0, 2**16 - 1), max_size=300), st.lists(st.integers(0, 2**16 - 1),
                                                                   max_size=50))
def test_sorted_ranges_agree(stored: list[int], queried: list[int]) -> None:
    values = np.sort(np.array(stored, dtype=np.uint64))  # 16-bit values: many repeats
    queries = np.array(queried + stored[:20], dtype=np.uint64)
    for kernels in (_native(), NUMPY):
        shift = directory_shift(values.shape[0], 16)
        column = SortedColumn(values, make_directory(values >> np.uint64(shift), shift, 16),
                              shift)
        lo, hi = _SortedSet(column, kernels).ranges(queries)
        assert lo.tolist() == np.searchsorted(values, queries, side="left").tolist()
        assert hi.tolist() == np.searchsorted(values, queries, side="right").tolist()


@compiled
@given(st.integers(1, 8), st.lists(st.integers(0, 2**64 - 1), max_size=300),
       st.lists(st.integers(0, 2**64 - 1), max_size=50), st.integers(0, 6))
def test_packed_ranges_agree(width: int, stored: list[int], queried: list[int],
                             directory_bits: int) -> None:
    """Sorted values stored as rows of `width` bytes are found where they lie, as
    np.searchsorted finds them, whatever the directory's size."""
    bits = 8 * width
    values = np.sort(np.array(stored, dtype=np.uint64) >> np.uint64(64 - bits))
    values = values[: len(values) // 2].repeat(2) if len(values) > 3 else values  # repeats
    queries = np.array(queried + values[:20].tolist(), dtype=np.uint64) >> \
        np.uint64(64 - bits) if queried else values[:20].copy()
    shift = bits - min(bits, directory_bits) if directory_bits else bits - 1
    directory = make_directory(values >> np.uint64(shift), shift, bits)
    rows = to_rows(values, width)
    for kernels in (_native(), NUMPY):
        lo = np.empty(queries.shape[0], dtype=np.int64)
        hi = np.empty(queries.shape[0], dtype=np.int64)
        kernels.packed_ranges(rows, directory, shift, np.ascontiguousarray(queries), lo, hi)
        assert lo.tolist() == np.searchsorted(values, queries, side="left").tolist()
        assert hi.tolist() == np.searchsorted(values, queries, side="right").tolist()


@pytest.mark.parametrize("kernels", ["native", "numpy"], indirect=True)
def test_outputs_too_small_for_their_results_are_refused(kernels: Kernels) -> None:
    """Every capacity is passed to the kernel and checked there: nothing is written past it."""
    text = np.frombuffer(b"one two three four five", dtype=np.uint8)
    hashes = np.zeros(4, dtype=np.uint64)
    with pytest.raises(KernelError, match="tokenize"):
        kernels.tokenize(text, hashes)
    values = np.arange(10, dtype=np.uint64)
    with pytest.raises(KernelError, match="siphash13"):
        kernels.siphash13(KEY, values, np.zeros(9, dtype=np.uint64))
    with pytest.raises(KernelError, match="gram_fingerprints"):  # a gram past the tokens' end
        kernels.gram_fingerprints(values, 3, np.array([8], dtype=np.int64), KEY, 0xFF,
                                  np.zeros(1, dtype=np.uint64))
    high = np.frombuffer("é a é a é".encode(), dtype=np.uint8)
    with pytest.raises(KernelError, match="high_runs"):
        kernels.high_runs(high, np.zeros(2, dtype=np.int64), np.zeros(2, dtype=np.int64))
    with pytest.raises(KernelError, match="splice"):
        kernels.splice(high, np.array([0], dtype=np.int64), np.array([2], dtype=np.int64),
                       b"e", np.array([0], dtype=np.int64), np.array([1], dtype=np.int64),
                       np.zeros(4, dtype=np.uint8))
    with pytest.raises(KernelError, match="bitmap_fill"):
        kernels.bitmap_fill(np.zeros(4, dtype=np.uint8), 16, values)


@pytest.mark.parametrize("kernels", ["native", "numpy"], indirect=True)
def test_text_that_folds_into_more_words_than_bytes_is_tokenized(kernels: Kernels) -> None:
    """U+FDFA is 3 bytes of UTF-8 and four words once NFKC-folded: a piece of them holds more
    words than half its length, the bound arrays are first sized by."""
    raw = ("\ufdfa " * 2000).encode("utf-8")
    hashes, first = tokenize_pieces([raw], Scratch(), kernels)
    assert hashes.shape[0] == tokenize(fold_many([raw])[0], kernels=NUMPY).hashes.shape[0]
    assert hashes.shape[0] > len(raw) // 2 and first.tolist() == [0]
