"""Builds, saves and loads the keyed fingerprint index: hashes, counts and ids, never text."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from release import __version__
from release.atomic import building_folder, replace_folder
from release.config import Config, DataSource
from release.digests import sha256_file
from release.errors import ConfigError, InputError, UsageError, display_path
from release.fingerprint.kernels import KERNELS, U64, Kernels
from release.fingerprint.keys import IndexKey
from release.fingerprint.tokens import (
    fold_many,
    gram_fingerprints,
    gram_hashes_at,
    siphash13,
    sorted_with_order,
    tokenize,
)
from release.progress import Progress, SilentProgress
from release.sources import Record, RecordBatch, iter_batches, source_files, source_mtime

INDEX_FORMAT = 2  # 2: word hashes read long words whole (no 32-byte limit)
CHECK_BITS = 3  # keyed check bits stored per neighbouring token
MAX_CONTEXT = 64 // (2 * CHECK_BITS)  # neighbouring tokens checked on each side (10)
MAX_SENSITIVE_TOKENS = 16
ALL_BITS = (1 << 64) - 1
BATCH_BYTES = 1 << 20
ARRAYS = ("fingerprints", "checks", "units", "sensitive", "sensitive_units", "sensitive_first")


@dataclass(frozen=True)
class IndexParams:
    """How grams are sampled: every `stride`-th `gram_words`-gram of each record is stored, so any
    shared run of gram_words + stride - 1 = min_match_words words contains a stored gram."""

    min_match_words: int
    gram_words: int
    stride: int
    fingerprint_bytes: int
    check_bits: int
    min_sensitive_chars: int

    @classmethod
    def for_checks(cls, min_match_words: int, min_sensitive_chars: int) -> IndexParams:
        # half the guarantee as the gram, but never more than MAX_CONTEXT neighbours per side:
        # their check bits must fit one 64-bit word
        gram_words = max(2, min_match_words // 2, min_match_words - MAX_CONTEXT)
        return cls(min_match_words=min_match_words, gram_words=gram_words,
                   stride=min_match_words - gram_words + 1, fingerprint_bytes=0,
                   check_bits=CHECK_BITS, min_sensitive_chars=min_sensitive_chars)

    @property
    def context(self) -> int:
        """Neighbouring tokens checked on each side of a stored gram."""
        return self.stride - 1


@dataclass(frozen=True)
class SourceStamp:
    key: str
    path: str
    size: int
    mtime_ns: int
    files: tuple[tuple[int, str], ...]  # (size, keyed digest) of each file, for copy detection


class IndexFormatError(InputError):
    """An index written in another format: rebuilt where the data is, refused elsewhere."""

    def __init__(self, found: int, where: Path) -> None:
        super().__init__(f"the index is in format {found} and this version of release reads "
                         f"format {INDEX_FORMAT}; rebuild it with `release index build`",
                         path=where)
        self.found = found


@dataclass
class IndexMeta:
    params: IndexParams
    key_id: str
    sources: list[SourceStamp]
    records: int = 0
    units: int = 0
    grams: int = 0
    sensitive: int = 0
    text_bytes: int = 0  # of the indexed texts, as UTF-8 after Unicode folding
    config_digest: str = ""
    tool_version: str = __version__
    created: str = ""
    format: int = INDEX_FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, where: Path) -> IndexMeta:
        try:
            data = json.loads(text)
            found = data.get("format")
            if isinstance(found, int) and found != INDEX_FORMAT:
                raise IndexFormatError(found, where)
            if found != INDEX_FORMAT:
                raise ValueError("format")
            params = IndexParams(**data.pop("params"))
            sources = [SourceStamp(**{**s, "files": tuple(tuple(f) for f in s["files"])})
                       for s in data.pop("sources")]
            return cls(params=params, sources=sources, **data)
        except (ValueError, TypeError, KeyError, AttributeError):
            raise InputError("not a release index (or written by another version); rebuild "
                             "it with `release index build`", path=where) from None


def source_stamp(index: int, source: DataSource, key: IndexKey) -> SourceStamp:
    """Size, mtime and keyed digests of a source's files (raises OSError when unreadable)."""
    digests = tuple((path.stat().st_size, shipped_digest(key, sha256_file(path)))
                    for path in source_files(source))
    return SourceStamp(f"data.sources[{index}]", str(source.path), source.path.stat().st_size,
                       source_mtime(source), digests)


