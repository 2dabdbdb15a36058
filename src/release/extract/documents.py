"""Text files by what their name says they hold: notebooks, JSON, JSON Lines, YAML, TOML and
markup parsed whole (within the limit); everything else read as plain text, streamed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO

from release.extract import MAX_STRUCTURED_BYTES, Context, Extracted, Segment, Sniffed, extractor
from release.extract.structured import (
    json_segments,
    notebook_segments,
    toml_segments,
    walk_strings,
    yaml_segments,
)
from release.extract.text import detect_encoding, markup_text, stream_text, text_segments
from release.pipeline.kinds import lower_suffix

MARKUP_SUFFIXES = frozenset({".html", ".htm", ".xml", ".svg", ".xhtml"})
STRUCTURED = {".ipynb": notebook_segments, ".json": json_segments, ".yaml": yaml_segments,
              ".yml": yaml_segments, ".toml": toml_segments}


@extractor("text")
def _text(handle: IO[bytes], size: int, context: Context, sniffed: Sniffed
          ) -> Iterator[Extracted]:
    suffix = lower_suffix(context.name)
    head = sniffed.head
    if (suffix in STRUCTURED or suffix in MARKUP_SUFFIXES or suffix == ".jsonl") \
            and size <= MAX_STRUCTURED_BYTES:
        handle.seek(0)
        text = handle.read().decode(detect_encoding(head), errors="replace")
        if suffix in MARKUP_SUFFIXES:
            yield from text_segments(markup_text(text), context)
        elif suffix == ".jsonl":
            yield from _jsonl(text, context)
        else:
            yield from STRUCTURED[suffix](text, context)
        return
    handle.seek(0)
    if context.tokenizer:
        text = handle.read(MAX_STRUCTURED_BYTES).decode(detect_encoding(head), errors="replace")
        yield from text_segments(text, context)
        return
    yield from stream_text(handle, context, head)


def _jsonl(text: str, context: Context) -> Iterator[Extracted]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except ValueError:
            yield Segment(line, context.member, number)
            continue
        for path, value in walk_strings(document, f"line{number}"):
            yield Segment(value, context.at(path), number)
