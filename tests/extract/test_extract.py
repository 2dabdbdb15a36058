"""Tests for release.extract: each format yields the text it carries, with its member, and
what cannot be read is a Problem, never a silent skip."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import sqlite3
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from release.extract import Hazard, Problem, Segment, extract_file
from release.pipeline.kinds import classify_kind
from tests.executable_corpus import varint

PHRASE = "the quick brown fox jumps over the lazy dog near the river bank"


def extract(path: Path) -> list[Segment | Problem]:
    return list(extract_file(path, path.name, classify_kind(path.name), path.stat().st_size))


def as_str(segment: Segment) -> str:
    """The segment's text as str (plain UTF-8 files come as bytes; invalid bytes read as U+FFFD,
    as the matcher reads them)."""
    text = segment.text
    return text.decode("utf-8", errors="replace") if isinstance(text, bytes) else text


def texts(path: Path) -> list[tuple[str | None, str]]:
    return [(s.member, as_str(s)) for s in extract(path) if isinstance(s, Segment)]


def problems(path: Path) -> list[Problem]:
    return [p for p in extract(path) if isinstance(p, Problem)]


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def onnx_like() -> bytes:
    """An ONNX-shaped protobuf: metadata_props and a string initialiser in the graph."""
    prop = _field(1, b"description") + _field(2, PHRASE.encode())
    tensor = varint(2 << 3) + varint(8) + _field(6, b"first string value") + \
        _field(9, bytes(range(200)))  # data_type STRING, string_data, raw float bytes
    graph = _field(5, tensor) + _field(1, b"node")
    return varint(1 << 3) + varint(8) + _field(7, graph) + _field(14, prop)


def gguf() -> bytes:
    def string(value: str) -> bytes:
        raw = value.encode()
        return struct.pack("<Q", len(raw)) + raw

    header = b"GGUF" + struct.pack("<IQQ", 3, 0, 3)
    kv = string("general.description") + struct.pack("<I", 8) + string(PHRASE)
    kv += string("general.file_type") + struct.pack("<I", 4) + struct.pack("<I", 1)
    tokens = ["\u0120hello", "\u0120world"]
    kv += string("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, len(tokens))
    kv += b"".join(string(t) for t in tokens)
    return header + kv


def png() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind
                                                                                         + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", bytes(13))
            + chunk(b"tEXt", b"Comment\0" + PHRASE.encode())
            + chunk(b"zTXt", b"Title\0\0" + zlib.compress(b"compressed words here"))
            + chunk(b"IEND", b""))


def test_protobuf_strings(tmp_path: Path) -> None:
    found = [t for _, t in texts(write(tmp_path, "model.onnx", onnx_like()))]
    assert PHRASE in found and "first string value" in found and "description" in found


def test_gguf_metadata_and_vocabulary(tmp_path: Path) -> None:
    found = texts(write(tmp_path, "model.gguf", gguf()))
    assert ("gguf:general.description", PHRASE) in found
    assert ("gguf:tokenizer.ggml.tokens[0]", " hello") in found


def test_png_text_chunks(tmp_path: Path) -> None:
    found = [t for _, t in texts(write(tmp_path, "card.png", png()))]
    assert any(PHRASE in t for t in found) and any("compressed words" in t for t in found)


@pytest.mark.parametrize(("name", "compress"), [
    ("notes.txt.gz", gzip.compress), ("notes.txt.bz2", bz2.compress),
    ("notes.txt.xz", lzma.compress), ("notes.txt.zst", zstandard.ZstdCompressor().compress),
])
def test_single_compressed_files(tmp_path: Path, name: str, compress: object) -> None:
    path = write(tmp_path, name, compress(PHRASE.encode()))  # type: ignore[operator]
    assert [t for _, t in texts(path)] == [PHRASE]


def test_structured_text(tmp_path: Path) -> None:
    yaml_file = write(tmp_path, "c.yaml", f"a:\n  b: '{PHRASE}'\n".encode())
    assert texts(yaml_file)[-1] == ("$.a.b", PHRASE)
    toml_file = write(tmp_path, "c.toml", f'[x]\ny = "{PHRASE}"\n'.encode())
    assert ("$.x.y", PHRASE) in texts(toml_file)
    jsonl = write(tmp_path, "d.jsonl", (json.dumps({"t": PHRASE}) + "\n").encode())
    assert ("line1.t", PHRASE) in texts(jsonl)
    escaped = write(tmp_path, "e.json", json.dumps({"t": PHRASE.replace(" ", "\n")}).encode())
    assert texts(escaped)[-1][1] == PHRASE.replace(" ", "\n")


def test_keys_that_are_not_identifiers_are_positions(tmp_path: Path) -> None:
    path = write(tmp_path, "v.json", json.dumps({PHRASE: 1}).encode())
    assert texts(path) == [("$[#0]{key}", PHRASE)]


def test_utf16_text(tmp_path: Path) -> None:
    path = write(tmp_path, "notes.txt", PHRASE.encode("utf-16"))
    assert [t for _, t in texts(path)] == [PHRASE]


def test_columnar_and_array_strings(tmp_path: Path) -> None:
    pq.write_table(pa.table({"text": [PHRASE], "n": [1]}), tmp_path / "t.parquet")
    assert ("column[0][0]", PHRASE) in texts(tmp_path / "t.parquet")
    buffer = io.BytesIO()
    np.save(buffer, np.array([PHRASE]))
    assert ("npy[0]", PHRASE) in texts(write(tmp_path, "a.npy", buffer.getvalue()))
    with sqlite3.connect(tmp_path / "t.db") as db:
        db.execute("create table t (x text)")
        db.execute("insert into t values (?)", (PHRASE,))
    assert any(PHRASE in t for _, t in texts(tmp_path / "t.db"))


def test_object_arrays_are_walked_as_pickles_not_loaded(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": PHRASE}], dtype=object), allow_pickle=True)
    path = write(tmp_path, "o.npy", buffer.getvalue())
    found = list(extract_file(path, path.name, "data", path.stat().st_size))
    hazards = [h for h in found if isinstance(h, Hazard)]
    assert [(h.kind, h.format) for h in hazards] == [("pickle", "npy-object")]
    assert any(isinstance(s, Segment) and s.text == PHRASE for s in found)


def test_nesting_deeper_than_the_limit_is_a_bomb(tmp_path: Path) -> None:
    data = PHRASE.encode()
    for level in range(6):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(f"level{level}.zip" if level else "x.txt", data)
        data = buffer.getvalue()
    found = problems(write(tmp_path, "deep.zip", data))
    assert found and found[0].bomb


def test_corrupt_and_unknown_data_are_problems(tmp_path: Path) -> None:
    assert problems(write(tmp_path, "a.gz", b"\x1f\x8b" + bytes(50)))
    assert "unknown binary" in problems(write(tmp_path, "w.bin", bytes(range(256)) * 4))[0].reason
    assert problems(write(tmp_path, "bad.zip", b"PK\x03\x04" + bytes(30)))
    truncated = write(tmp_path, "t.safetensors", struct.pack("<Q", 10**9) + b"{")
    assert problems(truncated)


def test_long_utf8_text_is_cut_between_characters_with_overlap_and_line_numbers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from release.extract import text as text_module

    monkeypatch.setattr(text_module, "TEXT_PIECE_CHARS", 64)
    monkeypatch.setattr(text_module, "PIECE_OVERLAP_CHARS", 16)
    lines = [f"Zeile {n} über Grüße ✓ {'é' * (n % 7)}" for n in range(60)]
    content = "\n".join(lines) + "\n"
    path = write(tmp_path, "notes.txt", content.encode("utf-8"))
    pieces = [s for s in extract(path) if isinstance(s, Segment)]
    assert len(pieces) > 10 and all(isinstance(p.text, bytes) for p in pieces)
    decoded = [as_str(p) for p in pieces]
    assert all("\ufffd" not in piece for piece in decoded)  # never cut inside a character
    covered = decoded[0]
    for piece in decoded[1:]:  # each piece starts inside the one before: nothing is skipped
        overlap = next(n for n in range(min(len(piece), len(covered)), 0, -1)
                       if covered.endswith(piece[:n]))
        assert overlap >= 8
        covered += piece[overlap:]
    assert covered == content
    for piece, text in zip(pieces, decoded, strict=True):
        first_line = text.split("\n", 1)[0]
        assert piece.line is not None and lines[piece.line - 1].endswith(first_line)


def test_short_reads_and_readers_without_readinto_give_the_same_pieces(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from release.extract import Budget, Context
    from release.extract import text as text_module

    monkeypatch.setattr(text_module, "TEXT_PIECE_CHARS", 64)
    monkeypatch.setattr(text_module, "PIECE_OVERLAP_CHARS", 16)
    content = "".join(f"line {n}: Grüße ✓ {'é' * (n % 5)}\n" for n in range(40)).encode()

    class Trickle:  # at most 5 bytes per read, and no readinto
        def __init__(self) -> None:
            self.stream = io.BytesIO(content)

        def read(self, size: int = -1) -> bytes:
            return self.stream.read(min(size, 5))

    context = Context(name="notes.txt", kind="text", budget=Budget(compressed=len(content)))
    whole = [(s.text, s.line) for s in text_module.stream_text(io.BytesIO(content), context,
                                                                   content[:64])]
    trickled = [(s.text, s.line) for s in text_module.stream_text(
        Trickle(), context, content[:64])]  # type: ignore[arg-type]
    assert len(whole) > 10 and trickled == whole


def test_text_in_other_encodings_is_decoded(tmp_path: Path) -> None:
    path = write(tmp_path, "notes.txt", PHRASE.encode("utf-16"))
    (segment,) = [s for s in extract(path) if isinstance(s, Segment)]
    assert segment.text == PHRASE
