"""The line of each table and key in a TOML file, so findings about a setting can point at it."""

from __future__ import annotations

import re
from collections.abc import Mapping

_HEADER = re.compile(r"\s*(\[\[?)\s*(.+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"\s*((?:[A-Za-z0-9_-]+|\"(?:[^\"\\]|\\.)*\"|'[^']*')"
                  r"(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"(?:[^\"\\]|\\.)*\"|'[^']*'))*)\s*=")
_PART = re.compile(r"[A-Za-z0-9_-]+|\"((?:[^\"\\]|\\.)*)\"|'([^']*)'")


def _dotted(text: str) -> str:
    """`a."b.c".d` as the key path `a.b.c.d` (quoted parts lose their quotes)."""
    parts = []
    for match in _PART.finditer(text):
        parts.append(match.group(1) if match.group(1) is not None else
                     match.group(2) if match.group(2) is not None else match.group(0))
    return ".".join(parts)


class _Value:
    """What is still open at the end of a line of a value: a multi-line string (its
    delimiter) and how many brackets and braces."""

    def __init__(self) -> None:
        self.string: str | None = None
        self.depth = 0

    @property
    def open(self) -> bool:
        return self.string is not None or self.depth > 0

    def read(self, line: str) -> None:
        position = 0
        while position < len(line):
            if self.string is not None:
                end = line.find(self.string, position)
                if end < 0:
                    return
                position, self.string = end + 3, None
                continue
            char = line[position]
            if line.startswith(('"""', "'''"), position):
                self.string = line[position: position + 3]
                position += 3
            elif char in "\"'":
                position = _string_end(line, position)
            elif char == "#":
                return
            else:
                self.depth += (char in "[{") - (char in "]}")
                position += 1


def _string_end(line: str, start: int) -> int:
    """The position after a one-line string that opens at `start`."""
    quote, position = line[start], start + 1
    while position < len(line):
        if quote == '"' and line[position] == "\\":
            position += 2
            continue
        if line[position] == quote:
            return position + 1
        position += 1
    return position


def key_lines(text: str) -> dict[str, int]:
    """Each table (`data`, `data.sources[0]`) and key (`agreement.term_end`) of a TOML
    document, by the 1-based line where it is first written."""
    lines: dict[str, int] = {}
    table, arrays = "", dict[str, int]()
    value = _Value()
    for number, line in enumerate(text.splitlines(), 1):
        if value.open:
            value.read(line)
            continue
        header = _HEADER.match(line)
        if header is not None and not _KEY.match(line):
            name = _dotted(header.group(2))
            lines.setdefault(name, number)
            if header.group(1) == "[[":
                arrays[name] = arrays.get(name, -1) + 1
                name = f"{name}[{arrays[name]}]"
                lines.setdefault(name, number)
            table = name
            continue
        key = _KEY.match(line)
        if key is None:
            continue
        lines.setdefault(f"{table}.{_dotted(key.group(1))}" if table else _dotted(key.group(1)),
                         number)
        value.read(line[key.end():])
    return lines


def key_line(lines: Mapping[str, int], key: str) -> int | None:
    """The line of `key`, or of the nearest table or key above it that is written (a key
    left at its default points at its table); None when none is."""
    while key:
        if key in lines:
            return lines[key]
        key = key.rsplit(".", 1)[0] if "." in key else ""
    return None
