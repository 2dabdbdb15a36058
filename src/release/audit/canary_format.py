"""Canary formats ("the account number is {digits:9}"): parsing, matching and drawing candidates."""

from __future__ import annotations

import math
import random
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

ALPHABETS = {
    "digits": string.digits,
    "letters": string.ascii_lowercase,
    "upper": string.ascii_uppercase,
    "hex": "0123456789abcdef",
    "alnum": string.digits + string.ascii_lowercase,
}
MAX_SLOT_LENGTH = 64
_SLOT = re.compile(r"\{([a-z]+):([0-9]+)\}")


class FormatError(ValueError):
    """A canary format that cannot be read; the message says what is wrong, not the format."""


@dataclass(frozen=True)
class Slot:
    alphabet: str
    length: int


@dataclass(frozen=True)
class CanaryFormat:
    """A literal text with random slots; `parts` alternates literal strings and slots."""

    parts: tuple[str | Slot, ...]

    @property
    def slots(self) -> tuple[Slot, ...]:
        return tuple(p for p in self.parts if isinstance(p, Slot))

    @property
    def space_bits(self) -> float:
        """log2 of the number of strings of this format."""
        return sum(s.length * math.log2(len(s.alphabet)) for s in self.slots)

    @property
    def space(self) -> int:
        return math.prod(len(s.alphabet) ** s.length for s in self.slots)

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("".join(
            re.escape(p) if isinstance(p, str) else f"[{re.escape(p.alphabet)}]{{{p.length}}}"
            for p in self.parts))

    def matches(self, text: str) -> bool:
        return self.pattern.fullmatch(text) is not None

    def fill(self, number: int) -> str:
        """The `number`-th string of the format (0 <= number < space), last slot fastest."""
        out: list[str] = []
        for part in reversed(self.parts):
            if isinstance(part, str):
                out.append(part)
                continue
            chars = []
            for _ in range(part.length):
                number, digit = divmod(number, len(part.alphabet))
                chars.append(part.alphabet[digit])
            out.append("".join(reversed(chars)))
        return "".join(reversed(out))

    def every(self) -> Iterator[str]:
        for number in range(self.space):
            yield self.fill(number)

    def draw(self, count: int, seed: int) -> list[str]:
        """`count` strings drawn uniformly (with replacement) with a seeded generator."""
        rng = random.Random(seed)
        return [self.fill(rng.randrange(self.space)) for _ in range(count)]


def parse_format(text: str) -> CanaryFormat:
    """`{digits:9}`, `{letters:N}` (a-z), `{upper:N}`, `{hex:N}`, `{alnum:N}` (0-9a-z) are
    random slots; `{{` and `}}` are literal braces; everything else is literal text."""
    parts: list[str | Slot] = []
    literal: list[str] = []
    position = 0
    while position < len(text):
        if text.startswith(("{{", "}}"), position):
            literal.append(text[position])
            position += 2
            continue
        char = text[position]
        if char == "}":
            raise FormatError(f"a lone '}}' at character {position + 1} (write '}}}}')")
        if char != "{":
            literal.append(char)
            position += 1
            continue
        slot = _SLOT.match(text, position)
        if slot is None:
            raise FormatError(f"a slot at character {position + 1} is not {{KIND:LENGTH}} "
                              f"with KIND one of {', '.join(ALPHABETS)}")
        kind, length = slot.group(1), int(slot.group(2))
        if kind not in ALPHABETS:
            raise FormatError(f"slot kind {kind!r} is not one of {', '.join(ALPHABETS)}")
        if not 1 <= length <= MAX_SLOT_LENGTH:
            raise FormatError(f"a slot length must lie in 1-{MAX_SLOT_LENGTH}, got {length}")
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append(Slot(ALPHABETS[kind], length))
        position = slot.end()
    if literal:
        parts.append("".join(literal))
    result = CanaryFormat(tuple(parts))
    if not result.slots:
        raise FormatError("has no random slot such as {digits:9}, so it has no exposure")
    return result
