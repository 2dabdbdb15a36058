"""Tests for the audit's sample: distinct records across sources, seeded, bounded."""

from __future__ import annotations

import pytest

from release.audit import sampling
from release.audit.sampling import _distinct_sample


def _records(ids: range, source: str) -> list[tuple[str, str]]:
    return [(f"t{i}", f"text of {i} from {source}") for i in ids]


def test_records_several_sources_hold_are_one_population() -> None:
    once = _distinct_sample(_records(range(500), "jsonl"), 50, seed=3)
    thrice = _distinct_sample(_records(range(500), "jsonl") + _records(range(500), "parquet")
                              + _records(range(500), "arrow"), 50, seed=3)
    assert once.population == thrice.population == 500 and thrice.exact
    assert [rid for rid, _ in once.chosen] == [rid for rid, _ in thrice.chosen]
    assert len({rid for rid, _ in thrice.chosen}) == 50


def test_the_sample_follows_the_seed_and_is_spread() -> None:
    first = {rid for rid, _ in _distinct_sample(_records(range(2000), "a"), 100, seed=1).chosen}
    again = {rid for rid, _ in _distinct_sample(_records(range(2000), "a"), 100, seed=1).chosen}
    other = {rid for rid, _ in _distinct_sample(_records(range(2000), "a"), 100, seed=2).chosen}
    assert first == again and first != other
    numbers = sorted(int(rid[1:]) for rid in first)
    assert numbers[0] < 200 and numbers[-1] > 1800  # not the first records of the stream


def test_a_population_past_the_counting_limit_is_estimated(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sampling, "MAX_COUNTED", 1000)
    sampled = _distinct_sample(_records(range(20000), "a"), 400, seed=0)
    assert not sampled.exact
    assert sampled.population == pytest.approx(20000, rel=0.15)
