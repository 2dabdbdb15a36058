"""The one exception hierarchy of `release`; each error knows its exit code."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from release.remote import RemotePath

EXIT_PASSED = 0
EXIT_GATE_FAILED = 1
EXIT_USAGE = 2
EXIT_TOOL_FAILED = 3


def display_path(path: Path | str | RemotePath) -> str:
    """A printable form of a path (or URL), even when its name is not valid UTF-8."""
    if not isinstance(path, str | os.PathLike):
        return str(path)
    raw = os.fsencode(path)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="backslashreplace")


class ReleaseError(Exception):
    """Base of every error the tool reports to a user instead of a traceback."""

    exit_code = EXIT_TOOL_FAILED

    def __init__(self, message: str, *, path: Path | str | RemotePath | None = None) -> None:
        self.path = path
        self.detail = message
        text = f"{display_path(path)}: {message}" if path is not None else message
        super().__init__(text)


class UsageError(ReleaseError):
    """The command line or an input named on it is wrong (exit 2)."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """`release.toml` (or another config-like file) is malformed; names the file and the key."""

    def __init__(self, path: Path | str | RemotePath, key: str | None, message: str,
                 line: int | None = None) -> None:
        self.key = key
        self.message = message
        self.line = line
        where = f"line {line}: " if line else ""
        super().__init__(f"{where}{key}: {message}" if key else f"{where}{message}", path=path)


class InputError(ReleaseError):
    """An input could not be read or changed while the tool worked (exit 3)."""


class IntegrityError(ReleaseError):
    """Something written or read back did not match what was expected (exit 3)."""


class KernelError(ReleaseError):
    """A hashing kernel was given arrays too small for its result (a bug; exit 3)."""
