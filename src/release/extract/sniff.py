"""Tells a file's format from its first and last bytes: magic numbers, record-shaped text, and
what to extract it as."""

from __future__ import annotations

import bz2
import csv
import io
import json
import lzma
import re
import struct
import zlib

import zstandard

from release.extract.pickles import probe_pickle
from release.extract.text import looks_like_text
from release.pipeline.kinds import lower_suffix

HEAD_BYTES = 64 * 1024
TAIL_BYTES = 16
MIN_TABLE_ROWS = 4  # a header and three records
MAX_SNIFF_LINES = 200

DATA_FORMATS = frozenset({
    "parquet", "arrow", "feather", "npy", "npz", "hdf5", "sqlite", "tfrecord", "avro", "orc",
    "jsonl", "json-records", "csv", "tsv",
})
COMPRESSIONS = frozenset({"gzip", "bzip2", "xz", "zstd", "zlib"})
PROTOBUF_SUFFIXES = frozenset({".onnx", ".pb", ".model", ".pbtxt"})
BINARY_PROTOBUF_SUFFIXES = frozenset({".onnx", ".pb"})
# names a pickle goes by: only what to try first; a pickle is told by its opcodes
PICKLE_NAMES = (".pkl", ".pickle", ".joblib", ".dill", ".pt", ".pth", ".ckpt", ".bin", ".sav",
                ".pkl.z", ".nemo", ".mar", ".model", ".dat", ".data")
PICKLE_ONLY_SUFFIXES = frozenset({".pkl", ".pickle", ".joblib", ".dill"})
SSTABLE_MAGIC = b"\x57\xfb\x80\x8b\x24\x75\x47\xdb"  # leveldb tables: TF checkpoint indexes
SEVEN_ZIP_MAGIC = b"7z\xbc\xaf\x27\x1c"
TF_DATA_SHARD = re.compile(r"\.data-\d{5}-of-\d{5}$")


def _crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        crc = n
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C = _crc32c_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked_crc(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _is_tfrecord(head: bytes) -> bool:
    if len(head) < 16:
        return False
    length_bytes = head[:8]
    (stored,) = struct.unpack("<I", head[8:12])
    return bool(stored == _masked_crc(length_bytes))


def _is_safetensors(head: bytes) -> bool:
    if len(head) < 10:
        return False
    (header_len,) = struct.unpack("<Q", head[:8])
    return 2 <= header_len < 100_000_000 and head[8:9] == b"{"


def _is_pickle_header(head: bytes, tail: bytes | None) -> bool:
    """A PROTO 2-5 header that walks as a pickle (to its STOP, or through all of `head`)."""
    if len(head) < 2 or head[0] != 0x80 or not 2 <= head[1] <= 5:
        return False
    return (tail is not None and tail.endswith(b".")) or probe_pickle(head, False, True)


def _is_zlib(head: bytes) -> bool:
    """A raw zlib stream (joblib's compressed files): its header checksum holds and its start
    inflates."""
    if len(head) < 8 or head[0] != 0x78 or (head[0] << 8 | head[1]) % 31:
        return False
    try:
        return len(zlib.decompressobj().decompress(head[:4096], 64)) > 0
    except zlib.error:
        return False


def magic_format(head: bytes, tail: bytes | None) -> str | None:
    """The format named by the file's magic bytes, or None; `tail` None when the end is
    unknown (the decompressed start of a compressed file)."""
    ends = (lambda magic: True) if tail is None else tail.endswith
    checks: list[tuple[bool, str]] = [
        (head[:4] == b"PAR1" and ends(b"PAR1"), "parquet"),
        (head[:6] == b"ARROW1", "arrow"),
        (head[:4] == b"FEA1", "feather"),
        (head[:6] == b"\x93NUMPY", "npy"),
        (head[:8] == b"\x89HDF\r\n\x1a\n", "hdf5"),
        (head[:16] == b"SQLite format 3\x00", "sqlite"),
        (head[:4] == b"Obj\x01", "avro"),
        (head[:3] == b"ORC", "orc"),
        (head[:4] == b"GGUF", "gguf"),
        (head[:4] in (b"PK\x03\x04", b"PK\x05\x06"), "zip"),
        (head[:2] == b"\x1f\x8b", "gzip"),
        (head[:3] == b"BZh" and head[3:4].isdigit(), "bzip2"),
        (head[:6] == b"\xfd7zXZ\x00", "xz"),
        (head[:4] == b"\x28\xb5\x2f\xfd", "zstd"),
        (head[:6] == SEVEN_ZIP_MAGIC, "7z"),
        (_is_pickle_header(head, tail), "pickle"),
        (_is_safetensors(head), "safetensors"),
        (_is_tfrecord(head), "tfrecord"),
        (tail is not None and tail.endswith(SSTABLE_MAGIC), "tf-bundle-index"),
        (_is_zlib(head), "zlib"),
    ]
    for matched, name in checks:
        if matched:
            return name
    return None


def decompress_head(data: bytes, compression: str, limit: int = HEAD_BYTES) -> bytes:
    """Up to `limit` bytes of the decompressed start of `data`; never more, whatever the ratio."""
    try:
        if compression == "gzip":
            return zlib.decompressobj(wbits=31).decompress(data, limit)
        if compression == "bzip2":
            return bz2.BZ2Decompressor().decompress(data, max_length=limit)
        if compression == "xz":
            return lzma.LZMADecompressor().decompress(data, max_length=limit)
        if compression == "zlib":
            return zlib.decompressobj().decompress(data, limit)
        if compression == "zstd":
            reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data))
            return bytes(reader.read(limit))
    except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error, zstandard.ZstdError):
        return b""
    raise ValueError(f"unknown compression {compression!r}")


