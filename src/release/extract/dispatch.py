"""Chooses how to read a file (by its bytes first, then its name) and recurses into archives."""

from __future__ import annotations

import bz2
import io
import lzma
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO, cast

import numpy as np
import zstandard

from release.extract import (
    MAX_DEPTH,
    MAX_MEMBERS,
    MAX_STRUCTURED_BYTES,
    BombError,
    Context,
    Extracted,
    Problem,
    Segment,
)
from release.extract.binary import (
    gguf_segments,
    pickle_segments,
    png_segments,
    protobuf_segments,
    safetensors_segments,
    strings_segments,
)
from release.extract.sniff import HEAD_BYTES, TAIL_BYTES, magic_format
from release.extract.structured import (
    json_segments,
    notebook_segments,
    toml_segments,
    walk_strings,
    yaml_segments,
)
from release.extract.text import (
    detect_encoding,
    looks_like_text,
    markup_text,
    stream_text,
    text_segments,
)

READ_CHUNK = 1 << 20
PROTOBUF_SUFFIXES = frozenset({".onnx", ".pb", ".model", ".pbtxt"})
MARKUP_SUFFIXES = frozenset({".html", ".htm", ".xml", ".svg", ".xhtml"})
COMPRESSED_SUFFIXES = frozenset({".gz", ".bz2", ".xz", ".zst", ".zstd", ".tgz", ".tbz2", ".txz"})
STRINGS_FORMATS = frozenset({"sqlite", "tfrecord", "hdf5"})
COLUMNAR_FORMATS = frozenset({"parquet", "arrow", "feather"})


def _suffix(name: str) -> str:
    return PurePosixPath(name.lower()).suffix


