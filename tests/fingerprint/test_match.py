"""Property tests of the guarantee: planted runs of >= min_match_words are always found, runs
shorter than the gram are never reported, sensitive values only as whole words."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from release.config import load_config
from release.fingerprint.build import build_index
from release.fingerprint.index import load_index
from release.fingerprint.kernels import NATIVE, NUMPY, Kernels
from release.fingerprint.keys import IndexKey
from release.fingerprint.match import Matcher
from tests.fingerprint.corpus import FILLER_WORDS, make_records, write_corpus

RECORDS = make_records()
KEY = IndexKey(hashlib.sha256(b"test key").digest(), "test")


@pytest.fixture(scope="module", params=["native", "numpy"])
def kernels(request: pytest.FixtureRequest) -> Kernels:
    """Every test runs with the compiled kernels and with their numpy twins (on an index built
    by the default backend: both must hash alike)."""
    if request.param == "native" and NATIVE is None:
        pytest.skip("the kernels were not compiled")
    return NATIVE if request.param == "native" and NATIVE is not None else NUMPY


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory, kernels: Kernels) -> Matcher:
    config = load_config(write_corpus(tmp_path_factory.mktemp("corpus"), RECORDS))
    build_index(config, KEY)
    return Matcher(load_index(config.data.index, KEY), kernels)


def disguise(words: list[str], rng: random.Random) -> str:
    """The same words with case, spacing, punctuation and line breaks changed."""
    out = []
    for word in words:
        style = rng.randrange(4)
        word = word.upper() if style == 0 else word.title() if style == 1 else word
        out.append(word + rng.choice([" ", "  ", "\n", ", ", " - ", "\t", ". "]))
    return "".join(out)


def filler(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(FILLER_WORDS) for _ in range(count))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                       HealthCheck.function_scoped_fixture])
@given(st.integers(0, len(RECORDS) - 1), st.integers(12, 40), st.integers(0, 2**32),
       st.integers(0, 200), st.integers(0, 200))
def test_planted_slices_of_min_match_words_are_always_found(
        matcher: Matcher, record: int, length: int, seed: int, before: int, after: int) -> None:
    rng = random.Random(seed)
    words = RECORDS[record]["text"].split()
    length = min(length, len(words))
    start = rng.randint(0, len(words) - length)
    text = filler(rng, before) + "\n" + disguise(words[start: start + length], rng) + \
        filler(rng, after)
    hits, _ = matcher.match([text])
    assert any(record in hit.records and hit.end - hit.start >= 12 for hit in hits), \
        (record, start, length)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                       HealthCheck.function_scoped_fixture])
@given(st.integers(0, len(RECORDS) - 1), st.integers(1, 5), st.integers(0, 2**32))
def test_runs_shorter_than_the_gram_are_never_reported(
        matcher: Matcher, record: int, length: int, seed: int) -> None:
    rng = random.Random(seed)
    words = RECORDS[record]["text"].split()
    pieces = []
    for _ in range(20):  # many short shared runs separated by unrelated words
        start = rng.randint(0, len(words) - length)
        pieces.append(disguise(words[start: start + length], rng) + filler(rng, 3))
    hits, _ = matcher.match(["\n".join(pieces)])
    assert hits == []


def test_sensitive_values_match_only_as_whole_words(matcher: Matcher) -> None:
    name, email = RECORDS[3]["name"], RECORDS[3]["email"]
    text_hits, hits = matcher.match([
        f"Seen by {name.upper()} today; mail {email} for details.",
        f"prefix{name.replace(' ', '')}suffix and quorra.t3@hospital.invalidish",
    ])
    assert text_hits == []
    assert [(h.piece, h.record) for h in hits] == [(0, 3), (0, 3)]


def test_many_pieces_do_not_bleed_into_each_other(matcher: Matcher) -> None:
    words = RECORDS[10]["text"].split()
    half = [" ".join(words[:6]), " ".join(words[6:12])]
    hits, _ = matcher.match(half)
    assert hits == []
    hits, _ = matcher.match([" ".join(words[:12])])
    assert [h.records for h in hits] == [frozenset({10})]


@pytest.mark.parametrize("guarantee", [8, 16, 24, 32, 48])
def test_the_guarantee_holds_for_other_thresholds(tmp_path: Path, guarantee: int,
                                                  kernels: Kernels) -> None:
    from release.fingerprint.index import CHECK_BITS, IndexParams

    params = IndexParams.for_checks(guarantee, 6)
    assert params.gram_words + params.stride - 1 == guarantee
    assert 2 * params.context * CHECK_BITS <= 64
    records = make_records(120, seed=guarantee)
    config = load_config(write_corpus(tmp_path, records, min_match_words=guarantee))
    build_index(config, KEY, kernels=kernels)
    matcher = Matcher(load_index(config.data.index, KEY), kernels)
    rng = random.Random(guarantee)
    for number in range(0, 120, 3):
        words = records[number]["text"].split()
        if len(words) < guarantee:
            continue
        start = rng.randint(0, len(words) - guarantee)
        text = filler(rng, 20) + " " + disguise(words[start: start + guarantee], rng) + \
            filler(rng, 20)
        hits, _ = matcher.match([text])
        assert any(number in h.records for h in hits), (guarantee, number, start)
