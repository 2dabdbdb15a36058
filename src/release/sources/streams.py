"""Opens a data source file as a stream, decompressing gzip and zstd on the way."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, cast

import zstandard

from release.remote import SourcePath, open_source_file


def compression(path: SourcePath) -> str | None:
    """How the file is compressed, by its suffix (None: not)."""
    suffix = path.suffix.lower()
    return {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}.get(suffix)


@contextmanager
def open_binary(path: SourcePath) -> Iterator[IO[bytes]]:
    """The file's bytes, transparently decompressed (gzip, zstd), streamed."""
    method = compression(path)
    with open_source_file(path) as raw:
        if method == "gzip":
            with gzip.GzipFile(fileobj=raw) as stream:
                yield cast(IO[bytes], stream)
        elif method == "zstd":
            with zstandard.ZstdDecompressor().stream_reader(raw) as zstream:
                yield cast(IO[bytes], zstream)
        else:
            yield raw


def as_text(stream: IO[bytes]) -> IO[str]:
    """A binary stream read as UTF-8 text (bad bytes replaced, line ends kept)."""
    return io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")


@contextmanager
def open_text(path: SourcePath) -> Iterator[IO[str]]:
    with open_binary(path) as stream:
        yield as_text(stream)
