"""Reading only regular files: a FIFO, a device or a socket is refused before anything is read
from it (it would block, or never end), and whole-file reads are bounded."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any, BinaryIO

MAX_SMALL_FILE = 64 << 20  # configs, keys, baselines, manifests, reports, model configs
CHUNK = 1 << 20


class NotRegular(OSError):
    """The path is a FIFO, a device, a socket or a folder, not a regular file."""


def open_regular(path: Path) -> BinaryIO:
    """`path` opened for reading, once it is known to be a regular file (links are followed
    to what they name, which must be regular too). Opening never blocks, even on a FIFO."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            what = ("a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
                    else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                    else "a socket" if stat.S_ISSOCK(mode) else "not a file")
            raise NotRegular(errno.EINVAL, f"not a regular file ({what})", str(path))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_json_object(path: Path, limit: int = MAX_SMALL_FILE) -> dict[str, Any] | None:
    """The JSON object in a small regular file that is not a link, or None: missing,
    unreadable, too large, not JSON, or not an object."""
    if path.is_symlink():
        return None
    try:
        data = json.loads(read_regular(path, limit))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def newest_mtime(folder: Path, *, besides: tuple[str, ...] = ()) -> float:
    """The modification time of the newest file under `folder` (links not followed), the
    top-level files named in `besides` left out."""
    return max((entry.stat(follow_symlinks=False).st_mtime
                for here, _dirs, names in os.walk(folder)
                for entry in (Path(here) / name for name in names)
                if not (entry.parent == folder and entry.name in besides)), default=0.0)


def read_regular(path: Path, limit: int = MAX_SMALL_FILE) -> bytes:
    """The whole of a regular file of at most `limit` bytes."""
    parts, size = [], 0
    with open_regular(path) as handle:
        while size <= limit and (chunk := handle.read(min(CHUNK, limit + 1 - size))):
            parts.append(chunk)
            size += len(chunk)
    if size > limit:
        raise OSError(errno.EFBIG, f"larger than {limit >> 20} MiB", str(path))
    return b"".join(parts)