def _image(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    return None


def _read_all(handle: IO[bytes], size: int, context: Context) -> bytes | None:
    if size > MAX_STRUCTURED_BYTES:
        return None
    handle.seek(0)
    return handle.read()


def _read_limited(handle: IO[bytes], context: Context) -> bytes:
    """Decompressed bytes of a member, charged to the file's budget as they are read."""
    parts = []
    while chunk := handle.read(READ_CHUNK):
        context.budget.spend(len(chunk))
        parts.append(chunk)
    return b"".join(parts)


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
    magic = magic_format(head, tail)
    context.tokenizer = context.tokenizer or context.kind == "tokenizer"
    if head[257:262] == b"ustar":
        yield from _tar(handle, context, "r:")
    elif magic == "safetensors":
        yield from safetensors_segments(handle, size, context)
    elif magic == "zip":
        yield from _zip(handle, context)
    elif magic in ("gzip", "bzip2", "xz", "zstd"):
        yield from _compressed(handle, magic, context)
    elif magic == "gguf":
        yield from gguf_segments(handle, context)
    elif magic == "pickle" or (magic is None and _suffix(context.name) in (".pkl", ".pickle")):
        yield from _whole(handle, size, context, pickle_segments, "pickle")
    elif magic in COLUMNAR_FORMATS:
        yield from _columnar(handle, size, context)
    elif magic == "npy":
        yield from _npy(handle, size, context)
    elif magic in STRINGS_FORMATS:
        yield from _whole(handle, size, context,
                          lambda data, ctx: strings_segments(data, ctx, magic or "data"), magic)
    elif magic in ("avro", "orc"):
        yield Problem(f"{magic} files may hold compressed text that is not decoded",
                      context.member)
    elif (image := _image(head)) is not None:
        if image == "png":
            yield from _whole(handle, size, context, png_segments, "png")
        else:
            yield from _whole(handle, size, context,
                              lambda data, ctx: strings_segments(data, ctx, image), image)
    elif looks_like_text(head):
        yield from _text(handle, size, context, head)
    elif _suffix(context.name) in PROTOBUF_SUFFIXES:
        yield from _whole(handle, size, context, protobuf_segments, "protobuf")
    else:
        yield Problem("unknown binary format; it cannot be reduced to text", context.member)


Reader = Callable[[bytes, Context], Iterable[Extracted]]


def _whole(handle: IO[bytes], size: int, context: Context, reader: Reader, what: str
           ) -> Iterator[Extracted]:
    data = _read_all(handle, size, context)
    if data is None:
        yield Problem(f"{what} data over {MAX_STRUCTURED_BYTES >> 20} MiB is not parsed",
                      context.member)
        return
    yield from reader(data, context)


def _text(handle: IO[bytes], size: int, context: Context, head: bytes) -> Iterator[Extracted]:
    suffix = _suffix(context.name)
    structured = {".ipynb": notebook_segments, ".json": json_segments,
                  ".yaml": yaml_segments, ".yml": yaml_segments, ".toml": toml_segments}
    if (suffix in structured or suffix in MARKUP_SUFFIXES or suffix == ".jsonl") \
            and size <= MAX_STRUCTURED_BYTES:
        handle.seek(0)
        text = handle.read().decode(detect_encoding(head), errors="replace")
        if suffix in MARKUP_SUFFIXES:
            yield from text_segments(markup_text(text), context)
        elif suffix == ".jsonl":
            yield from _jsonl(text, context)
        else:
            yield from structured[suffix](text, context)
        return
    handle.seek(0)
    if context.tokenizer:
        text = handle.read(MAX_STRUCTURED_BYTES).decode(detect_encoding(head), errors="replace")
        yield from text_segments(text, context)
        return
    yield from stream_text(handle, context, head)


def _jsonl(text: str, context: Context) -> Iterator[Extracted]:
    import json

    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except ValueError:
            yield Segment(line, context.member, number)
            continue
        for path, value in walk_strings(document, f"line{number}"):
            yield Segment(value, context.at(path), number)


def _columnar(handle: IO[bytes], size: int, context: Context) -> Iterator[Extracted]:
    """String columns of a parquet or Arrow file (data files are findings anyway; this tells
    whether they hold training text)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = _read_all(handle, size, context)
    if data is None:
        yield Problem("columnar data over the parse limit", context.member)
        return
    try:
        if data[:4] == b"PAR1":
            table = pq.read_table(io.BytesIO(data))
        else:
            table = pa.ipc.open_file(pa.BufferReader(data)).read_all()
    except (pa.ArrowException, OSError):
        yield Problem("columnar file could not be read", context.member)
        return
    for position, column in enumerate(table.column_names):
        values = table.column(column)
        if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
            for row, value in enumerate(values.to_pylist()):
                if value:
                    yield Segment(value, context.at(f"column[{position}][{row}]"))


def _npy(handle: IO[bytes], size: int, context: Context) -> Iterator[Extracted]:
    data = _read_all(handle, size, context)
    if data is None:
        yield Problem("array over the parse limit", context.member)
        return
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError:
        yield Problem("array holds Python objects (a pickle); it is not loaded", context.member)
        return
    if array.dtype.kind in "US":
        for position, value in enumerate(array.reshape(-1).tolist()):
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
            if text:
                yield Segment(text, context.at(f"npy[{position}]"))
    elif array.dtype.kind in "ui" and array.dtype.itemsize == 1:
        yield Segment(array.tobytes().decode("utf-8", "replace"), context.at("npy"))


def _nested(data: bytes, name: str, member: str, context: Context) -> Iterator[Extracted]:
    child = context.child(name, member)
    if child.depth > MAX_DEPTH:
        raise BombError(f"archives nested more than {MAX_DEPTH} deep")
    yield from extract_stream(io.BytesIO(data), len(data), child)


def _zip(handle: IO[bytes], context: Context) -> Iterator[Extracted]:
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError, ValueError):
        yield Problem("zip archive is corrupt", context.member)
        return
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        if len(infos) > MAX_MEMBERS:
            raise BombError(f"more than {MAX_MEMBERS} members")
        for number, info in enumerate(infos):
            label = info.filename if len(info.filename) < 512 else f"#{number}"
            try:
                with archive.open(info) as member:
                    data = _read_limited(member, context)
            except (RuntimeError, zipfile.BadZipFile, zlib.error, NotImplementedError,
                    EOFError) as exc:
                yield Problem(f"member could not be read ({type(exc).__name__})",
                              context.at(label) if context.member else label)
                continue
            yield from _nested(data, info.filename, label, context)


def _tar(handle: IO[bytes], context: Context, mode: str) -> Iterator[Extracted]:
    try:
        archive = tarfile.open(fileobj=handle, mode=mode)  # type: ignore[call-overload]  # noqa: SIM115
    except (tarfile.TarError, OSError, EOFError, zstandard.ZstdError):
        yield Problem("tar archive is corrupt", context.member)
        return
    count = 0
    with archive:
        try:
            for info in archive:
                count += 1
                if count > MAX_MEMBERS:
                    raise BombError(f"more than {MAX_MEMBERS} members")
                if not info.isfile():
                    continue
                extracted = archive.extractfile(info)
                if extracted is None:
                    continue
                data = _read_limited(extracted, context)
                label = info.name if len(info.name) < 512 else f"#{count}"
                yield from _nested(data, info.name, label, context)
        except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError,
                zstandard.ZstdError) as exc:
            yield Problem(f"tar archive could not be read to its end ({type(exc).__name__})",
                          context.member)


def _decompressor(handle: IO[bytes], compression: str) -> IO[bytes]:
    import gzip

    handle.seek(0)
    if compression == "gzip":
        return cast(IO[bytes], gzip.GzipFile(fileobj=handle))
    if compression == "bzip2":
        return cast(IO[bytes], bz2.BZ2File(handle))
    if compression == "xz":
        return cast(IO[bytes], lzma.LZMAFile(handle))
    return cast(IO[bytes], zstandard.ZstdDecompressor().stream_reader(handle))


def _compressed(handle: IO[bytes], compression: str, context: Context) -> Iterator[Extracted]:
    """A compressed file: a compressed tar is read as a tar, anything else is decompressed
    (within the budget) and read as the file it holds."""
    stream = _decompressor(handle, compression)
    try:
        peek = stream.read(512)
    except (OSError, EOFError, lzma.LZMAError, zstandard.ZstdError):
        yield Problem(f"{compression} data is corrupt", context.member)
        return
    if peek[257:262] == b"ustar":
        yield from _tar(_decompressor(handle, compression), context, "r|")
        return
    try:
        context.budget.spend(len(peek))
        data = peek + _read_limited(stream, context)
    except (OSError, EOFError, lzma.LZMAError, zstandard.ZstdError):
        yield Problem(f"{compression} data is corrupt", context.member)
        return
    inner = context.name
    if _suffix(inner) in COMPRESSED_SUFFIXES:
        inner = inner[: -len(_suffix(inner))]
    if context.depth >= MAX_DEPTH:
        raise BombError(f"compression nested more than {MAX_DEPTH} deep")
    child = context.child(inner, "(decompressed)") if context.member else \
        Context(name=PurePosixPath(inner).name, kind=context.kind, budget=context.budget,
                member=None, depth=context.depth + 1)
    yield from extract_stream(io.BytesIO(data), len(data), child)

