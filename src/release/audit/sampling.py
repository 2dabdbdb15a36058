"""Draws the audited records: a seeded reservoir sample of the sources, plus canaries and
records named in the config, each tokenised once into prefix and suffix."""

from __future__ import annotations

import random
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
    population: int  # records seen in the sources


def _text(record: Record) -> str:
    return "\n".join(record.texts)


def _reservoir(records: Iterable[tuple[str, str]], size: int, rng: random.Random
               ) -> tuple[list[tuple[str, str]], int]:
    """A uniform sample of `size` items from a stream, in memory bounded by `size`."""
    chosen: list[tuple[str, str]] = []
    seen = 0
    for item in records:
        seen += 1
        if len(chosen) < size:
            chosen.append(item)
        else:
            slot = rng.randrange(seen)
            if slot < size:
                chosen[slot] = item
    return chosen, seen


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
    rng = random.Random(settings.seed)
    wanted = set(settings.records)
    named: list[tuple[str, str]] = []

    def unnamed() -> Iterator[tuple[str, str]]:
        for rid, text in _all_records(config.data.sources, key):
            if rid in wanted:
                named.append((rid, text))
            else:
                yield rid, text

    chosen, population = _reservoir(unnamed(), settings.samples, rng)
    missing = wanted - {rid for rid, _ in named}
    if missing:
        raise InputError(f"[checks.memorization].records names {len(missing)} id(s) that are "
                         "not in the data sources", path=config.path)
    samples, short = _tokenize(tokenizer, chosen, "sample", length)
    for origin, items in (("record", named), ("canary", _canaries(settings.canaries))):
        extra, extra_short = _tokenize(tokenizer, items, origin, length)
        samples += extra
        short += extra_short
    holdout: list[Sample] = []
    if settings.holdout is not None:
        held, _ = _reservoir(_all_records([settings.holdout], key), settings.samples, rng)
        holdout, _ = _tokenize(tokenizer, held, "holdout", length)
    return Drawn(samples, holdout, short, population + len(named))


def _canaries(path: Path | None) -> list[tuple[str, str]]:
    """The canaries file's lines, each with its id (canary:LINE)."""
    if path is None:
        return []
    try:
        lines = read_regular(path).decode("utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read canaries: {exc.strerror}", path=path) from None
    return [(f"canary:{number}", line) for number, line in enumerate(lines, start=1)
            if line.strip()]