def shipped_digest(key: IndexKey, sha256_hex: str) -> str:
    """The keyed digest of a file's sha256: recorded for each source file, computed for each
    shipped file, so copies are found where the sources cannot be read."""
    return key.mac("file", bytes.fromhex(sha256_hex))


def record_id(record: Record, key: IndexKey) -> str:
    """The record's own id, or a keyed hash of its content when the source has no id field."""
    if record.id is not None:
        return record.id
    content = "\x1f".join((*record.texts, "\x1e", *record.sensitive)).encode("utf-8")
    return "rec:" + key.mac("record", content)[:16]


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


def _records_in_batches(sources: Iterable[tuple[int, DataSource]], key: IndexKey,
                        builder: _Builder, progress_step: Any) -> Iterator[None]:
    texts, sensitive = Values(), Values()
    size = 0
    for _, source in sources:
        for batch in iter_batches(source):
            first = len(builder.record_ids)
            builder.record_ids.extend(batch_record_ids(batch, key))
            texts.add(batch.texts, batch.text_records + first)
            sensitive.add(batch.sensitive, batch.sensitive_records + first)
            size += sum(map(len, batch.texts))
            if size >= BATCH_BYTES:
                builder.add_batch(texts, sensitive)
                progress_step(size)
                texts, sensitive, size = Values(), Values(), 0
                yield None
    builder.add_batch(texts, sensitive)
    progress_step(size)


def _concat(parts: list[np.ndarray], dtype: Any, width: int | None = None) -> np.ndarray:
    if parts:
        return np.concatenate(parts).astype(dtype, copy=False)
    shape = (0,) if width is None else (0, width)
    return np.zeros(shape, dtype=dtype)


def fingerprint_bytes_for(grams: int) -> int:
    """Enough bits that a random artifact gram collides with a stored one about once in 2**24
    queries, before the neighbourhood checks: log2(grams) + 24 bits, whole bytes, 4 to 8."""
    return max(4, min(8, math.ceil((math.log2(max(grams, 2)) + 24) / 8)))


def _to_bytes(values: U64, width: int) -> np.ndarray:
    assert 1 <= width <= 8, width
    return values.astype("<u8").view(np.uint8).reshape(-1, 8)[:, :width].copy()


def _from_bytes(raw: np.ndarray, width: int) -> U64:
    full = np.zeros((raw.shape[0], 8), dtype=np.uint8)
    full[:, :width] = raw
    return full.view("<u8").reshape(-1).astype(np.uint64)


def _check_bytes(p: IndexParams) -> int:
    return math.ceil(2 * p.context * p.check_bits / 8)


def build_index(config: Config, key: IndexKey, *, progress: Progress | None = None,
                config_digest: str = "", kernels: Kernels = KERNELS) -> IndexMeta:
    """Read every source once, streamed, and write the index folder atomically."""
    progress = progress or SilentProgress()
    params = IndexParams.for_checks(config.checks.min_match_words,
                                    config.checks.min_sensitive_chars)
    if not config.data.sources:
        raise ConfigError(config.path, "data.sources", "no data sources to index")
    stamps = []
    for number, source in enumerate(config.data.sources):
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
                                     lambda n: task.advance(n)):
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
        "fingerprints": _to_bytes(fingerprints, width),
        "checks": _to_bytes(_concat(builder.checks, np.uint64), _check_bytes(params)),
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


def read_meta(index_dir: Path) -> IndexMeta:
    path = index_dir / "meta.json"
    try:
        return IndexMeta.from_json(path.read_text(encoding="utf-8"), path)
    except FileNotFoundError:
        raise InputError("no index here (run `release index build`)", path=index_dir) from None
    except OSError as exc:
        raise InputError(f"cannot read the index: {exc.strerror}", path=path) from None


def index_size(index_dir: Path) -> int:
    return sum(p.stat().st_size for p in index_dir.iterdir() if p.is_file())


