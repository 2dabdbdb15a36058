"""Writes that either happen whole or not at all: temporary siblings renamed into place."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from release.errors import InputError, UsageError

PARTIAL_SUFFIX = ".partial"


@dataclass
class PendingFile:
    """A file written in full beside its destination, not yet in place: `commit` renames it
    over the destination, `discard` removes it."""

    temporary: Path
    destination: Path

    def commit(self) -> None:
        os.replace(self.temporary, self.destination)

    def link(self) -> None:
        """Put it in place only if nothing is there yet (FileExistsError otherwise)."""
        try:
            os.link(self.temporary, self.destination)
        finally:
            self.discard()

    def discard(self) -> None:
        self.temporary.unlink(missing_ok=True)


def prepare_file(path: Path, text: str, mode: int = 0o644) -> PendingFile:
    """Write `text` to a hidden sibling of `path`, flushed to disk, to be committed later."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=PARTIAL_SUFFIX, dir=path.parent)
    temporary = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
    except OSError as exc:  # a full disk: say which file could not be written
        temporary.unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return PendingFile(temporary, path)


def write_atomic(path: Path, text: str) -> None:
    prepare_file(path, text).commit()


def append_text(path: Path, text: str) -> None:
    """Append to a log-like file another tool owns (a CI job summary); never truncates it."""
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text if text.endswith("\n") else text + "\n")
    except OSError as exc:
        raise InputError(f"cannot append the summary: {exc.strerror}", path=path) from None


def replace_folder(built: Path, final: Path) -> None:
    """Put the folder `built` in the place of `final`; an older `final` is set aside, then
    removed, and put back if the rename fails. A `final` that is not a folder is refused."""
    old: Path | None = None
    if final.exists() or final.is_symlink():
        if final.is_symlink() or not final.is_dir():
            raise UsageError("exists and is not a folder written by release; remove it",
                             path=final)
        old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
        os.rename(final, old)
    try:
        os.rename(built, final)
    except BaseException:
        if old is not None:
            os.rename(old, final)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def building_folder(final: Path) -> Iterator[Path]:
    """A hidden sibling of `final` to build a folder in; removed if the build fails. The caller
    swaps it into place with `replace_folder` once everything in it is written."""
    final.parent.mkdir(parents=True, exist_ok=True)
    built = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=PARTIAL_SUFFIX,
                                  dir=final.parent))
    os.chmod(built, 0o755)
    try:
        yield built
    except BaseException:
        shutil.rmtree(built, ignore_errors=True)
        raise
