"""One TOML table of `release.toml` being read: typed getters whose errors name the file and
the dotted key, and an error for every key nobody read (a typo must not disable a check)."""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from release.errors import ConfigError

REQUIRED: Any = object()
PLACEHOLDER_REQUIRED = "is still the placeholder `release init` wrote (TODO); set it"
MAX_TEXT = 100_000  # characters of one string value
MAX_LIST = 10_000  # entries of one list
MAX_PATH = 4000  # characters of a path (PATH_MAX is 4096 bytes)
MAX_NAME = 255  # bytes of one path component (NAME_MAX)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Table:
    """One TOML table being read: typed getters, and an error for every key nobody read."""

    def __init__(self, file: Path, dotted: str, data: dict[str, Any],
                 placeholders: frozenset[str] = frozenset()) -> None:
        self.file = file
        self.dotted = dotted
        self.data = data
        self.seen: set[str] = set()
        self.placeholders = placeholders  # dotted keys whose "TODO" value was taken out

    def key(self, name: str) -> str:
        return f"{self.dotted}.{name}" if self.dotted else name

    def error(self, name: str | None, message: str) -> ConfigError:
        return ConfigError(self.file, self.key(name) if name else self.dotted or None, message)

    def _get(self, name: str, default: Any, check: Callable[[Any], bool], want: str) -> Any:
        self.seen.add(name)
        if name not in self.data:
            if default is REQUIRED and self.key(name) in self.placeholders:
                raise self.error(name, PLACEHOLDER_REQUIRED)
            if default is REQUIRED:
                raise self.error(name, "is required")
            return default
        value = self.data[name]
        if not check(value):
            raise self.error(name, f"expected {want}, got {type_name(value)}")
        return value

    def text(self, name: str, default: Any = REQUIRED, *, nonempty: bool = True,
             max_length: int = MAX_TEXT, single_line: bool = False) -> Any:
        """A string: not empty (unless allowed), at most `max_length` characters, without
        control characters (but line breaks and tabs in free text)."""
        value = self._get(name, default, lambda v: isinstance(v, str), "a string")
        if not isinstance(value, str):
            return value
        if nonempty and not value.strip():
            raise self.error(name, "must not be empty")
        if len(value) > max_length:
            raise self.error(name, f"is {len(value)} characters long; at most {max_length}")
        if (_CONTROL if single_line else _CONTROL_BUT_LINES).search(value):
            raise self.error(name, "must not hold control characters"
                             + ("" if single_line else " (other than line breaks and tabs)"))
        return value

    def flag(self, name: str, default: Any = REQUIRED) -> Any:
        return self._get(name, default, lambda v: isinstance(v, bool), "true or false")

    def integer(self, name: str, default: Any = REQUIRED, *, minimum: int | None = None,
                maximum: int | None = None) -> Any:
        value = self._get(
            name, default, lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"
        )
        if not isinstance(value, int):
            return value
        if minimum is not None and value < minimum:
            raise self.error(name, f"must be at least {minimum}" + (
                f" and at most {maximum}" if maximum is not None else "") + f", got {value}")
        if maximum is not None and value > maximum:
            raise self.error(name, f"must be at most {maximum}" + (
                f" and at least {minimum}" if minimum is not None else "") + f", got {value}")
        return value

    def number(self, name: str, default: Any = REQUIRED, *, minimum: float | None = None,
               maximum: float | None = None) -> Any:
        """A finite number (nan and inf are errors), within the bounds when given."""
        value = self._get(
            name,
            default,
            lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            "a number",
        )
        if value is None:
            return None
        if not math.isfinite(value):
            raise self.error(name, f"must be a finite number, got {value}")
        if minimum is not None and value < minimum:
            raise self.error(name, f"must be at least {minimum:g}, got {value:g}")
        if maximum is not None and value > maximum:
            raise self.error(name, f"must be at most {maximum:g}, got {value:g}")
        return float(value)

    def day(self, name: str, default: Any = REQUIRED) -> Any:
        return self._get(
            name,
            default,
            lambda v: isinstance(v, dt.date) and not isinstance(v, dt.datetime),
            "a date (YYYY-MM-DD, unquoted)",
        )

    def strings(self, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self._get(
            name,
            default,
            lambda v: isinstance(v, list | tuple) and all(isinstance(i, str) for i in v),
            "a list of strings",
        )
        if len(value) > MAX_LIST:
            raise self.error(name, f"has {len(value)} entries; at most {MAX_LIST}")
        for item in value:
            if len(item) > MAX_TEXT or _CONTROL.search(item):
                raise self.error(name, "holds an entry that is too long or has control "
                                       "characters")
        return tuple(value)

    def choice(self, name: str, choices: tuple[str, ...], default: Any = REQUIRED) -> Any:
        value = self.text(name, default)
        if value is not None and value not in choices:
            raise self.error(name, f"must be one of {', '.join(choices)}; got {value[:40]!r}")
        return value

    def path(self, name: str, default: Any = REQUIRED) -> Any:
        """A path relative to the config file (or absolute), that the file system can hold."""
        value = self.text(name, default, max_length=MAX_PATH, single_line=True)
        if value is None or isinstance(value, Path):
            return value
        if any(len(os.fsencode(part)) > MAX_NAME for part in Path(value).parts):
            raise self.error(name, f"has a name longer than {MAX_NAME} bytes")
        # normalised (no "..", no "//"), so that paths compare as the folders they name
        return Path(os.path.normpath((self.file.parent / Path(value).expanduser()).absolute()))

    def path_list(self, name: str) -> list[Path]:
        """A list of paths, each as `path` gives it."""
        return [Path(os.path.normpath((self.file.parent / Path(item).expanduser()).absolute()))
                for item in self.strings(name)]

    def location(self, name: str) -> Any:
        """A path as `path` gives it, or an fsspec URL (s3://, hf://, memory://) of a file
        or folder elsewhere; a file:// URL is the local path it names."""
        from urllib.parse import unquote, urlsplit

        from release.remote import RemotePath, url_scheme

        value = self.text(name, max_length=MAX_PATH, single_line=True)
        scheme = url_scheme(value)
        if scheme is None:
            return self.path(name)
        if scheme == "file":
            parts = urlsplit(value)
            if parts.netloc not in ("", "localhost"):
                raise self.error(name, "names a file on another host; mount it and give its path")
            return Path(os.path.normpath(unquote(parts.path)))
        return RemotePath(value)

    def table(self, name: str, *, required: bool = False) -> Table | None:
        self.seen.add(name)
        if name not in self.data:
            if required:
                raise self.error(name, "section is required")
            return None
        value = self.data[name]
        if not isinstance(value, dict):
            raise self.error(name, f"expected a table, got {type_name(value)}")
        return Table(self.file, self.key(name), value, self.placeholders)

    def tables(self, name: str) -> list[Table]:
        self.seen.add(name)
        value = self.data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(name, f"expected an array of tables ([[{self.key(name)}]])")
        return [Table(self.file, f"{self.key(name)}[{i}]", v, self.placeholders)
                for i, v in enumerate(value)]

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            where = self.key(unknown[0])
            raise ConfigError(self.file, where,
                              "unknown key (a typo would silently disable a check)")


def type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dt.datetime):
        return "a date-time"
    if isinstance(value, dt.date):
        return "a date"
    return type(value).__name__
