"""One run at a time per project: commands that write (prepare, index build, publish, a scan
that builds the index) hold an advisory lock on `.release/release.lock` beside the config.
The operating system drops it when its process dies, so a killed run never leaves it stale."""

from __future__ import annotations

import fcntl
import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from release.errors import UsageError, display_path

LOCK_NAME = "release.lock"
_MARK = b"release lock\n"
_held: dict[Path, int] = {}  # lock file -> how many times this process holds it
_guard = threading.Lock()


def state_folder(project_root: Path) -> Path:
    """Where release keeps its own state beside the config: the lock, scratch clones (and,
    by default, the index and its key)."""
    return project_root / ".release"


def lock_path(project_root: Path) -> Path:
    return state_folder(project_root) / LOCK_NAME


def _holder(fd: int) -> str:
    """Who holds the lock, as its file says (release writes its pid there)."""
    try:
        text = os.pread(fd, 256, 0).decode("ascii", errors="replace")
    except OSError:
        return "another process"
    pid = text.removeprefix(_MARK.decode()).strip()
    return f"process {pid}" if pid.isdigit() else "another process"


@contextmanager
def project_lock(project_root: Path) -> Iterator[None]:
    """Hold the project's lock (again, when this process already does); exit 2 naming the
    holder when another run has it."""
    path = lock_path(project_root).absolute()
    with _guard:
        if path in _held:
            _held[path] += 1
            acquired = None
        else:
            acquired = _acquire(path)
            _held[path] = 1
    try:
        yield
    finally:
        with _guard:
            _held[path] -= 1
            if _held[path] == 0:
                del _held[path]
                if acquired is not None:
                    os.close(acquired)  # closing the file releases the lock


def _acquire(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
                 | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UsageError("is not the lock file release keeps; remove it", path=path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(f"{_holder(fd)} is running release on this project now; wait for "
                             f"it to finish (the lock is {display_path(path)})") from None
        content = os.pread(fd, len(_MARK), 0)
        if content in (b"", _MARK):  # ours (or new): say who holds it now
            os.ftruncate(fd, 0)
            os.pwrite(fd, _MARK + f"{os.getpid()}\n".encode(), 0)
        return fd
    except BaseException:
        os.close(fd)
        raise
