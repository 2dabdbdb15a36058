"""TensorFlow checkpoints (tensor bundles) read as the format they are: the index, a leveldb
table of tensor names and entries, gives its names as text; a data shard gives its string and
integer tensors as text and skips float payloads, like safetensors."""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from release.extract import (
    MAX_STRUCTURED_BYTES,
    MAX_TENSOR_BYTES,
    Context,
    Extracted,
    Problem,
    Segment,
    Sniffed,
    extractor,
)
from release.extract.safetensors import tensor_text, whole_elements
from release.extract.stream import trailing
from release.extract.wire import fields, varint
from release.regular import NotRegular, open_regular

FOOTER_BYTES = 48
MAX_BLOCKS = 1 << 20
DT_STRING = 7
INTEGER_DTYPES = {3: "I32", 4: "U8", 5: "I16", 6: "I8", 9: "I64", 17: "U16", 22: "U32",
                  23: "U64"}
SHARD_NAME = re.compile(r"^(?P<prefix>.*)\.data-(?P<shard>\d{5})-of-\d{5}$")


@dataclass(frozen=True)
class BundleEntry:
    name: str
    dtype: int
    shard: int
    offset: int
    size: int


def _block(handle: IO[bytes], size: int, offset: int, length: int) -> list[tuple[bytes, bytes]]:
    """The (key, value) entries of one uncompressed table block."""
    if offset < 0 or length < 4 or offset + length + 5 > size:
        raise ValueError("block out of the file")
    handle.seek(offset)
    data = handle.read(length + 5)
    if data[length] != 0:
        raise ValueError("compressed block")
    (restarts,) = struct.unpack("<I", data[length - 4: length])
    end = length - 4 * (restarts + 1)
    if end < 0:
        raise ValueError("bad restarts")
    entries: list[tuple[bytes, bytes]] = []
    key = b""
    position = 0
    while position < end:
        shared, position = varint(data, position)
        unshared, position = varint(data, position)
        value_length, position = varint(data, position)
        if shared > len(key) or position + unshared + value_length > end:
            raise ValueError("bad entry")
        key = key[:shared] + data[position: position + unshared]
        position += unshared
        entries.append((key, data[position: position + value_length]))
        position += value_length
    return entries


def read_index(handle: IO[bytes], size: int) -> list[BundleEntry]:
    """Every tensor entry of a tensor-bundle index (the header entry, keyed "", left out)."""
    if size < FOOTER_BYTES or size > MAX_STRUCTURED_BYTES:
        raise ValueError("not an index of a readable size")
    handle.seek(size - FOOTER_BYTES)
    footer = handle.read(FOOTER_BYTES)
    _, position = varint(footer, 0)
    _, position = varint(footer, position)
    index_offset, position = varint(footer, position)
    index_length, _ = varint(footer, position)
    blocks = _block(handle, size, index_offset, index_length)
    if len(blocks) > MAX_BLOCKS:
        raise ValueError("too many blocks")
    entries = []
    read = 0
    for _, handle_bytes in blocks:
        offset, position = varint(handle_bytes, 0)
        length, _ = varint(handle_bytes, position)
        read += length
        if read > size:  # blocks read more than once: a hostile index
            raise ValueError("index blocks overlap")
        for key, value in _block(handle, size, offset, length):
            if not key:
                continue
            values = dict(fields(value))
            entries.append(BundleEntry(key.decode("utf-8", "replace"),
                                       int(values.get(1, 0)), int(values.get(3, 0)),
                                       int(values.get(4, 0)), int(values.get(5, 0))))
    return entries


@extractor("tf-bundle-index")
def _index(handle: IO[bytes], size: int, context: Context, sniffed: Sniffed
           ) -> Iterator[Extracted]:
    try:
        entries = read_index(handle, size)
    except (ValueError, KeyError, TypeError):
        yield Problem("TensorFlow checkpoint index could not be read", context.member)
        return
    for position, entry in enumerate(entries):
        yield Segment(entry.name, context.at(f"tf-index:key[{position}]"))


def _sibling_index(source: Path) -> list[BundleEntry] | None:
    match = SHARD_NAME.match(source.name)
    if match is None:
        return None
    index = source.with_name(match["prefix"] + ".index")
    try:
        with open_regular(index) as handle:
            return read_index(handle, index.stat().st_size)
    except (OSError, NotRegular, ValueError, KeyError, TypeError):
        return None


@extractor("tf-bundle-data")
def _data(handle: IO[bytes], size: int, context: Context, sniffed: Sniffed
          ) -> Iterator[Extracted]:
    """A data shard, read through the index next to it: strings and integers as text, floats
    skipped; bytes no entry covers are said."""
    entries = _sibling_index(context.source) if context.source is not None else None
    match = SHARD_NAME.match(context.name)
    if entries is None or match is None:
        yield Problem("TensorFlow checkpoint shard cannot be read without its .index file "
                      "next to it", context.member)
        return
    shard = int(match["shard"])
    mine = sorted((e for e in entries if e.shard == shard), key=lambda e: e.offset)
    covered = 0
    for position, entry in enumerate(mine):
        if entry.offset < covered or entry.offset + entry.size > size:
            yield Problem("TensorFlow checkpoint entries overlap or pass the shard's end",
                          context.member)
            return
        if entry.offset > covered:
            yield Problem(f"{entry.offset - covered} bytes at {covered} are no tensor's",
                          context.member)
        covered = entry.offset + entry.size
        label = context.at(f"tf-tensor[{position}]")
        if entry.dtype != DT_STRING and entry.dtype not in INTEGER_DTYPES:
            continue
        if entry.size > MAX_TENSOR_BYTES:
            yield Problem(f"tensor of {entry.size} bytes is over the scan limit", label)
            continue
        handle.seek(entry.offset)
        raw = handle.read(entry.size)
        if entry.dtype == DT_STRING:
            yield Segment(raw.decode("utf-8", "replace"), label)
        else:
            dtype = INTEGER_DTYPES[entry.dtype]
            yield from tensor_text(whole_elements(raw, dtype), dtype, label)
    if covered < size:
        yield from trailing(handle, covered, size, context, "checkpoint tensors")
