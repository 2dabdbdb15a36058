"""safetensors: the header read and checked as the format's loader checks it (dtypes, shapes,
offsets that cover the payload exactly, string metadata), `__metadata__` and integer tensors as
text; float payloads are never read."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import numpy as np

from release.extract import (
    MAX_TENSOR_BYTES,
    Context,
    Extracted,
    Problem,
    Segment,
    Sniffed,
    extractor,
)
from release.extract.stream import trailing

MAX_SAFETENSORS_HEADER = 100 << 20
TEXT_DTYPES = {"U8": np.uint8, "I8": np.int8}
CODEPOINT_DTYPES = {"I16": "<i2", "U16": "<u2", "I32": "<i4", "U32": "<u4", "I64": "<i8",
                    "U64": "<u8"}
# bits per element of every dtype the safetensors format knows (0.8: 22 of them)
DTYPE_BITS = {
    "BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8,
    "F8_E4M3": 8, "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16,
    "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "C64": 64, "F64": 64, "I64": 64,
    "U64": 64,
}


@dataclass(frozen=True)
class Header:
    """A safetensors header as read: the parsed JSON (None when it could not be read, with the
    reason in `problem`), and where the payload starts."""

    value: object
    payload_start: int
    problem: str | None = None


def read_header(handle: IO[bytes], size: int) -> Header:
    handle.seek(0)
    head = handle.read(8)
    if len(head) < 8:
        return Header(None, 0, "safetensors file is truncated")
    (header_size,) = struct.unpack("<Q", head)
    if header_size > min(MAX_SAFETENSORS_HEADER, size - 8):
        return Header(None, 0, "safetensors header is larger than the file or the limit")
    try:
        return Header(json.loads(handle.read(header_size)), 8 + header_size)
    except (ValueError, UnicodeDecodeError):
        return Header(None, 0, "safetensors header is not valid JSON")


def _offsets(info: dict[str, object]) -> tuple[int, int] | None:
    offsets = info.get("data_offsets")
    if (isinstance(offsets, list) and len(offsets) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) for x in offsets)):
        begin, end = offsets
        if 0 <= begin <= end:
            return begin, end
    return None


def _tensor_problem(info: object) -> str | None:
    """Why a tensor entry is invalid, or None (its name is never quoted: it could be data)."""
    if not isinstance(info, dict):
        return "a tensor entry is not a JSON object"
    dtype = info.get("dtype")
    bits = DTYPE_BITS.get(dtype) if isinstance(dtype, str) else None
    if bits is None:
        return "a tensor has a dtype the safetensors format does not know"
    shape = info.get("shape")
    if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        return "a tensor's shape is not a list of sizes"
    offsets = _offsets(info)
    if offsets is None:
        return "a tensor's data_offsets are not two ascending byte offsets"
    elements = 1
    for dimension in shape:
        elements *= dimension
    if elements * bits != (offsets[1] - offsets[0]) * 8:
        return "a tensor's shape and dtype do not match the length of its data"
    return None


def header_problems(header: Header, size: int) -> list[str]:
    """Everything that makes the safetensors loader refuse this file; empty when it loads."""
    if header.problem is not None:
        return [header.problem]
    if not isinstance(header.value, dict):
        return ["safetensors header is not a JSON object"]
    problems = []
    metadata = header.value.get("__metadata__")
    if metadata is not None and not (isinstance(metadata, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())):
        problems.append("__metadata__ does not map strings to strings")
    spans = []
    for name, info in header.value.items():
        if name == "__metadata__":
            continue
        problem = _tensor_problem(info)
        if problem is not None:
            problems.append(problem)
        elif isinstance(info, dict) and (offsets := _offsets(info)) is not None:
            spans.append(offsets)
    position = 0
    for begin, end in sorted(spans):
        if begin != position:
            problems.append("the tensors' data overlap or leave gaps")
            break
        position = end
    if not problems and position != size - header.payload_start:
        problems.append("the tensors' data do not cover the file to its end")
    return problems


@extractor("safetensors")
def _safetensors(handle: IO[bytes], size: int, context: Context, sniffed: Sniffed
                 ) -> Iterator[Extracted]:
    yield from safetensors_segments(handle, size, context)


def safetensors_segments(handle: IO[bytes], size: int, context: Context
                         ) -> Iterator[Extracted]:
    """`__metadata__` values and integer tensors; float payloads are never read."""
    read = read_header(handle, size)
    if read.problem is not None or not isinstance(read.value, dict):
        yield Problem(read.problem or "safetensors header is not valid JSON", context.member)
        return
    header = dict(read.value)
    metadata = header.pop("__metadata__", None) or {}
    if isinstance(metadata, dict):
        for position, (key, value) in enumerate(metadata.items()):
            label = key if isinstance(key, str) and key.isidentifier() else f"#{position}"
            yield Segment(str(key), context.at(f"__metadata__.{label}{{key}}"))
            yield Segment(str(value), context.at(f"__metadata__.{label}"))
    base = read.payload_start
    for position, (name, info) in enumerate(header.items()):
        if not isinstance(info, dict):
            continue
        dtype = info.get("dtype")
        if dtype not in TEXT_DTYPES and dtype not in CODEPOINT_DTYPES:
            continue
        label = name if isinstance(name, str) and len(name) < 200 else f"#{position}"
        offsets = _offsets(info)
        if offsets is None:
            yield Problem("tensor entry without valid data_offsets", context.at(f"{label}"))
            continue
        begin, end = offsets
        if end - begin > MAX_TENSOR_BYTES or begin < 0 or base + end > size:
            yield Problem(f"integer tensor of {end - begin} bytes is over the scan limit",
                          context.at(f"tensor:{label}"))
            continue
        handle.seek(base + begin)
        raw = handle.read(end - begin)
        yield from tensor_text(raw, dtype, context.at(f"tensor:{label}"))
    payload_end = base + max((o[1] for info in header.values() if isinstance(info, dict)
                              and (o := _offsets(info)) is not None), default=0)
    if payload_end < size:
        yield from trailing(handle, payload_end, size, context, "safetensors payload")


def whole_elements(raw: bytes, dtype: str) -> bytes:
    """`raw` cut to a whole number of `dtype` elements (a storage or shard read as found)."""
    width = max(1, DTYPE_BITS[dtype] // 8)
    return raw[: len(raw) - len(raw) % width]


def tensor_text(raw: bytes, dtype: str, member: str) -> Iterator[Segment]:
    """The text an integer tensor may hold: bytes as UTF-8, wider integers as code points."""
    if dtype in TEXT_DTYPES:
        yield Segment(raw.decode("utf-8", errors="replace"), member)
        return
    values = np.frombuffer(raw, dtype=CODEPOINT_DTYPES[dtype])
    if values.size and int(values.min()) >= 0 and int(values.max()) < 0x110000:
        codes = values.astype(np.uint32)
        codes = codes[(codes < 0xD800) | (codes > 0xDFFF)]
        yield Segment(codes.astype("<u4").tobytes().decode("utf-32-le", errors="replace"),
                      member)
