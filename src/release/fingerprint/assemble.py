"""Writes the index files from the hashed parts of a build: sorted shards of grams, the unit,
record and sensitive tables and the scan's bitmaps, each in bounded memory."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.format import open_memmap

from release.fingerprint.index import (
    ALL_BITS,
    CHUNK_ROWS,
    PARTITION_BITS,
    IndexParams,
    Layout,
    bitmap_bits_for,
    bitmap_stored,
    check_bytes,
    directory_counts,
    directory_of,
    directory_shift,
    fill_gram_bitmap,
    make_directory,
    open_shards,
    shard_file,
    value_bitmap,
)
from release.fingerprint.kernels import KERNELS, U64, Kernels
from release.fingerprint.spill import (
    FIRST_ROW,
    GRAM_ROW,
    PARTITIONS,
    SENSITIVE_ROW,
    Run,
    partition_groups,
    read_partitions,
)

# what sorting and writing one shard holds per gram: its row read back (32 bytes), the sort
# order (8) and the columns it writes (at most 8 + 8 + 8 + 8)
SHARD_BYTES_PER_GRAM = 72


@dataclass(frozen=True)
class PartRuns:
    """One hashed part as the writer needs it: its runs and the bases that make its local
    gram and record numbers global."""

    grams: tuple[Run, ...]
    sensitive: tuple[Run, ...]
    first: tuple[Run, ...]
    gram_base: int
    record_base: int
    units: int
    records: int
    units_path: Path
    ids_path: Path
    id_lengths_path: Path


def fingerprint_bits_for(grams: int) -> int:
    """Enough bits that a random artifact gram collides with a stored one about once in 2**24
    queries, before the neighbourhood checks: log2(grams) + 24, 32 to 64."""
    return max(32, min(64, math.ceil(math.log2(max(grams, 2))) + 24))


def shard_bits_for(grams: int, memory: int) -> int:
    """The fewest shards (a power of two, at most 2**PARTITION_BITS) whose grams fit half the
    build memory one shard at a time."""
    per_shard = max(1, memory // (2 * SHARD_BYTES_PER_GRAM))
    wanted = math.ceil(math.log2(max(1, math.ceil(grams / per_shard))))
    return max(0, min(PARTITION_BITS, wanted))


def plan_layout(params: IndexParams, grams: int, units: int, records: int,
                longest_unit: int, memory: int) -> Layout:
    """The widths of every column for these counts, each checked (or widened) here."""
    shard_bits = shard_bits_for(grams, memory)
    return Layout(
        shard_bits=shard_bits, check_bytes=check_bytes(params),
        gram_bytes=max(1, math.ceil(math.log2(max(grams, 2)) / 8)),
        table_dtype="<u4" if max(records, longest_unit) < 1 << 32 else "<u8",
        gram_bitmap_bits=bitmap_bits_for(grams), first_bitmap_bits=0, shard_grams=())


def residual_width(shift: int) -> int:
    """Bytes of a shard's fingerprint rows: the bits below the directory's bucket."""
    return max(1, math.ceil(shift / 8))


def to_rows(values: U64, width: int) -> np.ndarray:
    """Values as rows of their `width` low little-endian bytes."""
    return np.ascontiguousarray(values.astype("<u8").view(np.uint8).reshape(-1, 8)[:, :width])


def _low_bits(bits: int) -> np.uint64:
    return np.uint64(ALL_BITS if bits >= 64 else (1 << bits) - 1)


def write_shard(folder: Path, number: int, params: IndexParams, layout: Layout,
                runs: Sequence[tuple[Run, int, int]]) -> int:
    """Sort one shard's grams (every part's rows for its partitions) and write its columns;
    returns how many grams it holds. The order depends only on the grams, so any split of
    the sources into parts and runs writes the same bytes."""
    span = PARTITIONS >> layout.shard_bits
    rows = read_partitions(list(runs), number * span, (number + 1) * span, GRAM_ROW)
    rows = rows[np.lexsort((rows["gram"], rows["fingerprint"]))]
    residual_bits = params.fingerprint_bits - layout.shard_bits
    top = rows["fingerprint"] >> np.uint64(64 - params.fingerprint_bits)
    residual = top & _low_bits(residual_bits)
    shift = directory_shift(rows.shape[0], residual_bits)
    # the bits from `shift` up are the directory's bucket: only those below it are stored
    np.save(folder / shard_file(number, "fingerprints"),
            to_rows(residual & _low_bits(shift), residual_width(shift)), allow_pickle=False)
    np.save(folder / shard_file(number, "directory"),
            make_directory(residual >> np.uint64(shift), shift, residual_bits),
            allow_pickle=False)
    np.save(folder / shard_file(number, "checks"), to_rows(rows["checks"], layout.check_bytes),
            allow_pickle=False)
    np.save(folder / shard_file(number, "grams"), to_rows(rows["gram"], layout.gram_bytes),
            allow_pickle=False)
    return int(rows.shape[0])


def _output(path: Path, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    """A new .npy file of zeros to fill in place (an empty one is written whole)."""
    if 0 in shape:
        np.save(path, np.zeros(shape, dtype=dtype), allow_pickle=False)
        return np.zeros(shape, dtype=dtype)
    return open_memmap(path, mode="w+", dtype=dtype, shape=shape)


def write_gram_bitmap(folder: Path, params: IndexParams, layout: Layout,
                      kernels: Kernels = KERNELS) -> None:
    """The scan's bitmap of every stored fingerprint, read back shard by shard, for an index
    too large to make it when it is opened."""
    if not bitmap_stored(layout.gram_bitmap_bits):
        return
    bitmap = _output(folder / "gram_bitmap.npy", "u1", (1 << (layout.gram_bitmap_bits - 3),))
    fill_gram_bitmap(bitmap, params, layout, open_shards(folder, params, layout), kernels)
    if isinstance(bitmap, np.memmap):
        bitmap.flush()


def write_tables(folder: Path, parts: Sequence[PartRuns], params: IndexParams,
                 layout: Layout) -> None:
    """The unit table (record, tokens) with the number of each unit's first gram, tokens per
    record, and the record id table, each part's local numbers made global."""
    units = sum(p.units for p in parts)
    records = sum(p.records for p in parts)
    table = _output(folder / "units.npy", layout.table_dtype, (units, 2))
    first_gram = _output(folder / "unit_first_gram.npy", "<u8", (units + 1,))
    lengths = _output(folder / "record_length.npy", "<u8", (records,))
    at = grams = 0
    for part in parts:
        raw = np.fromfile(part.units_path, dtype="<u8").reshape(-1, 2) if part.units else \
            np.zeros((0, 2), dtype="<u8")
        for start in range(0, raw.shape[0], CHUNK_ROWS):
            chunk = raw[start: start + CHUNK_ROWS]
            owners = chunk[:, 0] + np.uint64(part.record_base)
            table[at: at + chunk.shape[0], 0] = owners
            table[at: at + chunk.shape[0], 1] = chunk[:, 1]
            # a unit of n tokens has its grams at 0, stride, ... up to n - gram_words
            sampled = np.where(chunk[:, 1] >= params.gram_words,
                               (chunk[:, 1].astype(np.int64) - params.gram_words)
                               // params.stride + 1, 0)
            first_gram[at + 1: at + 1 + chunk.shape[0]] = np.cumsum(sampled) + grams
            grams += int(sampled.sum())
            at += chunk.shape[0]
            low = int(owners.min())
            summed = np.bincount((owners - np.uint64(low)).astype(np.int64),
                                 weights=chunk[:, 1].astype(np.float64)).astype(np.uint64)
            lengths[low: low + summed.shape[0]] += summed
    offsets = _output(folder / "record_offsets.npy", "<u8", (records + 1,))
    blob_size = sum(p.ids_path.stat().st_size for p in parts)
    blob = _output(folder / "records.bin.npy", "u1", (blob_size,))
    record = byte = 0
    for part in parts:
        id_lengths = np.fromfile(part.id_lengths_path, dtype="<u8")
        offsets[record + 1: record + 1 + id_lengths.shape[0]] = np.cumsum(id_lengths) + \
            np.uint64(byte)
        record += id_lengths.shape[0]
        with part.ids_path.open("rb") as ids:
            while chunk_bytes := ids.read(CHUNK_ROWS * 16):
                blob[byte: byte + len(chunk_bytes)] = np.frombuffer(chunk_bytes, dtype=np.uint8)
                byte += len(chunk_bytes)
    for array in (table, first_gram, lengths, offsets, blob):
        if isinstance(array, np.memmap):
            array.flush()


def run_list(parts: Sequence[PartRuns], name: str) -> list[tuple[Run, int, int]]:
    """The runs of one kind (`grams`, `sensitive`, `first`) of every part, with the bases
    that make their numbers global."""
    return [(run, p.gram_base, p.record_base) for p in parts for run in getattr(p, name)]


def _partition_counts(runs: Sequence[tuple[Run, int, int]]) -> np.ndarray:
    """Rows in each partition, over all the runs."""
    return sum((np.diff(run.starts) for run, _, _ in runs), np.zeros(PARTITIONS, np.int64))


def write_sensitive(folder: Path, parts: Sequence[PartRuns], layout: Layout, memory: int,
                    kernels: Kernels = KERNELS) -> tuple[int, int]:
    """The sorted sensitive values with their (record, tokens), and the sorted distinct
    first-token bits with their bitmap, a range of partitions at a time; returns how many
    values there are and the bits of the first-token bitmap."""
    runs = run_list(parts, "sensitive")
    counts = _partition_counts(runs)
    total = int(counts.sum())
    values = _output(folder / "sensitive.npy", "<u8", (total,))
    table = _output(folder / "sensitive_units.npy", layout.table_dtype, (total, 2))
    shift = directory_shift(total, 64)
    buckets = np.zeros(1 << (64 - shift), dtype=np.int64)
    tokens: set[int] = set()
    at = 0
    limit = max(1, memory // (4 * SENSITIVE_ROW.itemsize))
    for first, end in partition_groups(counts, limit):
        rows = read_partitions(runs, first, end, SENSITIVE_ROW)
        rows = rows[np.lexsort((rows["tokens"], rows["record"], rows["value"]))]
        values[at: at + rows.shape[0]] = rows["value"]
        table[at: at + rows.shape[0], 0] = rows["record"]
        table[at: at + rows.shape[0], 1] = rows["tokens"]
        buckets += directory_counts(rows["value"] >> np.uint64(shift), buckets.shape[0])
        tokens |= set(np.unique(rows["tokens"]).tolist())
        at += rows.shape[0]
    np.save(folder / "sensitive_directory.npy", directory_of(buckets), allow_pickle=False)
    np.save(folder / "sensitive_lengths.npy", np.array(sorted(tokens), dtype="<u8"),
            allow_pickle=False)
    for array in (values, table):
        if isinstance(array, np.memmap):
            array.flush()
    return total, _write_first(folder, parts, memory, kernels)


def _write_first(folder: Path, parts: Sequence[PartRuns], memory: int, kernels: Kernels
                 ) -> int:
    runs = run_list(parts, "first")
    counts = _partition_counts(runs)
    limit = max(1, memory // (4 * FIRST_ROW.itemsize))
    distinct = [np.unique(read_partitions(runs, first, end, FIRST_ROW)["value"]
                          >> np.uint64(32))
                for first, end in partition_groups(counts, limit)]
    # distinct first tokens are at most 2**32; their table is small beside the grams'
    values = np.concatenate(distinct) if distinct else np.zeros(0, dtype=np.uint64)
    np.save(folder / "sensitive_first.npy", values.astype("<u8"), allow_pickle=False)
    shift = directory_shift(values.shape[0], 32)
    np.save(folder / "first_directory.npy", make_directory(values >> np.uint64(shift), shift, 32),
            allow_pickle=False)
    bits = bitmap_bits_for(values.shape[0])
    if bitmap_stored(bits):
        np.save(folder / "first_bitmap.npy", value_bitmap(values, bits, kernels),
                allow_pickle=False)
    return bits
