"""Draws the audited records: a seeded sample of the distinct records of the sources, plus
canaries and records named in the config, each tokenised once into prefix and suffix."""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from release.config import Config, DataSource
from release.errors import InputError
from release.fingerprint.index import record_id
from release.fingerprint.keys import IndexKey
from release.regular import read_regular
from release.sources import Record, iter_records


@dataclass(frozen=True)
class Sample:
    """One audited record: its id, where it came from, and its first prefix+suffix tokens."""

    id: str
    origin: str  # "sample", "canary", "record" or "holdout"
    tokens: tuple[int, ...]


@dataclass(frozen=True)
class Drawn:
    samples: list[Sample]
    holdout: list[Sample]
    too_short: int  # records skipped for having fewer than prefix+suffix tokens
    population: int  # distinct records of the sources (by id: a record several hold counts once)
    population_exact: bool = True  # False: estimated, past MAX_COUNTED distinct records


def _text(record: Record) -> str:
    return "\n".join(record.texts)


MAX_COUNTED = 5_000_000  # distinct records counted exactly; past this, estimated (about 3%)
PRIORITY_SPACE = 1 << 64


def _priority(record_id: str, seed: int) -> int:
    """A seeded 64-bit hash of a record id: the same record gets it from every source."""
    digest = hashlib.blake2b(record_id.encode("utf-8", "surrogatepass"), digest_size=8,
                             person=b"release-audit", salt=seed.to_bytes(8, "big", signed=True))
    return int.from_bytes(digest.digest(), "big")


@dataclass(frozen=True)
class _Sampled:
    chosen: list[tuple[str, str]]
    population: int
    exact: bool


def _distinct_sample(records: Iterable[tuple[str, str]], size: int, seed: int) -> _Sampled:
    """A uniform sample of `size` distinct records (by id) and how many distinct records there
    are, in memory bounded by `size` (and MAX_COUNTED for the count): each id has one seeded
    priority and the `size` smallest are kept (a bottom-k sample), so a record that several
    sources hold (the same tickets as JSON Lines and as Parquet) is one record, drawn once."""
    kept: list[tuple[int, str, str]] = []  # a max-heap on priority (negated)
    members: set[str] = set()
    counted: set[int] = set()
    overflow = False
    for rid, text in records:
        priority = _priority(rid, seed)
        if not overflow:
            counted.add(priority)
            overflow = len(counted) > MAX_COUNTED
        if rid in members:
            continue
        if len(kept) < size:
            heapq.heappush(kept, (-priority, rid, text))
            members.add(rid)
        elif priority < -kept[0][0]:
            _, evicted, _ = heapq.heapreplace(kept, (-priority, rid, text))
            members.discard(evicted)
            members.add(rid)
    chosen = [(rid, text) for _, rid, text in sorted(kept, reverse=True)]
    if not overflow:
        return _Sampled(chosen, len(counted), True)
    # the k-th smallest of n uniform priorities lies near k/n of their range
    estimate = round((len(kept) - 1) * PRIORITY_SPACE / (-kept[0][0] + 1))
    return _Sampled(chosen, estimate, False)


def _all_records(sources: Iterable[DataSource], key: IndexKey) -> Iterator[tuple[str, str]]:
    for source in sources:
        for record in iter_records(source):
            text = _text(record)
            if text.strip():
                yield record_id(record, key), text


def _tokenize(tokenizer: Any, items: list[tuple[str, str]], origin: str, length: int
              ) -> tuple[list[Sample], int]:
    samples, short = [], 0
    for start in range(0, len(items), 256):
        chunk = items[start: start + 256]
        encoded = tokenizer([text for _, text in chunk], add_special_tokens=False,
                            truncation=False)["input_ids"]
        for (rid, _), ids in zip(chunk, encoded, strict=True):
            if len(ids) < length:
                short += 1
                continue
            samples.append(Sample(rid, origin, tuple(int(i) for i in ids[:length])))
    return samples, short


def draw_samples(config: Config, tokenizer: Any, key: IndexKey) -> Drawn:
    settings = config.checks.memorization
    length = settings.prefix_tokens + settings.suffix_tokens
    wanted = set(settings.records)
    named: list[tuple[str, str]] = []

    def unnamed() -> Iterator[tuple[str, str]]:
        for rid, text in _all_records(config.data.sources, key):
            if rid in wanted:
                named.append((rid, text))
            else:
                yield rid, text

    sampled = _distinct_sample(unnamed(), settings.samples, settings.seed)
    missing = wanted - {rid for rid, _ in named}
    if missing:
        raise InputError(f"[checks.memorization].records names {len(missing)} id(s) that are "
                         "not in the data sources", path=config.path)
    named_once = list(dict(named).items())  # a named record that several sources hold, once
    samples, short = _tokenize(tokenizer, sampled.chosen, "sample", length)
    for origin, items in (("record", named_once), ("canary", canary_lines(settings.canaries))):
        extra, extra_short = _tokenize(tokenizer, items, origin, length)
        samples += extra
        short += extra_short
    holdout: list[Sample] = []
    if settings.holdout is not None:
        held = _distinct_sample(_all_records([settings.holdout], key), settings.samples,
                                settings.seed + 1)
        holdout, _ = _tokenize(tokenizer, held.chosen, "holdout", length)
    return Drawn(samples, holdout, short, sampled.population + len(named_once),
                 sampled.exact)


def canary_lines(path: Path | None) -> list[tuple[str, str]]:
    """The canaries file's lines, each with its id (canary:LINE)."""
    if path is None:
        return []
    try:
        lines = read_regular(path).decode("utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read canaries: {exc.strerror}", path=path) from None
    return [(f"canary:{number}", line) for number, line in enumerate(lines, start=1)
            if line.strip()]
