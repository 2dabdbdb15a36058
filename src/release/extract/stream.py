"""Reads a stream in the format its bytes (then its name) say, through the EXTRACTORS table,
and recurses into the members of containers within the file's budget."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from release.extract import (
    EXTRACTORS,
    MAX_DEPTH,
    MAX_STRUCTURED_BYTES,
    BombError,
    Context,
    Extracted,
    Extractor,
    Hazard,
    Problem,
    Sniffed,
)
from release.extract.sniff import HEAD_BYTES, TAIL_BYTES, extraction_format

READ_CHUNK = 1 << 20


def read_whole(handle: IO[bytes], size: int) -> bytes | None:
    """The whole stream, or None over the parse limit."""
    if size > MAX_STRUCTURED_BYTES:
        return None
    handle.seek(0)
    return handle.read()


def read_limited(handle: IO[bytes], context: Context) -> bytes:
    """Decompressed bytes of a member, charged to the file's budget as they are read."""
    parts = []
    while chunk := handle.read(READ_CHUNK):
        context.budget.spend(len(chunk))
        parts.append(chunk)
    return b"".join(parts)


def whole(reader: Callable[[bytes, Context], Iterable[Extracted]], what: str = "",
          over_limit: str = "") -> Extractor:
    """An extractor that parses the whole file in memory with `reader`; over the parse limit,
    a Problem (`over_limit`, or "WHAT data over N MiB is not parsed")."""

    def extract_whole(handle: IO[bytes], size: int, context: Context, sniffed: Sniffed
                      ) -> Iterator[Extracted]:
        data = read_whole(handle, size)
        if data is None:
            limit = MAX_STRUCTURED_BYTES >> 20
            yield Problem(over_limit or f"{what or sniffed.format} data over {limit} MiB is not "
                          "parsed", context.member)
            return
        yield from reader(data, context)

    return extract_whole


def extract_path(path: Path, context: Context) -> Iterator[Extracted]:
    with path.open("rb") as handle:
        size = path.stat().st_size
        yield from extract_stream(handle, size, context)


def _head_and_tail(handle: IO[bytes], size: int) -> tuple[bytes, bytes]:
    handle.seek(0)
    head = handle.read(HEAD_BYTES)
    if size > TAIL_BYTES:
        handle.seek(size - TAIL_BYTES)
        tail = handle.read(TAIL_BYTES)
    else:
        tail = head[-TAIL_BYTES:]
    handle.seek(0)
    return head, tail


def extract_stream(handle: IO[bytes], size: int, context: Context) -> Iterator[Extracted]:
    """Every segment of a seekable stream of `size` bytes."""
    if size == 0:
        return
    head, tail = _head_and_tail(handle, size)
    context.tokenizer = context.tokenizer or context.kind == "tokenizer"
    sniffed = Sniffed(extraction_format(head, tail, context.name, size), head, tail)
    yield from EXTRACTORS.get(sniffed.format)(handle, size, context, sniffed)


class Window(io.RawIOBase):
    """A read-only, seekable view of `length` bytes of `handle` from `start` (trailing data
    read as a stream of its own without copying it)."""

    def __init__(self, handle: IO[bytes], start: int, length: int) -> None:
        super().__init__()
        self.handle, self.start, self.length, self.position = handle, start, length, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.position, 2: self.length}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer: Any) -> int:
        count = min(len(buffer), self.length - self.position)
        if count <= 0:
            return 0
        self.handle.seek(self.start + self.position)
        data = self.handle.read(count)
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)


def trailing(handle: IO[bytes], offset: int, size: int, context: Context, after: str,
             *, before: bool = False) -> Iterator[Extracted]:
    """Bytes [offset, size) outside a format (after a zip's directory, a pickle's STOP, a
    safetensors payload; or, with `before`, ahead of a zip's first member): a Hazard of their
    own, then read as whatever they are."""
    yield Hazard("trailing-data", after, context.member, offset=offset, length=size - offset)
    where = "before" if before else "after"
    child = context.child(f"trailing@{offset}", f"(bytes {where} the {after} at {offset})")
    if child.depth > MAX_DEPTH:
        raise BombError(f"archives nested more than {MAX_DEPTH} deep")
    view = io.BufferedReader(Window(handle, offset, size - offset))
    yield from extract_stream(view, size - offset, child)


def nested(data: bytes, name: str, member: str, context: Context) -> Iterator[Extracted]:
    """The segments of a container's member, one level deeper."""
    child = context.child(name, member)
    if child.depth > MAX_DEPTH:
        raise BombError(f"archives nested more than {MAX_DEPTH} deep")
    yield from extract_stream(io.BytesIO(data), len(data), child)
