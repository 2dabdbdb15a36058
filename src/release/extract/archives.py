"""Containers read member by member within the file's budget: zip, tar, and gzip, bzip2, xz and
zstd single files (a compressed tar is read as a tar)."""

from __future__ import annotations

import bz2
import io
import lzma
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import IO, cast

import zstandard

from release.extract import (
    MAX_DEPTH,
    MAX_MEMBERS,
    BombError,
    Context,
    Extracted,
    Problem,
    Sniffed,
    extractor,
)
from release.extract.stream import extract_stream, nested, read_limited
from release.pipeline.kinds import lower_suffix

COMPRESSED_SUFFIXES = frozenset({".gz", ".bz2", ".xz", ".zst", ".zstd", ".tgz", ".tbz2", ".txz"})


@extractor("zip")
def _zip(handle: IO[bytes], size: int, context: Context, sniffed: Sniffed
         ) -> Iterator[Extracted]:
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
                    data = read_limited(member, context)
            except (RuntimeError, zipfile.BadZipFile, zlib.error, NotImplementedError,
                    EOFError) as exc:
                yield Problem(f"member could not be read ({type(exc).__name__})",
                              context.at(label) if context.member else label)
                continue
            yield from nested(data, info.filename, label, context)


@extractor("tar")
def _plain_tar(handle: IO[bytes], size: int, context: Context, sniffed: Sniffed
               ) -> Iterator[Extracted]:
    yield from _tar(handle, context, "r:")


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
                data = read_limited(extracted, context)
                label = info.name if len(info.name) < 512 else f"#{count}"
                yield from nested(data, info.name, label, context)
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


@extractor("gzip", "bzip2", "xz", "zstd")
def _compressed_file(handle: IO[bytes], size: int, context: Context, sniffed: Sniffed
                     ) -> Iterator[Extracted]:
    yield from _compressed(handle, sniffed.format, context)


def _compressed(handle: IO[bytes], compression: str, context: Context) -> Iterator[Extracted]:
    """A compressed file: a compressed tar is read as a tar, anything else is decompressed
    (within the budget) and read as the file it holds."""
    stream = _decompressor(handle, compression)
    try:
        peek = stream.read(512)
    except (OSError, EOFError, zlib.error, lzma.LZMAError, zstandard.ZstdError):
        yield Problem(f"{compression} data is corrupt", context.member)
        return
    if peek[257:262] == b"ustar":
        yield from _tar(_decompressor(handle, compression), context, "r|")
        return
    try:
        context.budget.spend(len(peek))
        data = peek + read_limited(stream, context)
    except (OSError, EOFError, zlib.error, lzma.LZMAError, zstandard.ZstdError):
        yield Problem(f"{compression} data is corrupt", context.member)
        return
    inner = context.name
    if lower_suffix(inner) in COMPRESSED_SUFFIXES:
        inner = inner[: -len(lower_suffix(inner))]
    if context.depth >= MAX_DEPTH:
        raise BombError(f"compression nested more than {MAX_DEPTH} deep")
    child = context.child(inner, "(decompressed)") if context.member else \
        Context(name=PurePosixPath(inner).name, kind=context.kind, budget=context.budget,
                member=None, depth=context.depth + 1)
    yield from extract_stream(io.BytesIO(data), len(data), child)

