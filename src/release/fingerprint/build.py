"""Builds the keyed fingerprint index from the data sources: every source read once, streamed,
in batches; hashes, counts and ids written, never text."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from release.atomic import building_folder, replace_folder
from release.config import Config, DataSource
from release.digests import sha256_file
from release.errors import ConfigError, UsageError, display_path
from release.fingerprint.index import (
    ALL_BITS,
    MAX_SENSITIVE_TOKENS,
    IndexMeta,
    IndexParams,
    SourceStamp,
    check_bytes,
    record_id,
    shipped_digest,
    to_bytes,
)
from release.fingerprint.kernels import KERNELS, U64, Kernels
from release.fingerprint.keys import IndexKey
from release.fingerprint.tokens import (
    fold_many,
    gram_fingerprints,
    gram_hashes_at,
    siphash13,
    tokenize,
)
from release.ownership import clean_leftovers, is_index_folder, require_replaceable
from release.progress import Progress, SilentProgress
from release.sources import (
    RecordBatch,
    format_mismatch,
    iter_batches,
    source_files,
    source_mtime,
)

BATCH_BYTES = 1 << 20


def source_stamp(index: int, source: DataSource, key: IndexKey) -> SourceStamp:
    """Size, mtime and keyed digests of a source's files (raises OSError when unreadable)."""
    digests = tuple((path.stat().st_size, shipped_digest(key, sha256_file(path)))
                    for path in source_files(source))
    return SourceStamp(f"data.sources[{index}]", str(source.path), source.path.stat().st_size,
                       source_mtime(source), digests)


@dataclass
class Values:
    """Texts (or sensitive values) gathered for one build batch, with their record numbers."""

    values: list[str] = field(default_factory=list)
    parts: list[np.ndarray] = field(default_factory=list)

    def add(self, values: list[str], records: np.ndarray) -> None:
        self.values.extend(values)
        self.parts.append(records)

    @property
    def records(self) -> np.ndarray:
        return np.concatenate(self.parts) if self.parts else np.zeros(0, dtype=np.int64)


@dataclass
class _Builder:
    params: IndexParams
    key: IndexKey
    kernels: Kernels = KERNELS
    fingerprints: list[U64] = field(default_factory=list)
    checks: list[U64] = field(default_factory=list)
    units: list[np.ndarray] = field(default_factory=list)
    sensitive: list[U64] = field(default_factory=list)
    sensitive_units: list[np.ndarray] = field(default_factory=list)
    sensitive_first: list[U64] = field(default_factory=list)
    record_ids: list[str] = field(default_factory=list)
    text_bytes: int = 0

    def add_batch(self, texts: Values, sensitive: Values) -> None:
        """Index a batch of texts (one unit each) and of sensitive values, each with the number
        of its record."""
        if texts.values:
            self._add_texts(texts)
        if sensitive.values:
            self._add_sensitive(sensitive)

    def _add_texts(self, texts: Values) -> None:
        p = self.params
        buffer, offsets = fold_many(texts.values)
        self.text_bytes += len(buffer) - (len(texts.values) - 1)
        tokens = tokenize(buffer, kernels=self.kernels)
        first, counts = tokens.pieces(offsets)
        unit_of = np.repeat(np.arange(len(texts.values)), counts)
        self.units.append(np.stack([texts.records.astype(np.uint32), counts.astype(np.uint32)],
                                   axis=1))
        position = np.arange(len(tokens), dtype=np.int64) - first[unit_of]
        sampled = np.flatnonzero((position % p.stride == 0)
                                 & (position + p.gram_words <= counts[unit_of]))
        if sampled.size == 0:
            return
        self.fingerprints.append(gram_fingerprints(tokens.hashes, p.gram_words,
                                                   self.key.sip("gram"), ALL_BITS, sampled,
                                                   self.kernels))
        token_checks = siphash13(self.key.sip("token"), tokens.hashes, self.kernels)
        self.checks.append(_pack_checks(token_checks, sampled, position[sampled],
                                        counts[unit_of[sampled]], p))

    def _add_sensitive(self, values: Values) -> None:
        """Each value of enough characters and at most MAX_SENSITIVE_TOKENS words, as the keyed
        hash of its whole word run, all values of a batch hashed together."""
        p = self.params
        buffer, offsets = fold_many(values.values)
        tokens = tokenize(buffer, kernels=self.kernels)
        if len(tokens) == 0:
            return
        first, count = tokens.pieces(offsets)
        has_words = count > 0
        last = np.clip(first + count - 1, 0, len(tokens) - 1)
        # the normalised value's length without its leading and trailing separators
        chars = np.where(has_words, tokens.ends[last]
                         - tokens.starts[np.minimum(first, len(tokens) - 1)], 0)
        kept = np.flatnonzero(has_words & (count <= MAX_SENSITIVE_TOKENS)
                              & (chars >= p.min_sensitive_chars))
        if kept.size == 0:
            return
        whole = np.empty(kept.size, dtype=np.uint64)
        for length in np.unique(count[kept]).tolist():
            group = np.flatnonzero(count[kept] == length)
            whole[group] = gram_hashes_at(tokens.hashes, first[kept[group]], length)
        self.sensitive.append(siphash13(self.key.sip("sensitive"), whole, self.kernels))
        first_prf = siphash13(self.key.sip("token"), tokens.hashes[first[kept]], self.kernels)
        self.sensitive_first.append(first_prf >> np.uint64(32))
        self.sensitive_units.append(np.stack([values.records[kept].astype(np.uint32),
                                              count[kept].astype(np.uint32)], axis=1))


