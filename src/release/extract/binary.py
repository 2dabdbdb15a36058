"""Binary formats that carry text: GGUF, protobuf
(ONNX, sentencepiece, TF graphs), PNG text chunks, printable strings of databases and images;
and the formats that cannot be read as text, which are Problems."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterator
from typing import IO

from release.extract import (
    EXTRACTORS,
    MAX_STRUCTURED_BYTES,
    Context,
    Extracted,
    Hazard,
    Problem,
    Segment,
    Sniffed,
    extractor,
)
from release.extract.archives import zip_end
from release.extract.modelcode import hdf5_code, protobuf_code, template_code
from release.extract.stream import trailing, whole
from release.extract.text import printable_strings, untokenize
from release.extract.wire import varint

MAX_PROTOBUF_DEPTH = 32


def _bytes_text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


class _Reader:
    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle

    def take(self, count: int) -> bytes:
        data = self.handle.read(count)
        if len(data) != count:
            raise ValueError("truncated")
        return data

    def unpack(self, fmt: str) -> int:
        return int(struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))[0])

    def string(self) -> str:
        length = self.unpack("Q")
        if length > MAX_STRUCTURED_BYTES:
            raise ValueError("string too long")
        return _bytes_text(self.take(length))


_GGUF_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q",
                 12: "d"}


def gguf_segments(handle: IO[bytes], context: Context) -> Iterator[Extracted]:
    """GGUF metadata strings, string arrays included (the tokenizer vocabulary)."""
    reader = _Reader(handle)
    try:
        if reader.take(4) != b"GGUF":
            raise ValueError("not GGUF")
        version = reader.unpack("I")
        count_fmt = "I" if version == 1 else "Q"
        reader.unpack(count_fmt)  # tensor count
        kv_count = reader.unpack(count_fmt)
        if kv_count > 1_000_000:
            raise ValueError("too many keys")
        for _ in range(kv_count):
            key = reader.string()
            label = key if len(key) < 128 and key.replace(".", "_").isidentifier() else "#key"
            value_type = reader.unpack("I")
            yield from _gguf_value(reader, value_type, context.at(f"gguf:{label}"), context)
    except (ValueError, struct.error) as exc:
        yield Problem(f"GGUF metadata could not be read ({exc})", context.member)


def _gguf_value(reader: _Reader, value_type: int, member: str, context: Context
                ) -> Iterator[Segment | Hazard]:
    if value_type == 8:
        text = reader.string()
        if text.strip():
            yield Segment(untokenize(text), member)
        if member.startswith(context.at("gguf:tokenizer.chat_template")):
            yield from template_code(text, member)
    elif value_type == 9:
        item_type = reader.unpack("I")
        count = reader.unpack("Q")
        if count > 50_000_000:
            raise ValueError("array too long")
        if item_type in _GGUF_SCALARS:
            reader.take(struct.calcsize("<" + _GGUF_SCALARS[item_type]) * count)
            return
        for position in range(count):
            yield from _gguf_value(reader, item_type, f"{member}[{position}]", context)
    elif value_type in _GGUF_SCALARS:
        reader.take(struct.calcsize("<" + _GGUF_SCALARS[value_type]))
    else:
        raise ValueError(f"unknown value type {value_type}")


def _is_text(payload: bytes) -> bool:
    if not payload:
        return False
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\n\r\t" for ch in text)


def _protobuf_strings(data: bytes, depth: int) -> list[str] | None:
    """Strings inside a protobuf message, or None when `data` is not a well-formed message."""
    if depth > MAX_PROTOBUF_DEPTH:
        return None
    found: list[str] = []
    position = 0
    try:
        while position < len(data):
            key, position = varint(data, position)
            wire = key & 7
            if key >> 3 == 0:
                return None
            if wire == 0:
                _, position = varint(data, position)
            elif wire == 1:
                position += 8
            elif wire == 5:
                position += 4
            elif wire == 2:
                length, position = varint(data, position)
                payload = data[position: position + length]
                if len(payload) != length:
                    return None
                position += length
                if _is_text(payload):
                    found.append(payload.decode("utf-8"))
                else:
                    nested = _protobuf_strings(payload, depth + 1)
                    if nested:
                        found.extend(nested)
            else:
                return None
            if position > len(data):
                return None
    except ValueError:
        return None
    return found


def protobuf_segments(data: bytes, context: Context) -> Iterator[Extracted]:
    """String fields of a protobuf file (ONNX string data and metadata, sentencepiece pieces,
    TensorFlow graphs), found by walking the wire format."""
    strings = _protobuf_strings(data, 0)
    if strings is None:
        yield Problem("is not a well-formed protobuf message", context.member)
        return
    for position, text in enumerate(strings):
        if text.strip():
            yield Segment(untokenize(text), context.at(f"protobuf:str[{position}]"))
    yield from protobuf_code(data, strings, context)


def png_segments(data: bytes, context: Context) -> Iterator[Extracted]:
    """Text chunks of a PNG (tEXt, zTXt, iTXt); pixels carry no text; bytes after its IEND
    chunk are trailing data."""
    position = 8
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position: position + 8])
        body = data[position + 8: position + 8 + length]
        position += 12 + length
        try:
            if kind == b"tEXt":
                yield Segment(body.replace(b"\0", b" ").decode("latin-1"), context.at("png:tEXt"))
            elif kind == b"zTXt":
                keyword, _, rest = body.partition(b"\0")
                context.budget.spend(len(rest) * 4)
                text = zlib.decompressobj().decompress(rest[1:], 16 << 20)
                yield Segment(keyword.decode("latin-1") + " " + _bytes_text(text),
                              context.at("png:zTXt"))
            elif kind == b"iTXt":
                parts = body.split(b"\0", 3)
                if len(parts) == 4:
                    flag = parts[1][:1]
                    text_bytes = parts[3].split(b"\0", 1)[-1]
                    if flag == b"\x01":
                        text_bytes = zlib.decompressobj().decompress(parts[1][2:] + b"\0"
                                                                     + parts[3], 16 << 20)
                    yield Segment(_bytes_text(text_bytes), context.at("png:iTXt"))
        except zlib.error:
            yield Problem("compressed PNG text chunk is corrupt", context.at("png"))
        if kind == b"IEND":
            if position < len(data):
                yield from trailing(io.BytesIO(data), position, len(data), context, "png")
            return


def strings_segments(data: bytes, context: Context, label: str) -> Iterator[Segment]:
    """Printable runs of a binary format whose text is stored uncompressed (image metadata)."""
    for position, text in enumerate(printable_strings(data)):
        yield Segment(text, context.at(f"{label}:str[{position}]"))


@extractor("gguf")
def _gguf(handle: IO[bytes], size: int, context: Context, sniffed: Sniffed
          ) -> Iterator[Extracted]:
    yield from gguf_segments(handle, context)


extractor("png")(whole(png_segments, "png"))
extractor("protobuf")(whole(protobuf_segments, "protobuf"))


@extractor("sqlite", "tfrecord", "hdf5", "jpeg", "gif", "webp", "tiff")
def _strings(handle: IO[bytes], size: int, context: Context, sniffed: Sniffed
             ) -> Iterator[Extracted]:
    """Formats whose text is only found as runs of printable bytes; an HDF5 Keras model is
    checked for Lambda layers too."""
    label = sniffed.format
    if label == "hdf5":
        for found in hdf5_code(handle, context):
            yield Problem(found, context.member) if isinstance(found, str) else found
    read = whole(lambda data, ctx: strings_segments(data, ctx, label), label)
    yield from read(handle, size, context, sniffed)


@extractor("avro", "orc")
def _compressed_columns(handle: IO[bytes], size: int, context: Context, sniffed: Sniffed
                        ) -> Iterator[Extracted]:
    yield Problem(f"{sniffed.format} files may hold compressed text that is not decoded",
                  context.member)


@extractor("unknown")
def _unknown(handle: IO[bytes], size: int, context: Context, sniffed: Sniffed
             ) -> Iterator[Extracted]:
    """Unknown bytes are a Problem, unless a zip ends them (a polyglot, a self-extracting
    archive): then the zip is read, and what comes before it is trailing data."""
    if zip_end(handle, size) is not None:
        try:
            zipfile.ZipFile(handle).close()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            pass
        else:
            yield from EXTRACTORS.get("zip")(handle, size, context, sniffed)
            return
    yield Problem("unknown binary format; it cannot be reduced to text", context.member)
