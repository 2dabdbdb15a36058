"""Builds, saves and loads the keyed fingerprint index: hashes, counts and ids, never text."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from release import __version__
from release.errors import InputError, UsageError
from release.fingerprint.kernels import KERNELS, U64, Kernels
from release.fingerprint.kernels.reference import widened
from release.fingerprint.keys import IndexKey
from release.regular import read_regular
from release.sources import Record

INDEX_FORMAT = 3  # 3: sorted, sharded and memory-mapped; 2: long words hashed whole
CHECK_BITS = 3  # keyed check bits stored per neighbouring token
MAX_CONTEXT = 64 // (2 * CHECK_BITS)  # neighbouring tokens checked on each side (10)
MAX_SENSITIVE_TOKENS = 16
ALL_BITS = (1 << 64) - 1
PARTITION_BITS = 12  # a build's spilled grams are partitioned by their top 12 bits
CHUNK_ROWS = 1 << 20  # rows read or written at a time where a column may be large


@dataclass(frozen=True)
class IndexParams:
    """How grams are sampled: every `stride`-th `gram_words`-gram of each record is stored, so any
    shared run of gram_words + stride - 1 = min_match_words words contains a stored gram."""

    min_match_words: int
    gram_words: int
    stride: int
    fingerprint_bits: int  # the top bits of a gram's keyed hash that are stored (0: not yet)
    check_bits: int
    min_sensitive_chars: int

    @classmethod
    def for_checks(cls, min_match_words: int, min_sensitive_chars: int) -> IndexParams:
        # half the guarantee as the gram, but never more than MAX_CONTEXT neighbours per side:
        # their check bits must fit one 64-bit word
        gram_words = max(2, min_match_words // 2, min_match_words - MAX_CONTEXT)
        return cls(min_match_words=min_match_words, gram_words=gram_words,
                   stride=min_match_words - gram_words + 1, fingerprint_bits=0,
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


@dataclass(frozen=True)
class Layout:
    """How the index files are cut and how wide their columns are: grams in 2**shard_bits
    shards by the top bits of their fingerprints, each shard's rows holding the fingerprint's
    bits below its directory bucket, its check bits and its gram number (in `gram_bytes`,
    enough for every gram); every count is checked against its column's type."""

    shard_bits: int
    check_bytes: int
    gram_bytes: int
    table_dtype: str  # of the unit and sensitive tables (record numbers and token counts)
    gram_bitmap_bits: int
    first_bitmap_bits: int
    shard_grams: tuple[int, ...]


@dataclass
class IndexMeta:
    params: IndexParams
    key_id: str
    sources: list[SourceStamp]
    layout: Layout | None = None
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
            layout = data.pop("layout")
            layout = Layout(**{**layout, "shard_grams": tuple(layout["shard_grams"])})
            return cls(params=params, sources=sources, layout=layout, **data)
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
    """Bytes of the index's files."""
    return sum(p.stat().st_size for p in index_dir.iterdir() if p.is_file())




def shard_file(number: int, column: str) -> str:
    """The file of one column of one shard of grams."""
    return f"grams-{number:04x}.{column}.npy"


@dataclass(frozen=True)
class Shard:
    """The grams whose fingerprints begin with one shard's bits, sorted by the rest of their
    bits; `directory[b]` is the first row whose residual's top bits (>> `shift`) are b, and
    `fingerprints` holds the bits below (rows of little-endian bytes); each row's check bits
    and gram number (which tells its unit and token position)."""

    fingerprints: np.ndarray
    directory: np.ndarray
    shift: int
    checks: np.ndarray
    grams: np.ndarray


@dataclass(frozen=True)
class SortedColumn:
    """Sorted 64-bit values on disk with a directory of their top bits (see Shard)."""

    values: U64
    directory: np.ndarray
    shift: int


def directory_shift(count: int, value_bits: int) -> int:
    """How far values of `value_bits` bits are shifted to give their directory bucket: about
    64 values a bucket, so a lookup searches a few cache lines."""
    directory_bits = max(1, min(value_bits, math.ceil(math.log2(max(count, 2))) - 6))
    return value_bits - directory_bits


def directory_counts(top: np.ndarray, buckets: int) -> np.ndarray:
    """How many sorted values fall in each directory bucket (`top` is their value >> shift);
    summed over chunks, they make the directory of the whole column."""
    counts: np.ndarray = np.bincount(top.astype(np.int64), minlength=buckets)[:buckets]
    return counts