def _pack_checks(token_checks: U64, sampled: np.ndarray, position: np.ndarray,
                 length: np.ndarray, p: IndexParams) -> U64:
    """Per stored gram, CHECK_BITS keyed bits of each of the `context` tokens before it and
    after it (zero where the record ends; the record length tells which exist)."""
    mask = np.uint64((1 << p.check_bits) - 1)
    packed = np.zeros(sampled.shape[0], dtype=np.uint64)
    slot = 0
    for offset in range(1, p.context + 1):
        for index, present in ((sampled - offset, position - offset >= 0),
                               (sampled + p.gram_words - 1 + offset,
                                position + p.gram_words - 1 + offset < length)):
            safe = np.clip(index, 0, token_checks.shape[0] - 1)
            bits = np.where(present, token_checks[safe] & mask, np.uint64(0))
            packed |= bits << np.uint64(slot * p.check_bits)
            slot += 1
    return packed


def batch_record_ids(batch: RecordBatch, key: IndexKey) -> list[str]:
    """`record_id` of every record of a batch (content is regrouped only when ids are missing)."""
    if all(given is not None for given in batch.ids):
        return cast(list[str], batch.ids)
    return [record_id(record, key) for record in batch.records()]


@dataclass
class _SourceTally:
    """What one source gave: its records, their fields, and how much text."""

    records: int = 0
    text_chars: int = 0
    fields: set[str] = field(default_factory=set)


def _records_in_batches(sources: Iterable[tuple[int, DataSource]], key: IndexKey,
                        builder: _Builder, progress_step: Any, config_path: Path
                        ) -> Iterator[None]:
    texts, sensitive = Values(), Values()
    size = 0
    for number, source in sources:
        tally = _SourceTally()
        for batch in iter_batches(source):
            first = len(builder.record_ids)
            builder.record_ids.extend(batch_record_ids(batch, key))
            texts.add(batch.texts, batch.text_records + first)
            sensitive.add(batch.sensitive, batch.sensitive_records + first)
            chars = sum(map(len, batch.texts))
            size += chars
            tally.records += len(batch)
            tally.text_chars += chars
            tally.fields |= batch.fields
            if size >= BATCH_BYTES:
                builder.add_batch(texts, sensitive)
                progress_step(size)
                texts, sensitive, size = Values(), Values(), 0
                yield None
        _require_text(number, source, tally, config_path)
    builder.add_batch(texts, sensitive)
    progress_step(size)


