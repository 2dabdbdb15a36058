"""Containers read member by member within the file's budget: zip, tar, and gzip, bzip2, xz and
zstd single files (a compressed tar is read as a tar)."""

from __future__ import annotations

import bz2
import io
import lzma
import re
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import IO, Any, cast

import py7zr
import py7zr.exceptions
import py7zr.io
import zstandard

from release.extract import (
    MAX_DEPTH,
    MAX_MEMBERS,
    MAX_TENSOR_BYTES,
    BombError,
    Context,
    Extracted,
    Hazard,
    Problem,
    Sniffed,
    extractor,
)
from release.extract.pickles import NotAPickle, PickleWalk, walk_pickle
from release.extract.safetensors import tensor_text, whole_elements
from release.extract.stream import extract_stream, nested, read_limited, trailing
from release.pipeline.kinds import lower_suffix

COMPRESSED_SUFFIXES = frozenset({".gz", ".bz2", ".xz", ".zst", ".zstd", ".tgz", ".tbz2", ".txz"})


EOCD = b"PK\x05\x06"
EOCD_SEARCH = (1 << 16) + 22  # the end record and the longest comment
TORCH_STORAGE = re.compile(r"^(?P<prefix>(?:.*/)?)data/(?P<key>[^/]+)$")
TORCH_TEXT_STORAGES = {"torch.ByteStorage": "U8", "torch.CharStorage": "I8",
                       "torch.ShortStorage": "I16", "torch.IntStorage": "I32",
                       "torch.LongStorage": "I64"}


def zip_end(handle: IO[bytes], size: int) -> int | None:
    """The offset just after a zip's end-of-central-directory record and its comment (the
    last record that fits); None when there is none."""
    start = max(0, size - EOCD_SEARCH)
    handle.seek(start)
    window = handle.read(size - start)
    found = window.rfind(EOCD)
    while found >= 0:
        if found + 22 <= len(window):
            (comment,) = struct.unpack("<H", window[found + 20: found + 22])
            if found + 22 + comment <= len(window):
                return int(start + found + 22 + comment)
        found = window.rfind(EOCD, 0, found)
    return None


def _torch_storages(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], context: Context
                    ) -> tuple[dict[str, str], dict[str, bytes]]:
    """For a torch zip checkpoint: each storage member's type, from walking its data.pkl (the
    storages themselves are payload, like tensors, and are not read unless they are
    integers); and the data.pkl members as read, so they are not read (and charged to the
    budget) again."""
    kinds: dict[str, str] = {}
    read: dict[str, bytes] = {}
    for info in infos:
        if info.filename.rsplit("/", 1)[-1] != "data.pkl" or info.flag_bits & 1:
            continue
        prefix = info.filename[: -len("data.pkl")]
        walk = PickleWalk(start=0)
        try:
            with archive.open(info) as member:
                data = read_limited(member, context)
        except (RuntimeError, zipfile.BadZipFile, zlib.error, EOFError):
            continue  # said when the member is read as a member
        read[info.filename] = data
        try:
            for _ in walk_pickle(io.BytesIO(data), walk, probe=True):
                pass
        except NotAPickle:
            continue
        kinds.update({f"{prefix}data/{key}": kind for key, kind in walk.storages.items()})
    return kinds, read


def _storage(archive: zipfile.ZipFile, info: zipfile.ZipInfo, kind: str, label: str,
             context: Context) -> Iterator[Extracted]:
    """A torch storage: integers read as text, other numbers skipped like tensor payloads."""
    dtype = TORCH_TEXT_STORAGES.get(kind)
    if dtype is None:
        return
    if info.file_size > MAX_TENSOR_BYTES:
        yield Problem(f"integer storage of {info.file_size} bytes is over the scan limit",
                      context.at(label) if context.member else label)
        return
    with archive.open(info) as member:
        raw = read_limited(member, context)
    yield from tensor_text(whole_elements(raw, dtype), dtype,
                           context.at(label) if context.member else label)


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
        storages, read = _torch_storages(archive, infos, context)
        for number, info in enumerate(infos):
            label = info.filename if len(info.filename) < 512 else f"#{number}"
            where = context.at(label) if context.member else label
            if info.flag_bits & 1:
                yield Hazard("encrypted", "zip", where)
                continue
            if info.filename in storages:
                yield from _storage(archive, info, storages[info.filename], label, context)
                continue
            data = read.pop(info.filename, None)
            if data is None:
                try:
                    with archive.open(info) as member:
                        data = read_limited(member, context)
                except (RuntimeError, zipfile.BadZipFile, zlib.error, NotImplementedError,
                        EOFError) as exc:
                    yield Problem(f"member could not be read ({type(exc).__name__})", where)
                    continue
            yield from nested(data, info.filename, label, context)
    first = min((i.header_offset for i in archive.infolist()), default=0)
    if first > 0:  # another file ahead of the zip (a polyglot): the zip reader skips it
        yield from trailing(handle, 0, first, context, "zip", before=True)
    end = zip_end(handle, size)
    if end is not None and end < size:
        yield from trailing(handle, end, size, context, "zip")