def _as_text(head: bytes) -> str | None:
    if b"\x00" in head:
        return None
    text = head.decode("utf-8", errors="replace")
    if text.count("\ufffd") > max(4, len(text) // 100):
        return None
    return text


def _complete_lines(text: str, complete: bool) -> list[str]:
    lines = text.splitlines()
    if not complete and lines:
        lines = lines[:-1]  # the last line was cut by the head limit
    return [line for line in lines[:MAX_SNIFF_LINES] if line.strip()]


def _is_jsonl(lines: list[str]) -> bool:
    if len(lines) < 2:
        return False
    for line in lines:
        try:
            value = json.loads(line)
        except ValueError:
            return False
        if not isinstance(value, dict) or not value:
            return False
    return True


def _is_json_records(text: str) -> bool:
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped.startswith("["):
        return False
    return stripped[1:].lstrip(" \t\r\n").startswith("{")


def _is_table(text: str, delimiter: str, complete: bool) -> bool:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows: list[list[str]] = []
    try:
        for row in reader:
            if row:
                rows.append(row)
            if len(rows) > MAX_SNIFF_LINES:
                break
    except csv.Error:
        return False
    if not complete and len(rows) <= MAX_SNIFF_LINES and rows:
        rows = rows[:-1]
    if len(rows) < MIN_TABLE_ROWS:
        return False
    widths = {len(row) for row in rows}
    return len(widths) == 1 and widths.pop() >= 2


def text_format(head: bytes, complete: bool) -> str | None:
    """jsonl, json-records, tsv or csv when the text is shaped like records, else None."""
    text = _as_text(head)
    if text is None:
        return None
    if _is_json_records(text):
        return "json-records"
    lines = _complete_lines(text, complete)
    if _is_jsonl(lines):
        return "jsonl"
    if "\t" in text and _is_table(text, "\t", complete):
        return "tsv"
    if "," in text and _is_table(text, ",", complete):
        return "csv"
    return None


def image_format(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    return None


def extraction_format(head: bytes, tail: bytes, name: str, size: int | None = None) -> str:
    """What to read a stream of `size` bytes as, by its bytes first and its name last: a tar,
    a format named by its magic bytes, a pickle by its opcodes, an image, text, a TensorFlow
    checkpoint shard or protobuf (by name), or "unknown"."""
    if head[257:262] == b"ustar":
        return "tar"
    magic = magic_format(head, tail)
    if magic is not None:
        return magic
    lower = name.lower()
    suffix = lower_suffix(name)
    complete = len(head) >= size if size is not None else len(head) < HEAD_BYTES
    if probe_pickle(head, complete, lower.endswith(PICKLE_NAMES)):
        return "pickle"
    if suffix in PICKLE_ONLY_SUFFIXES:
        return "pickle"  # named as nothing else: walked, and what cannot be walked is said
    if TF_DATA_SHARD.search(lower):
        return "tf-bundle-data"
    if suffix in BINARY_PROTOBUF_SUFFIXES:
        return "protobuf"  # however text-like a small graph looks
    image = image_format(head)
    if image is not None:
        return image
    if looks_like_text(head):
        return "text"
    return "protobuf" if suffix in PROTOBUF_SUFFIXES else "unknown"
