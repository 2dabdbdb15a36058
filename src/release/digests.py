"""Streaming sha256 of files, git blob ids and LFS pointers, and copies checked by digest."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from release.regular import open_regular

CHUNK = 1024 * 1024


def file_chunks(path: Path) -> Iterator[bytes]:
    """The file's bytes in CHUNK-sized pieces, streamed."""
    with open_regular(path) as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def sha256_stream(handle: IO[bytes], on_bytes: Callable[[int], None] | None = None) -> str:
    """The sha256 of what is left to read of an open file, read CHUNK bytes at a time."""
    digest = hashlib.sha256()
    while chunk := handle.read(CHUNK):
        digest.update(chunk)
        if on_bytes is not None:
            on_bytes(len(chunk))
    return digest.hexdigest()


def sha256_file(path: Path, on_bytes: Callable[[int], None] | None = None) -> str:
    with open_regular(path) as handle:
        return sha256_stream(handle, on_bytes)


def git_blob_sha1(path: Path) -> str:
    """The object id git gives the file's bytes as a blob (what `git hash-object` prints)."""
    size = path.stat().st_size
    digest = hashlib.sha1(f"blob {size}\0".encode("ascii"), usedforsecurity=False)
    for chunk in file_chunks(path):
        digest.update(chunk)
    return digest.hexdigest()


def git_blob_sha1_of(data: bytes) -> str:
    header = f"blob {len(data)}\0".encode("ascii")
    return hashlib.sha1(header + data, usedforsecurity=False).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The canonical git-lfs pointer file for an object (spec v1)."""
    return (f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n"
            .encode("ascii"))


def copy_verified(source: Path, destination: Path, sha256: str | None, changed: str,
                  on_bytes: Callable[[int], None] | None = None) -> None:
    """Copy `source` to a new file `destination` (mode 0644), hashing it on the way; an
    IntegrityError with the message `changed` when its bytes are not the ones whose sha256 was
    checked before (the copy is left for the caller's cleanup)."""
    from release.errors import IntegrityError

    digest = hashlib.sha256()
    destination.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    with destination.open("xb") as target:
        for chunk in file_chunks(source):
            digest.update(chunk)
            try:
                target.write(chunk)
            except OSError as exc:  # a full disk: say which file could not be written
                raise OSError(exc.errno, exc.strerror, str(destination)) from None
            if on_bytes is not None:
                on_bytes(len(chunk))
    os.chmod(destination, 0o644)
    if sha256 is None or digest.hexdigest() != sha256:
        raise IntegrityError(changed, path=source)
