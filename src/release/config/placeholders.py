"""Placeholders `release init` writes ("TODO: …") where only the user knows the value."""

from __future__ import annotations

import re
from typing import Any

PLACEHOLDER = re.compile(r"^\s*TODO\b")
MAX_DEPTH = 32  # TOML tables nest only as deep as the config's sections


def is_placeholder(value: object) -> bool:
    return isinstance(value, str) and PLACEHOLDER.match(value) is not None


def without_placeholders(data: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The parsed TOML with every placeholder removed (a key whose value is one, an entry of a
    list that is one), and the dotted keys that held them, in the order of the file."""
    found: list[str] = []

    def clean(value: Any, key: str, depth: int) -> Any:
        if depth > MAX_DEPTH:
            return value  # the parser reports a config nested this deep
        if isinstance(value, dict):
            kept = {}
            for name, item in value.items():
                dotted = f"{key}.{name}" if key else name
                if is_placeholder(item):
                    found.append(dotted)
                    continue
                kept[name] = clean(item, dotted, depth + 1)
            return kept
        if isinstance(value, list):
            if all(isinstance(item, dict) for item in value):
                return [clean(item, f"{key}[{i}]", depth + 1) for i, item in enumerate(value)]
            if any(is_placeholder(item) for item in value):
                found.append(key)
            return [item for item in value if not is_placeholder(item)]
        return value

    cleaned = clean(data, "", 0)
    return cleaned, tuple(dict.fromkeys(found))
