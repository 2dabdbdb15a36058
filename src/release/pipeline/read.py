"""The read stage: each shipped file opened once, never following a link out of the tree,
hashed (or, for the fast scan, only its ends read) and kept as an Artifact for the detectors."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from release import rules
from release.digests import CHUNK, sha256_file
from release.errors import InputError, display_path
from release.extract.sniff import HEAD_BYTES, TAIL_BYTES
from release.findings import Finding
from release.pipeline.inventory import Item
from release.progress import ProgressTask


@dataclass(frozen=True)
class Artifact:
    """A shipped file as read once: its item, size, sha256 (None when a fast scan did not read
    the whole file) and the bytes sniffers look at."""

    item: Item
    size: int
    sha256: str | None
    head: bytes
    tail: bytes

    @property
    def complete(self) -> bool:
        """Whether `head` holds the whole file."""
        return len(self.head) >= self.size


def relative_source(path: Path, root: Path) -> str:
    """`path` relative to `root` when inside it, else absolute; always posix and printable."""
    absolute = path.absolute()
    try:
        return display_path(absolute.relative_to(root.absolute()).as_posix())
    except ValueError:
        return display_path(absolute.as_posix())


def planned_size(item: Item) -> int:
    """The size the progress bar expects to read (0 when it cannot be told)."""
    try:
        return item.source.stat().st_size
    except OSError:
        return 0


def _open_regular(item: Item) -> int:
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not item.source.is_symlink():
        flags |= getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(item.source, flags)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise IsADirectoryError(0, "no longer a regular file")
    return fd


def read_artifact(item: Item, task: ProgressTask, *, full: bool = True) -> Artifact | Finding:
    """Hash the file and keep its head and tail for sniffing, in one pass; without `full`, read
    only the head and tail (a fast scan of a 10 GB weights file costs two small reads)."""
    try:
        fd = _open_regular(item)
    except FileNotFoundError:
        raise InputError("vanished while it was being scanned", path=item.source) from None
    except OSError as exc:
        return Finding(rules.UNREADABLE_FILE, item.path,
                       f"cannot be read ({exc.strerror or 'not a regular file'})")
    if not full:
        return _read_ends(item, fd, task)
    digest = hashlib.sha256()
    head = bytearray()
    tail = b""
    size = 0
    try:
        with os.fdopen(fd, "rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
                if len(head) < HEAD_BYTES:
                    head.extend(chunk[: HEAD_BYTES - len(head)])
                tail = (tail + chunk)[-TAIL_BYTES:]
                size += len(chunk)
                task.advance(len(chunk))
    except OSError as exc:
        return Finding(rules.UNREADABLE_FILE, item.path, f"read failed ({exc.strerror})")
    return Artifact(item=item, size=size, sha256=digest.hexdigest(), head=bytes(head), tail=tail)


def artifact_sha256(artifact: Artifact) -> str:
    """The artifact's sha256, hashing the file now if the fast scan did not."""
    if artifact.sha256 is not None:
        return artifact.sha256
    try:
        return sha256_file(artifact.item.source)
    except FileNotFoundError:
        raise InputError("vanished while it was being scanned", path=artifact.item.source) \
            from None


def _read_ends(item: Item, fd: int, task: ProgressTask) -> Artifact | Finding:
    try:
        size = os.fstat(fd).st_size
        head = os.pread(fd, HEAD_BYTES, 0)
        tail = os.pread(fd, TAIL_BYTES, max(0, size - TAIL_BYTES))
    except OSError as exc:
        return Finding(rules.UNREADABLE_FILE, item.path, f"read failed ({exc.strerror})")
    finally:
        os.close(fd)
    task.advance(size)
    return Artifact(item=item, size=size, sha256=None, head=head, tail=tail)
