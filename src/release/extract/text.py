"""Plain text in any encoding (streamed in overlapping pieces), HTML/XML, and printable strings."""

from __future__ import annotations

import codecs
import html
import re
from collections.abc import Iterator
from typing import IO

from release.extract import PIECE_OVERLAP_CHARS, TEXT_PIECE_CHARS, Context, Segment
from release.fingerprint.tokens import count_newlines

_TAG = re.compile(r"<[^>]{0,4096}>")
_PRINTABLE = re.compile(rb"[\t\n\r\x20-\x7e\x80-\xff]{8,}")
_BYTE_LEVEL = str.maketrans({"\u0120": " ", "\u010a": "\n", "\u2581": " ", "\u0109": "\t"})


def detect_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    return "utf-8"


def looks_like_text(head: bytes) -> bool:
    """No NUL bytes (unless UTF-16/32 with a BOM) and mostly decodable."""
    encoding = detect_encoding(head)
    if encoding in ("utf-16", "utf-32"):
        return True
    if b"\x00" in head:
        return False
    text = head.decode("utf-8", errors="replace")
    return text.count("\ufffd") <= max(8, len(text) // 50)


def untokenize(text: str) -> str:
    """Undo byte-level BPE and sentencepiece word markers (Ġ, Ċ, ▁) so vocabulary entries read
    as the words they encode."""
    return text.translate(_BYTE_LEVEL)


def stream_text(handle: IO[bytes], context: Context, head: bytes) -> Iterator[Segment]:
    """A text file as overlapping pieces of at most TEXT_PIECE_CHARS, each with its first line.
    UTF-8 (the usual case) stays bytes, cut between characters; other encodings are decoded."""
    encoding = detect_encoding(head)
    if encoding == "utf-8":
        yield from _utf8_pieces(handle, context)
        return
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    carry = ""
    line = 1
    while True:
        raw = handle.read(TEXT_PIECE_CHARS)
        text = carry + decoder.decode(raw, final=not raw)
        if not raw or len(text) >= TEXT_PIECE_CHARS:
            if text.strip():
                yield Segment(text, context.member, line)
            if not raw:
                return
            keep = text[-PIECE_OVERLAP_CHARS:]
            line += text.count("\n") - keep.count("\n")
            carry = keep
        else:
            carry = text


def _character_start(data: bytes | memoryview, at: int) -> int:
    """The start of the UTF-8 character that byte `at` belongs to (at most 3 bytes back)."""
    floor = max(0, at - 3)
    while at > floor and data[at] & 0xC0 == 0x80:
        at -= 1
    return at


def _complete_end(data: memoryview, size: int) -> int:
    """How many of the first `size` bytes are whole UTF-8 characters: all of them, unless a
    read ended inside the last one."""
    start = _character_start(data, size - 1)
    lead = data[start]
    length = 2 if lead >> 5 == 0b110 else 3 if lead >> 4 == 0b1110 else \
        4 if lead >> 3 == 0b11110 else 1
    return size if start + length <= size else start


def _read_into(handle: IO[bytes], view: memoryview) -> int:
    readinto = getattr(handle, "readinto", None)
    if readinto is not None:
        return int(readinto(view) or 0)
    data = handle.read(len(view))
    view[:len(data)] = data
    return len(data)


def _utf8_pieces(handle: IO[bytes], context: Context) -> Iterator[Segment]:
    """Pieces read into one reused buffer and copied out once each (a read, a join and a cut
    each made a fresh megabyte, and fresh pages cost more than the copying)."""
    buffer = memoryview(bytearray(TEXT_PIECE_CHARS))
    filled, line = 0, 1
    while True:
        at_end = False
        while filled < len(buffer):  # a read may return less than asked for
            got = _read_into(handle, buffer[filled:])
            if not got:
                at_end = True
                break
            filled += got
        # before the end the last character may be cut off: it starts the next piece instead
        piece = bytes(buffer[:filled if at_end else _complete_end(buffer, filled)])
        if piece.strip():
            yield Segment(piece, context.member, line)
        if at_end:
            return
        keep = _character_start(piece, max(0, len(piece) - PIECE_OVERLAP_CHARS))
        line += count_newlines(piece, keep)
        rest = bytes(buffer[keep:filled])
        buffer[:len(rest)] = rest
        filled = len(rest)


def text_segments(text: str, context: Context) -> Iterator[Segment]:
    """A decoded text held in memory, in overlapping pieces."""
    line = 1
    start = 0
    while start < len(text):
        piece = text[start: start + TEXT_PIECE_CHARS]
        if context.tokenizer:
            piece = untokenize(piece)
        yield Segment(piece, context.member, line)
        if start + TEXT_PIECE_CHARS >= len(text):
            return
        step = TEXT_PIECE_CHARS - PIECE_OVERLAP_CHARS
        line += text.count("\n", start, start + step)
        start += step


def markup_text(text: str) -> str:
    """HTML or XML reduced to its text: tags dropped, entities decoded (twice, for escaped
    markup inside attributes or CDATA)."""
    return html.unescape(html.unescape(_TAG.sub(" ", text)))


def printable_strings(data: bytes) -> Iterator[str]:
    """Runs of printable bytes, like `strings`: text embedded in an otherwise binary file."""
    for match in _PRINTABLE.finditer(data):
        yield match.group().decode("utf-8", errors="replace")