@dataclass(frozen=True)
class LoadedIndex:
    """The index in memory, arranged for lookups."""

    meta: IndexMeta
    key: IndexKey
    sorted_fingerprints: U64
    order: np.ndarray  # stored gram number of each sorted fingerprint
    checks: U64
    gram_unit: np.ndarray  # unit number of each stored gram
    gram_position: np.ndarray  # token position of each stored gram within its unit
    unit_record: np.ndarray
    unit_length: np.ndarray
    record_ids: list[str]
    record_length: np.ndarray  # tokens per record, all text fields together
    sensitive_sorted: U64
    sensitive_order: np.ndarray
    sensitive_units: np.ndarray
    sensitive_lengths: tuple[int, ...]
    sensitive_first: U64  # sorted, unique: PRF bits of each value's first token


def _load_array(index_dir: Path, name: str) -> np.ndarray:
    path = index_dir / f"{name}.npy"
    try:
        return np.asarray(np.load(path, allow_pickle=False))
    except (OSError, ValueError) as exc:
        raise InputError(f"index file is unreadable ({exc}); rebuild the index", path=path) \
            from None


def _sorted_unique(values: U64, bits: int, kernels: Kernels) -> U64:
    """np.unique by sorting (numpy 2's hashing unique is several times slower on millions of
    64-bit values)."""
    ordered, _ = sorted_with_order(values, bits, kernels)
    keep = np.ones(ordered.shape[0], dtype=bool)
    keep[1:] = ordered[1:] != ordered[:-1]
    return ordered[keep]


def load_index(index_dir: Path, key: IndexKey, kernels: Kernels = KERNELS) -> LoadedIndex:
    meta = read_meta(index_dir)
    if meta.key_id != key.key_id:
        raise UsageError(f"the index key ({key.origin}) is not the key this index was built "
                         "with", path=index_dir)
    p = meta.params
    arrays = {name: _load_array(index_dir, name) for name in ARRAYS}
    try:
        record_ids = json.loads((index_dir / "records.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise InputError("records.json is unreadable; rebuild the index", path=index_dir) \
            from None
    fingerprints = _from_bytes(arrays["fingerprints"], p.fingerprint_bytes)
    units = arrays["units"].astype(np.int64)
    unit_record, unit_length = units[:, 0], units[:, 1]
    grams_per_unit = np.where(unit_length >= p.gram_words,
                              (unit_length - p.gram_words) // p.stride + 1, 0)
    gram_unit = np.repeat(np.arange(units.shape[0]), grams_per_unit)
    first_gram = np.concatenate(([0], np.cumsum(grams_per_unit)[:-1]))
    gram_position = (np.arange(gram_unit.shape[0]) - first_gram[gram_unit]) * p.stride
    if gram_unit.shape[0] != fingerprints.shape[0]:
        raise InputError("index arrays disagree; rebuild the index", path=index_dir)
    sorted_fingerprints, order = sorted_with_order(fingerprints, 8 * p.fingerprint_bytes,
                                                   kernels)
    sensitive_sorted, sensitive_order = sorted_with_order(arrays["sensitive"], 64, kernels)
    sensitive_units = arrays["sensitive_units"].astype(np.int64)
    record_length = np.bincount(unit_record, weights=unit_length,
                                minlength=len(record_ids)).astype(np.int64)
    return LoadedIndex(
        meta=meta, key=key,
        sorted_fingerprints=sorted_fingerprints, order=order,
        checks=_from_bytes(arrays["checks"], _check_bytes(p)),
        gram_unit=gram_unit, gram_position=gram_position,
        unit_record=unit_record, unit_length=unit_length,
        record_ids=record_ids, record_length=record_length,
        sensitive_sorted=sensitive_sorted, sensitive_order=sensitive_order,
        sensitive_units=sensitive_units,
        sensitive_lengths=tuple(np.flatnonzero(np.bincount(sensitive_units[:, 1])).tolist()),
        sensitive_first=_sorted_unique(arrays["sensitive_first"].astype(np.uint64), 32,
                                       kernels),
    )
