"""Rows spilled to sorted runs on disk and read back a key range at a time: the external sort
that keeps an index build's memory bounded whatever the corpus size."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from release.fingerprint.index import PARTITION_BITS

PARTITIONS = 1 << PARTITION_BITS
KEY_SHIFT = np.uint64(64 - PARTITION_BITS)

# a gram: its full keyed hash, its packed check bits, and its number in the order the build
# sampled it (local to the part of the sources that made it until the shard is written),
# which tells its unit and token position
GRAM_ROW = np.dtype([("fingerprint", "<u8"), ("checks", "<u8"), ("gram", "<u8")])
# a sensitive value: its keyed hash, its record (local) and token count
SENSITIVE_ROW = np.dtype([("value", "<u8"), ("record", "<u8"), ("tokens", "<u8")])
# the PRF bits of a sensitive value's first token, in the top 32 bits of the key
FIRST_ROW = np.dtype([("value", "<u8")])


@dataclass(frozen=True)
class Run:
    """One sorted run: its file, and where each partition's rows begin in it."""

    path: Path
    starts: np.ndarray  # PARTITIONS + 1 row numbers


@dataclass
class Spill:
    """Rows of one dtype, sorted by their first field, spilled as runs of at most
    `limit_bytes` (the caller's share of the build memory)."""

    folder: Path
    name: str
    dtype: np.dtype
    limit_bytes: int
    runs: list[Run] = field(default_factory=list)
    rows: int = 0
    _pending: list[np.ndarray] = field(default_factory=list)
    _pending_bytes: int = 0

    def add(self, rows: np.ndarray) -> None:
        if rows.shape[0] == 0:
            return
        self._pending.append(rows)
        self._pending_bytes += rows.nbytes
        self.rows += rows.shape[0]
        if self._pending_bytes >= self.limit_bytes:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        rows = np.concatenate(self._pending)
        self._pending, self._pending_bytes = [], 0
        key_field = (self.dtype.names or ("",))[0]
        rows = rows[np.argsort(rows[key_field], kind="stable")]
        partition = rows[key_field] >> KEY_SHIFT
        starts = np.searchsorted(partition, np.arange(PARTITIONS + 1, dtype=np.uint64))
        path = self.folder / f"{self.name}-{len(self.runs):05d}.npy"
        np.save(path, rows, allow_pickle=False)
        self.runs.append(Run(path, starts.astype(np.int64)))


def read_partitions(runs: list[tuple[Run, int, int]], first: int, end: int,
                    dtype: np.dtype) -> np.ndarray:
    """Every row of partitions [first, end) of the runs, each run's local numbers raised by
    its base; `runs` holds (run, gram base, record base)."""
    parts = []
    for run, gram_base, record_base in runs:
        lo, hi = int(run.starts[first]), int(run.starts[end])
        if hi <= lo:
            continue
        rows = np.array(np.load(run.path, mmap_mode="r", allow_pickle=False)[lo:hi])
        if dtype == GRAM_ROW:
            rows["gram"] += np.uint64(gram_base)
        elif dtype == SENSITIVE_ROW:
            rows["record"] += np.uint64(record_base)
        parts.append(rows)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def partition_groups(counts: np.ndarray, limit_rows: int) -> Iterator[tuple[int, int]]:
    """Consecutive partition ranges [first, end) of at most `limit_rows` rows each (one
    partition larger than that is a range of its own)."""
    first, total = 0, 0
    for number, count in enumerate(counts.tolist()):
        if total and total + count > limit_rows:
            yield first, number
            first, total = number, 0
        total += count
    if first < counts.shape[0]:
        yield first, counts.shape[0]


def part_spills(folder: Path, memory: int) -> tuple[Spill, Spill, Spill]:
    """The spills of one part of a build (grams, sensitive values, first tokens): their
    pending rows, sorted at a flush (about three times their size), stay under half of
    `memory`."""
    return (Spill(folder, "grams", GRAM_ROW, max(1 << 16, memory // 8)),
            Spill(folder, "sensitive", SENSITIVE_ROW, max(1 << 16, memory // 32)),
            Spill(folder, "first", FIRST_ROW, max(1 << 16, memory // 32)))