def directory_of(counts: np.ndarray) -> np.ndarray:
    """The directory from the counts of its buckets: where each bucket's values begin."""
    return np.concatenate(([0], np.cumsum(counts))).astype(np.int64)


def make_directory(top: np.ndarray, shift: int, value_bits: int) -> np.ndarray:
    """The directory of sorted values given as `top` (their values >> shift)."""
    return directory_of(directory_counts(top, 1 << (value_bits - shift)))


@dataclass(frozen=True)
class LoadedIndex:
    """The index, opened where it lies: every array is a read-only memory map, so loading
    costs the same at any size and a scan holds only the pages it touches."""

    meta: IndexMeta
    key: IndexKey
    layout: Layout
    shards: tuple[Shard, ...]
    gram_bitmap: np.ndarray
    unit_record: np.ndarray
    unit_length: np.ndarray
    unit_first_gram: np.ndarray  # number of each unit's first gram (and the count, last)
    record_length: np.ndarray  # tokens per record, all text fields together
    record_offsets: np.ndarray
    record_blob: np.ndarray
    sensitive: SortedColumn
    sensitive_units: np.ndarray  # (record, tokens) of each sorted sensitive value
    sensitive_lengths: tuple[int, ...]
    sensitive_first: SortedColumn  # sorted, unique: PRF bits of each value's first token
    first_bitmap: np.ndarray

    def record_id(self, number: int) -> str:
        """The id of record `number`, read from the record table (only named records are)."""
        start, end = int(self.record_offsets[number]), int(self.record_offsets[number + 1])
        return bytes(self.record_blob[start:end]).decode("utf-8")

    @property
    def records(self) -> int:
        return int(self.record_offsets.shape[0]) - 1


def shard_values(rows: np.ndarray, directory: np.ndarray, shift: int, start: int,
                 end: int) -> U64:
    """Whole residuals of rows [start, end) of a shard: their stored low bits, and their
    bucket's bits from the directory."""
    low = widened(np.asarray(rows[start:end]))
    bucket = np.searchsorted(directory, np.arange(start, start + low.shape[0]),
                             side="right") - 1
    return np.ascontiguousarray(low | (bucket.astype(np.uint64) << np.uint64(shift))
                                if shift < 64 else low)


SPARSE_BITMAP_BITS = 29  # 64 MiB: up to this, about 64 bits a value, made when opened
DENSE_SPARSITY = 4  # beyond it, 16 to 32 bits a value, stored with the index
MAX_BITMAP_BITS = 32  # 512 MiB, for an index of about 1G grams


def bitmap_bits_for(values: int) -> int:
    """Bits of a scan's bitmap of `values` values: one false positive in about 64 while that
    takes at most 64 MiB; beyond, one in 16 to 32 (it is then stored with the index, where a
    sparser one would be most of its size)."""
    magnitude = math.ceil(math.log2(max(values, 2)))
    wanted = magnitude + 6 if magnitude + 6 <= SPARSE_BITMAP_BITS else \
        max(SPARSE_BITMAP_BITS, magnitude + DENSE_SPARSITY)
    return max(16, min(MAX_BITMAP_BITS, wanted))


def bitmap_stored(bits: int) -> bool:
    """Whether a bitmap this size is written by the build (a smaller one costs less to make
    when the index is opened than it would on disk)."""
    return bits > SPARSE_BITMAP_BITS


def value_bitmap(values: np.ndarray, bits: int, kernels: Kernels = KERNELS) -> np.ndarray:
    """The bitmap of 2**bits bits with the bit of each value set."""
    bitmap = np.zeros(1 << (bits - 3), dtype=np.uint8)
    kernels.bitmap_fill(bitmap, bits, np.ascontiguousarray(values, dtype=np.uint64))
    return bitmap


def fill_gram_bitmap(bitmap: np.ndarray, params: IndexParams, layout: Layout,
                     shards: Sequence[Shard], kernels: Kernels = KERNELS) -> None:
    """Set the bit of every stored fingerprint, each shard read a chunk at a time."""
    residual_bits = params.fingerprint_bits - layout.shard_bits
    for number, shard in enumerate(shards):
        for start in range(0, shard.fingerprints.shape[0], CHUNK_ROWS):
            values = shard_values(shard.fingerprints, shard.directory, shard.shift, start,
                                  start + CHUNK_ROWS)
            if layout.shard_bits:
                values |= np.uint64(number) << np.uint64(residual_bits)
            kernels.bitmap_fill(bitmap, layout.gram_bitmap_bits, values)


