"""Builds, saves and loads the keyed fingerprint index: hashes, counts and ids, never text."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from release import __version__
from release.errors import InputError, UsageError
from release.fingerprint.kernels import KERNELS, U64, Kernels
from release.fingerprint.keys import IndexKey
from release.fingerprint.tokens import (
    sorted_with_order,
)
from release.regular import open_regular, read_regular
from release.sources import Record

INDEX_FORMAT = 2  # 2: word hashes read long words whole (no 32-byte limit)
CHECK_BITS = 3  # keyed check bits stored per neighbouring token
MAX_CONTEXT = 64 // (2 * CHECK_BITS)  # neighbouring tokens checked on each side (10)
MAX_SENSITIVE_TOKENS = 16
ALL_BITS = (1 << 64) - 1
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


def to_bytes(values: U64, width: int) -> np.ndarray:
    assert 1 <= width <= 8, width
    return values.astype("<u8").view(np.uint8).reshape(-1, 8)[:, :width].copy()


def from_bytes(raw: np.ndarray, width: int) -> U64:
    full = np.zeros((raw.shape[0], 8), dtype=np.uint8)
    full[:, :width] = raw
    return full.view("<u8").reshape(-1).astype(np.uint64)


def check_bytes(p: IndexParams) -> int:
    return math.ceil(2 * p.context * p.check_bits / 8)


def read_meta(index_dir: Path) -> IndexMeta:
    path = index_dir / "meta.json"
    try:
        return IndexMeta.from_json(read_regular(path).decode("utf-8"), path)
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
        with open_regular(path) as handle:
            return np.asarray(np.load(handle, allow_pickle=False))
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
        record_ids = json.loads(read_regular(index_dir / "records.json", 1 << 40))
    except (OSError, ValueError):
        raise InputError("records.json is unreadable; rebuild the index", path=index_dir) \
            from None
    fingerprints = from_bytes(arrays["fingerprints"], p.fingerprint_bytes)
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
        checks=from_bytes(arrays["checks"], check_bytes(p)),
        gram_unit=gram_unit, gram_position=gram_position,
        unit_record=unit_record, unit_length=unit_length,
        record_ids=record_ids, record_length=record_length,
        sensitive_sorted=sensitive_sorted, sensitive_order=sensitive_order,
        sensitive_units=sensitive_units,
        sensitive_lengths=tuple(np.flatnonzero(np.bincount(sensitive_units[:, 1])).tolist()),
        sensitive_first=_sorted_unique(arrays["sensitive_first"].astype(np.uint64), 32,
                                       kernels),
    )
