"""Pickles (alone, in sequence, or as the payload of object arrays): their strings as text and
the globals they import as a Hazard; nothing is ever unpickled."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

import numpy as np
from numpy.lib import format as npy_format

from release.extract import (
    MAX_TENSOR_BYTES,
    Context,
    Extracted,
    Hazard,
    Problem,
    Segment,
    Sniffed,
    extractor,
)
from release.extract.pickles import (
    JOBLIB_WRAPPER,
    LEGACY_TORCH_MAGIC,
    NotAPickle,
    PickleWalk,
    classify_global,
    probe_pickle,
    walk_pickle,
)
from release.extract.safetensors import tensor_text
from release.extract.sniff import HEAD_BYTES
from release.extract.stream import nested, trailing

MAX_PICKLES_IN_SEQUENCE = 16  # pickle.dump called repeatedly on one file; legacy torch: 5
LEGACY_TORCH_PICKLES = 5  # magic, protocol, sys info, the object, the storage keys
NPY_TEXT_DTYPES = {"u1": "U8", "i1": "I8", "i2": "I16", "u2": "U16", "i4": "I32", "u4": "U32",
                   "i8": "I64", "u8": "U64"}


def _holds_a_file(data: bytes) -> bool:
    """Whether a bytes argument of a pickle is a pickle or an archive of its own."""
    if len(data) < 8:
        return False
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06") or data[:2] == b"\x1f\x8b":
        return True
    return data[:1] == b"\x80" and probe_pickle(data[:HEAD_BYTES], len(data) <= HEAD_BYTES,
                                                False)


def pickle_hazard(walks: list[PickleWalk], context: Context, fmt: str | None = None) -> Hazard:
    """The Hazard of one or more pickles read in sequence: every global they import, and those
    of them that run, load or import code."""
    names = list(dict.fromkeys(name for walk in walks for name in walk.globals))
    if fmt is None:
        fmt = _pickle_format(walks, names)
    dangerous = tuple(name for name in names if classify_global(name) == "dangerous")
    return Hazard("pickle", fmt, context.member, tuple(names), dangerous)


def _pickle_format(walks: list[PickleWalk], names: list[str]) -> str:
    if walks and walks[0].first_value == LEGACY_TORCH_MAGIC:
        return "torch-legacy"
    if JOBLIB_WRAPPER in names:
        return "joblib"
    if any(walk.storages for walk in walks):
        return "torch"
    return "pickle"


def pickle_stream(handle: IO[bytes], start: int, size: int, context: Context,
                  fmt: str | None = None) -> Iterator[Extracted]:
    """The pickles from `start`, one after another: their strings, one Hazard for them all,
    and any bytes after the last as trailing data."""
    walks: list[PickleWalk] = []
    position, strings, blobs = start, 0, 0
    problem: Problem | None = None
    while position < size and len(walks) < MAX_PICKLES_IN_SEQUENCE:
        handle.seek(position)
        if walks:
            head = handle.read(HEAD_BYTES)
            if not probe_pickle(head, position + len(head) >= size, False):
                break
            handle.seek(position)
        walk = PickleWalk(start=position)
        walks.append(walk)
        try:
            for found in walk_pickle(handle, walk):
                text = found if isinstance(found, str) else \
                    found.decode("utf-8", errors="replace")
                if text.strip():
                    yield Segment(text, context.at(f"pickle:str[{strings}]"))
                    strings += 1
                if isinstance(found, bytes) and _holds_a_file(found):
                    # bytes a reducer loads again (torch.storage._load_from_bytes, pickle.loads)
                    yield from nested(found, f"bytes{blobs}", f"pickle:bytes[{blobs}]",
                                      context)
                    blobs += 1
        except NotAPickle as exc:
            problem = Problem(f"pickle could not be walked past byte {handle.tell()} ({exc}); "
                              "a loader stops there too", context.member)
            break
        position = walk.end
    yield pickle_hazard(walks, context, fmt)
    skipped = sum(walk.skipped_text for walk in walks)
    if skipped:
        yield Problem(f"{skipped} string(s) of the pickle are over the scan limit",
                      context.member)
    if problem is not None:
        yield problem
        return
    legacy = walks[0].first_value == LEGACY_TORCH_MAGIC and len(walks) >= LEGACY_TORCH_PICKLES
    if position < size and not legacy:  # a legacy torch file's storages follow its pickles
        yield from trailing(handle, position, size, context, "pickle")


@extractor("pickle")
def _pickle(handle: IO[bytes], size: int, context: Context, sniffed: Sniffed
            ) -> Iterator[Extracted]:
    yield from pickle_stream(handle, 0, size, context)


@extractor("npy")
def _npy(handle: IO[bytes], size: int, context: Context, sniffed: Sniffed
         ) -> Iterator[Extracted]:
    """A NumPy array: an object array is a pickle after its header; strings and integers are
    read as text (within the tensor limit); other numbers are payload, like tensors."""
    handle.seek(0)
    try:
        version = npy_format.read_magic(handle)
        read_header = {(1, 0): npy_format.read_array_header_1_0,
                       (2, 0): npy_format.read_array_header_2_0}.get(version)
        if read_header is None:
            yield Problem(f"NumPy format version {version[0]}.{version[1]} is not read",
                          context.member)
            return
        shape, _, dtype = read_header(handle, max_header_size=1 << 20)
    except (ValueError, SyntaxError, OSError):
        yield Problem("NumPy array header is malformed", context.member)
        return
    start = handle.tell()
    if dtype.hasobject:
        yield from pickle_stream(handle, start, size, context, "npy-object")
        return
    count = int(np.prod(shape, dtype=np.int64))
    length = count * dtype.itemsize
    if start + length < size:
        yield from trailing(handle, start + length, size, context, "array")
    if dtype.kind not in "USui":
        return
    if length > MAX_TENSOR_BYTES:
        yield Problem(f"{dtype.kind} array of {length} bytes is over the scan limit",
                      context.member)
        return
    handle.seek(start)
    raw = handle.read(length)
    if dtype.kind in "US":
        values = np.frombuffer(raw, dtype=dtype)
        for position, value in enumerate(values.tolist()):
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
            if text:
                yield Segment(text, context.at(f"npy[{position}]"))
        return
    code = f"{dtype.kind}{dtype.itemsize}"
    little = raw if dtype.byteorder in "<=|" else np.frombuffer(raw, dtype).byteswap().tobytes()
    yield from tensor_text(little, NPY_TEXT_DTYPES[code], context.at("npy"))