def open_shards(index_dir: Path, params: IndexParams, layout: Layout) -> list[Shard]:
    """Every shard of an index folder, its columns opened where they lie."""
    residual_bits = params.fingerprint_bits - layout.shard_bits
    return [Shard(fingerprints=_open(index_dir, shard_file(number, "fingerprints"), rows=grams),
                  directory=_open(index_dir, shard_file(number, "directory")),
                  shift=directory_shift(grams, residual_bits),
                  checks=_open(index_dir, shard_file(number, "checks"), rows=grams),
                  grams=_open(index_dir, shard_file(number, "grams"), rows=grams))
            for number, grams in enumerate(layout.shard_grams)]


def _gram_bitmap(index_dir: Path, meta: IndexMeta, shards: list[Shard]) -> np.ndarray:
    layout = meta.layout
    assert layout is not None
    if bitmap_stored(layout.gram_bitmap_bits):
        return _open(index_dir, "gram_bitmap.npy")
    bitmap = np.zeros(1 << (layout.gram_bitmap_bits - 3), dtype=np.uint8)
    fill_gram_bitmap(bitmap, meta.params, layout, shards)
    return bitmap


def _first_bitmap(index_dir: Path, bits: int, values: np.ndarray) -> np.ndarray:
    return _open(index_dir, "first_bitmap.npy") if bitmap_stored(bits) else \
        value_bitmap(values, bits)


def _open(index_dir: Path, name: str, *, rows: int | None = None) -> np.ndarray:
    """A read-only memory map of an index file; an unreadable one (or one of the wrong
    length) is an input error that says to rebuild."""
    path = index_dir / name
    try:
        if path.is_symlink() or not path.is_file():
            raise OSError(f"{name} is missing or not a regular file")
        array = np.load(path, mmap_mode="r", allow_pickle=False) if path.stat().st_size \
            else None
        if array is None:
            raise ValueError("empty file")
    except (OSError, ValueError) as exc:
        raise InputError(f"index file is unreadable ({exc}); rebuild the index with "
                         "`release index build`", path=path) from None
    if rows is not None and array.shape[0] != rows:
        raise InputError("index files disagree; rebuild the index with `release index build`",
                         path=path)
    # a plain view of the map: indexing it skips np.memmap's per-call wrapping
    plain: np.ndarray = array.view(np.ndarray)
    return plain


def load_index(index_dir: Path, key: IndexKey) -> LoadedIndex:
    """Open the index: its meta, the shard directories and maps of every column."""
    meta = read_meta(index_dir)
    if meta.key_id != key.key_id:
        raise UsageError(f"the index key ({key.origin}) is not the key this index was built "
                         "with", path=index_dir)
    layout = meta.layout
    assert layout is not None  # from_json refuses a meta without one
    shards = open_shards(index_dir, meta.params, layout)
    units = _open(index_dir, "units.npy", rows=meta.units)
    sensitive = _open(index_dir, "sensitive.npy", rows=meta.sensitive)
    first = _open(index_dir, "sensitive_first.npy")
    lengths = _open(index_dir, "sensitive_lengths.npy")
    return LoadedIndex(
        meta=meta, key=key, layout=layout, shards=tuple(shards),
        gram_bitmap=_gram_bitmap(index_dir, meta, shards),
        unit_record=units[:, 0], unit_length=units[:, 1],
        unit_first_gram=_open(index_dir, "unit_first_gram.npy", rows=meta.units + 1),
        record_length=_open(index_dir, "record_length.npy", rows=meta.records),
        record_offsets=_open(index_dir, "record_offsets.npy", rows=meta.records + 1),
        record_blob=_open(index_dir, "records.bin.npy"),
        sensitive=SortedColumn(sensitive, _open(index_dir, "sensitive_directory.npy"),
                               directory_shift(meta.sensitive, 64)),
        sensitive_units=_open(index_dir, "sensitive_units.npy", rows=meta.sensitive),
        sensitive_lengths=tuple(int(n) for n in lengths),
        sensitive_first=SortedColumn(first, _open(index_dir, "first_directory.npy"),
                                     directory_shift(first.shape[0], 32)),
        first_bitmap=_first_bitmap(index_dir, layout.first_bitmap_bits, first),
    )
