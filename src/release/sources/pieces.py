"""Cuts a data source into pieces that are read alone, in order, by separate tasks: line ranges
of an uncompressed JSON Lines file, row-group ranges of a Parquet file, file ranges of a
`datasets` folder; their records, read one piece after the other, are the source's records."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, cast

from release.config import DataSource
from release.remote import SourcePath, open_source_file
from release.sources.streams import compression

SEEK_CHUNK = 1 << 16


@dataclass(frozen=True)
class Piece:
    """Records of one source: those of lines starting in bytes [start, end) (`unit` "bytes"),
    of row groups [start, end) ("row_groups"), or of Arrow files [start, end) ("files")."""

    unit: str
    start: int
    end: int
    size: int  # bytes, about, for progress and for balancing


def source_pieces(source: DataSource, piece_bytes: int) -> list[Piece | None]:
    """The source in pieces of about `piece_bytes` each; [None] (the whole source read at
    once) for a format or a file that cannot be cut, or one smaller than a piece."""
    from release.sources.arrow import dataset_files

    path = source.path
    if source.format == "jsonl" and compression(path) is None and path.is_file():
        return _line_pieces(path, piece_bytes) or [None]
    if source.format == "parquet" and path.is_file():
        return _row_group_pieces(path, piece_bytes) or [None]
    if source.format == "hf-dataset" and path.is_dir():
        sizes = [file.stat().st_size for file in dataset_files(path)]
        return _grouped(sizes, piece_bytes, "files") or [None]
    return [None]


def _line_pieces(path: SourcePath, piece_bytes: int) -> list[Piece | None]:
    """Byte ranges that each begin at a line's start: a cut every `piece_bytes`, moved on to
    the next line."""
    size = path.stat().st_size
    if size <= piece_bytes:
        return []
    cuts = [0]
    with open_source_file(path) as handle:
        for wanted in range(piece_bytes, size, piece_bytes):
            if wanted <= cuts[-1]:
                continue
            handle.seek(wanted - 1)
            cut = _next_line(handle)
            if cut is None or cut >= size:
                break
            cuts.append(cut)
    cuts.append(size)
    return [Piece("bytes", start, end, end - start) for start, end in itertools.pairwise(cuts)]


def _next_line(handle: IO[bytes]) -> int | None:
    """The offset after the next newline from the handle's position (None: there is none)."""
    while chunk := handle.read(SEEK_CHUNK):
        newline = chunk.find(b"\n")
        if newline >= 0:
            return handle.tell() - len(chunk) + newline + 1
    return None


def _row_group_pieces(path: SourcePath, piece_bytes: int) -> list[Piece | None]:
    import pyarrow as pa

    from release.sources.arrow import parquet_file

    try:
        with parquet_file(path) as parquet:
            metadata = parquet.metadata
    except (pa.ArrowException, OSError):
        return []  # reading it whole reports why
    sizes = [metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups)]
    return _grouped(sizes, piece_bytes, "row_groups")


def _grouped(sizes: list[int], piece_bytes: int, unit: str) -> list[Piece | None]:
    """Consecutive items gathered into pieces of about `piece_bytes` ([] for one piece)."""
    pieces: list[Piece | None] = []
    start, total = 0, 0
    for number, size in enumerate(sizes):
        if total and total + size > piece_bytes:
            pieces.append(Piece(unit, start, number, total))
            start, total = number, 0
        total += size
    if len(pieces) == 0:
        return []
    pieces.append(Piece(unit, start, len(sizes), total))
    return pieces


class _Window(io.RawIOBase):
    """Bytes [start, end) of an open file, read as a file of their own."""

    def __init__(self, raw: IO[bytes], start: int, end: int) -> None:
        raw.seek(start)
        self._raw, self._left = raw, end - start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._left <= 0:
            return 0
        view = memoryview(buffer)[: min(len(buffer), self._left)]
        count = self._raw.readinto(view)  # type: ignore[attr-defined]
        self._left -= count or 0
        return int(count or 0)


@contextmanager
def open_piece(path: SourcePath, piece: Piece) -> Iterator[IO[bytes]]:
    """The bytes of a "bytes" piece of an uncompressed file, as a stream."""
    with open_source_file(path) as raw:
        yield cast(IO[bytes], io.BufferedReader(_Window(raw, piece.start, piece.end)))


def lines_before(path: SourcePath, offset: int) -> int:
    """How many lines of the file end before `offset` (for the line number of an error in a
    piece; read only when there is one)."""
    count, left = 0, offset
    with open_source_file(path) as handle:
        while left > 0 and (chunk := handle.read(min(1 << 20, left))):
            count += chunk.count(b"\n")
            left -= len(chunk)
    return count
