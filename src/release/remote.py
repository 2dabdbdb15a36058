"""Data source files at fsspec URLs (s3://, gs://, abfs://, hf://, memory://), read through the
few path operations the sources use, with the matching fsspec package installed."""

from __future__ import annotations

import hashlib
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, cast

from release.digests import sha256_stream
from release.errors import UsageError
from release.regular import open_regular

_URL = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]+)://")
MAX_FOUND = 100_000  # files listed under one folder URL


def url_scheme(text: str) -> str | None:
    """The scheme of a URL ("s3"), None for a local path (a Windows drive is not a scheme)."""
    found = _URL.match(text)
    return found.group("scheme").lower() if found else None


@dataclass(frozen=True)
class RemoteStat:
    st_size: int
    st_mtime_ns: int  # a version of the file: its time where the store gives one, else a hash
    st_mode: int


@dataclass(frozen=True, order=True)
class RemotePath:
    """A file or folder at an fsspec URL; what a scan may read of a source elsewhere."""

    url: str

    def __str__(self) -> str:
        return self.url

    def _store(self) -> tuple[Any, str]:
        from fsspec.core import url_to_fs

        try:
            return cast(tuple[Any, str], url_to_fs(self.url))
        except (ImportError, ValueError) as exc:
            raise UsageError(f"cannot open {url_scheme(self.url)}:// URLs ({exc}); install the "
                             "fsspec package for it (s3fs, gcsfs, adlfs, huggingface_hub)",
                             path=self.url) from None

    @property
    def name(self) -> str:
        return PurePosixPath(self.url.rstrip("/")).name

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.name).suffix

    @property
    def suffixes(self) -> list[str]:
        return PurePosixPath(self.name).suffixes

    def _info(self) -> dict[str, Any] | None:
        store, path = self._store()
        try:
            return cast(dict[str, Any], store.info(path))
        except FileNotFoundError:
            return None

    def exists(self) -> bool:
        return self._info() is not None

    def is_dir(self) -> bool:
        info = self._info()
        return info is not None and info.get("type") == "directory"

    def is_file(self) -> bool:
        info = self._info()
        return info is not None and info.get("type") == "file"

    def is_symlink(self) -> bool:
        return False

    def stat(self) -> RemoteStat:
        store, path = self._store()
        info = self._info()
        if info is None:
            raise FileNotFoundError(2, "No such file or directory", self.url)
        folder = info.get("type") == "directory"
        version = hashlib.sha256(str(store.ukey(path) if not folder else path).encode())
        return RemoteStat(int(info.get("size") or 0), int(version.hexdigest()[:15], 16),
                          stat.S_IFDIR if folder else stat.S_IFREG)

    def rglob(self, pattern: str) -> Iterator[RemotePath]:
        """The files under this folder whose names match `pattern` ("*.arrow")."""
        store, path = self._store()
        protocol = self.url[: self.url.index("://")]
        found = store.glob(f"{path.rstrip('/')}/**/{pattern}")
        for name in sorted(found)[:MAX_FOUND]:
            yield RemotePath(f"{protocol}://{name}")

    def open_binary(self) -> IO[bytes]:
        store, path = self._store()
        return cast(IO[bytes], store.open(path, "rb"))


SourcePath = Path | RemotePath


def open_source_file(path: SourcePath) -> IO[bytes]:
    """A source's file opened for reading: a regular local file, or a file at a URL."""
    return path.open_binary() if isinstance(path, RemotePath) else open_regular(path)


def sha256_of(path: SourcePath) -> str:
    """The sha256 of a source's file, streamed."""
    with open_source_file(path) as handle:
        return sha256_stream(handle)
