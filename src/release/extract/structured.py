"""JSON, YAML, TOML and notebooks: every string (keys too) as its own segment, escapes decoded."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from typing import Any

from release.extract import Context, Extracted, Problem, Segment
from release.extract.text import markup_text, untokenize

MAX_NESTING = 200
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,31}$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _key_label(key: object, position: int) -> str:
    """A member path step: a short identifier-like key as is, any other key by position, so a
    report never quotes arbitrary text from the file."""
    if isinstance(key, str) and _IDENTIFIER.match(key):
        return f".{key}"
    return f"[#{position}]"


def walk_strings(value: Any, path: str, depth: int = 0) -> Iterator[tuple[str, str]]:
    """(path, text) for every string in a parsed document, keys included."""
    if depth > MAX_NESTING:
        raise RecursionError("nesting too deep")
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for position, (key, item) in enumerate(value.items()):
            label = path + _key_label(key, position)
            if isinstance(key, str):
                yield label + "{key}", key
            yield from walk_strings(item, label, depth + 1)
    elif isinstance(value, list | tuple):
        for position, item in enumerate(value):
            yield from walk_strings(item, f"{path}[{position}]", depth + 1)


def _document_segments(document: Any, context: Context) -> Iterator[Segment | Problem]:
    try:
        for path, text in walk_strings(document, "$"):
            if text.strip():
                yield Segment(untokenize(text) if context.tokenizer else text, context.at(path))
    except RecursionError:
        yield Problem("nested too deeply to walk", context.member)


def json_segments(text: str, context: Context) -> Iterator[Extracted]:
    """Every string of a JSON document, and the code it configures (Keras layers, chat
    templates)."""
    from release.extract.modelcode import document_code

    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        yield Problem("is not valid JSON; scanned as plain text instead", context.member)
        yield Segment(text, context.member, 1)
        return
    yield from _document_segments(document, context)
    yield from document_code(document, context)


def yaml_segments(text: str, context: Context) -> Iterator[Segment | Problem]:
    import yaml

    try:
        documents = list(yaml.safe_load_all(text))
    except (yaml.YAMLError, RecursionError):
        yield Segment(text, context.member, 1)  # not YAML after all: its text is still scanned
        return
    for document in documents:
        yield from _document_segments(document, context)


def toml_segments(text: str, context: Context) -> Iterator[Segment | Problem]:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        yield Segment(text, context.member, 1)
        return
    yield from _document_segments(document, context)


def _joined(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return value if isinstance(value, str) else ""


def notebook_segments(text: str, context: Context) -> Iterator[Segment | Problem]:
    """Every cell's source and every output: streams, text/plain, text/html, markdown, JSON,
    and errors (name, value and the traceback with terminal colours removed)."""
    try:
        notebook = json.loads(text)
        cells = notebook["cells"]
        if not isinstance(cells, list):
            raise TypeError
    except (ValueError, KeyError, TypeError, RecursionError):
        yield Problem("is not a valid notebook; scanned as plain text instead", context.member)
        yield Segment(text, context.member, 1)
        return
    for number, cell in enumerate(cells):
        if not isinstance(cell, dict):
            continue
        source = _joined(cell.get("source"))
        if source.strip():
            yield Segment(source, context.at(f"cells[{number}].source"), 1)
        for out_number, output in enumerate(cell.get("outputs") or []):
            if not isinstance(output, dict):
                continue
            where = context.at(f"cells[{number}].outputs[{out_number}]")
            pieces = [_joined(output.get("text"))]
            data = output.get("data") or {}
            if isinstance(data, dict):
                for mime, value in data.items():
                    if mime in ("text/html", "image/svg+xml"):
                        pieces.append(markup_text(_joined(value)))
                    elif mime.startswith("text/") or mime.endswith("json"):
                        pieces.append(_joined(value) if not isinstance(value, dict)
                                      else json.dumps(value, ensure_ascii=False))
            if output.get("output_type") == "error":
                pieces += [str(output.get("ename", "")), str(output.get("evalue", ""))]
                pieces += [_ANSI.sub("", str(line)) for line in output.get("traceback") or []]
            for piece in pieces:
                if piece.strip():
                    yield Segment(piece, where, 1)