class _SevenZipMember(py7zr.io.Py7zIO):
    """Where py7zr writes one member: kept in memory, charged to the file's budget."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.buffer = io.BytesIO()

    def write(self, data: bytes | bytearray) -> int:
        self.context.budget.spend(len(data))
        return self.buffer.write(data)

    def read(self, size: int | None = None) -> bytes:
        return self.buffer.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.buffer.seek(offset, whence)

    def flush(self) -> None:
        pass

    def size(self) -> int:
        return len(self.buffer.getbuffer())


class _SevenZipMembers(py7zr.io.WriterFactory):
    def __init__(self, context: Context) -> None:
        self.context = context
        self.members: dict[str, _SevenZipMember] = {}

    def create(self, filename: str) -> py7zr.io.Py7zIO:
        if len(self.members) >= MAX_MEMBERS:
            raise BombError(f"more than {MAX_MEMBERS} members")
        member = _SevenZipMember(self.context)
        self.members[filename] = member
        return member


@extractor("7z")
def _seven_zip(handle: IO[bytes], size: int, context: Context, sniffed: Sniffed
               ) -> Iterator[Extracted]:
    """A 7z archive, member by member; an encrypted one is said to be, not guessed at."""
    handle.seek(0)
    try:
        archive = py7zr.SevenZipFile(handle, mode="r")
    except py7zr.exceptions.PasswordRequired:
        yield Hazard("encrypted", "7z", context.member)
        return
    except (py7zr.exceptions.ArchiveError, OSError, ValueError, EOFError, KeyError):
        yield Problem("7z archive is corrupt", context.member)
        return
    with archive:
        if archive.needs_password():
            yield Hazard("encrypted", "7z", context.member)
            return
        files = [i for i in archive.list() if not i.is_directory]
        if len(files) > MAX_MEMBERS:
            raise BombError(f"more than {MAX_MEMBERS} members")
        declared = sum(i.uncompressed or 0 for i in files)
        context.budget.spend(0)
        if context.budget.expanded + declared > context.budget.limit:
            raise BombError(f"expands past {context.budget.limit >> 20} MiB")
        factory = _SevenZipMembers(context)
        try:
            archive.extractall(factory=factory)
        except BombError:
            raise
        except Exception as exc:  # py7zr raises many types for broken archives
            yield Problem(f"7z archive could not be read to its end ({type(exc).__name__})",
                          context.member)
            return
    for number, (name, member) in enumerate(factory.members.items()):
        label = name if len(name) < 512 else f"#{number}"
        yield from nested(member.buffer.getvalue(), name, label, context)


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
    if compression == "zlib":
        return cast(IO[bytes], io.BufferedReader(_ZlibReader(handle)))
    return cast(IO[bytes], zstandard.ZstdDecompressor().stream_reader(handle))


class _ZlibReader(io.RawIOBase):
    """A raw zlib stream (joblib's compression) read as a stream of its decompressed bytes."""

    def __init__(self, handle: IO[bytes]) -> None:
        super().__init__()
        self.handle = handle
        self.inflater = zlib.decompressobj()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self.inflater.eof:
            source = self.inflater.unconsumed_tail or self.handle.read(1 << 16)
            if not source:
                return 0
            data = self.inflater.decompress(source, len(buffer))
            if data:
                buffer[: len(data)] = data
                return len(data)
        return 0


@extractor("gzip", "bzip2", "xz", "zstd", "zlib")
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