def _require_text(number: int, source: DataSource, tally: _SourceTally,
                  config_path: Path) -> None:
    """A source must give the index text: fields it names must exist in its records, and some
    record must hold text, or the scan would pass every leak of it."""
    where = f"data.sources[{number}]"
    if source.format != "txt":
        for name in ("text_fields", "sensitive_fields"):
            named = getattr(source, name) or ()
            missing = [f for f in named if f not in tally.fields]
            if missing and tally.records:
                raise ConfigError(
                    config_path, f"{where}.{name}",
                    f"{', '.join(map(repr, missing))} is in none of the {tally.records} records "
                    f"of {display_path(source.path)}; name fields the records have")
    if tally.text_chars == 0:
        raise ConfigError(
            config_path, where,
            f"none of the {tally.records} records of {display_path(source.path)} holds any "
            "text in its text fields, so nothing of it could be found in the release; check "
            "path, format and text_fields")


def _concat(parts: list[np.ndarray], dtype: Any, width: int | None = None) -> np.ndarray:
    if parts:
        return np.concatenate(parts).astype(dtype, copy=False)
    shape = (0,) if width is None else (0, width)
    return np.zeros(shape, dtype=dtype)


def fingerprint_bytes_for(grams: int) -> int:
    """Enough bits that a random artifact gram collides with a stored one about once in 2**24
    queries, before the neighbourhood checks: log2(grams) + 24 bits, whole bytes, 4 to 8."""
    return max(4, min(8, math.ceil((math.log2(max(grams, 2)) + 24) / 8)))


def build_index(config: Config, key: IndexKey, *, progress: Progress | None = None,
                config_digest: str = "", kernels: Kernels = KERNELS) -> IndexMeta:
    """Read every source once, streamed, and write the index folder atomically."""
    progress = progress or SilentProgress()
    params = IndexParams.for_checks(config.checks.min_match_words,
                                    config.checks.min_sensitive_chars)
    if not config.data.sources:
        raise ConfigError(config.path, "data.sources", "no data sources to index")
    require_replaceable(config.data.index, is_index_folder, config_path=config.path,
                        key="data.index", what="a fingerprint index")
    clean_leftovers(config.data.index)
    stamps = []
    for number, source in enumerate(config.data.sources):
        content = format_mismatch(source)
        if content is not None:
            raise ConfigError(config.path, f"data.sources[{number}].format",
                              f"is {source.format!r} but {display_path(source.path)} holds "
                              f"{content}; set the format the file has")
        try:
            stamps.append(source_stamp(number, source, key))
        except OSError as exc:
            raise UsageError(
                f"data.sources[{number}].path {display_path(source.path)} cannot be read "
                f"({exc.strerror}); run `release index build` where the data lives") from None
    builder = _Builder(params, key, kernels)
    total = sum(s.size for s in stamps)
    with progress.task("Indexing training data", total) as task:
        for _ in _records_in_batches(enumerate(config.data.sources), key, builder,
                                     lambda n: task.advance(n), config.path):
            pass
    fingerprints = _concat(builder.fingerprints, np.uint64)
    width = fingerprint_bytes_for(fingerprints.shape[0])
    params = IndexParams(**{**asdict(params), "fingerprint_bytes": width})
    meta = IndexMeta(
        params=params, key_id=key.key_id, sources=stamps,
        records=len(builder.record_ids),
        units=sum(u.shape[0] for u in builder.units),
        grams=int(fingerprints.shape[0]),
        sensitive=sum(s.shape[0] for s in builder.sensitive),
        text_bytes=builder.text_bytes,
        config_digest=config_digest,
        created=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
    )
    arrays = {
        "fingerprints": to_bytes(fingerprints, width),
        "checks": to_bytes(_concat(builder.checks, np.uint64), check_bytes(params)),
        "units": _concat(builder.units, np.uint32, 2),
        "sensitive": _concat(builder.sensitive, np.uint64),
        "sensitive_units": _concat(builder.sensitive_units, np.uint32, 2),
        "sensitive_first": _concat(builder.sensitive_first, np.uint32),
    }
    _write_index(config.data.index, meta, arrays, builder.record_ids)
    return meta


def _write_index(target: Path, meta: IndexMeta, arrays: dict[str, np.ndarray],
                 record_ids: list[str]) -> None:
    with building_folder(target) as built:
        for name, array in arrays.items():
            np.save(built / f"{name}.npy", array, allow_pickle=False)
        (built / "records.json").write_text(json.dumps(record_ids), encoding="utf-8")
        (built / "meta.json").write_text(meta.to_json(), encoding="utf-8")
        replace_folder(built, target)
