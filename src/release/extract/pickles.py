"""Pickles walked by their opcodes and never unpickled: whether bytes are one, what it imports."""

from __future__ import annotations

import _compat_pickle
import io
import json
import math
import pickletools
import warnings
from collections.abc import Generator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import IO, Any, cast

import numpy as np

from release.extract import MAX_TENSOR_BYTES

MAX_TRACKED_ITEMS = 256  # items kept per symbolic container (only shapes and names are needed)
MAX_TRACKED_CHARS = 256  # longer strings are kept on the stack as their length only
MAX_TEXT_ARG = 256 << 20  # string arguments longer than this are skipped, and said so
MAX_NESTED_PICKLES = 64  # object arrays inside a joblib file, each its own pickle
MAX_STACK = 1 << 20  # values on the stack, marks, memo entries: a hostile pickle is refused
MAX_GLOBALS = 10_000  # distinct globals recorded per pickle
MAX_LINE = MAX_TEXT_ARG  # the longest protocol-0 line read
MAX_LONG_BYTES = 1 << 20  # LONG4 integers longer than this are skipped
LEGACY_TORCH_MAGIC = 0x1950A86A20F9469CFC6C
_OPCODES = {op.code.encode("latin-1"): op for op in pickletools.opcodes}
_TEXT_OPS = frozenset({"UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "STRING",
                       "BINSTRING", "SHORT_BINSTRING"})
_BYTES_OPS = frozenset({"BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8"})
_LENGTH_PREFIX = {"BINUNICODE": (4, False), "BINUNICODE8": (8, False), "BINBYTES": (4, False),
                  "BINBYTES8": (8, False), "BYTEARRAY8": (8, False), "BINSTRING": (4, True),
                  "LONG4": (4, True)}
_BUILD_CODES = frozenset({"GLOBAL", "INST", "STACK_GLOBAL", "REDUCE", "BUILD", "NEWOBJ",
                          "NEWOBJ_EX", "OBJ", "BINPERSID", "PERSID", "EXT1", "EXT2", "EXT4"})
JOBLIB_WRAPPER = "joblib.numpy_pickle.NumpyArrayWrapper"
COMPUTED_GLOBAL = "(computed)"  # STACK_GLOBAL whose module or name is not a constant string


class NotAPickle(ValueError):
    """The bytes are not a well-formed pickle from this point on."""


class Truncated(NotAPickle):
    """The bytes ended inside a pickle that was well-formed so far."""


@dataclass(frozen=True)
class Global:
    name: str  # module.qualname


@dataclass(frozen=True)
class Call:
    """The result of calling (REDUCE, NEWOBJ, OBJ, INST) a global with arguments."""

    callable: object
    args: object


@dataclass
class Built:
    """An object whose BUILD state was set (a joblib array wrapper, a numpy dtype)."""

    call: Call
    state: object = None


@dataclass(frozen=True)
class Opaque:
    """A value the walk does not track (long strings, buffers, persistent ids)."""


@dataclass
class PickleWalk:
    """What one walk saw: where the pickle ended, what it imports, its strings' count."""

    start: int
    end: int = 0
    complete: bool = False  # reached STOP
    protocol: int | None = None
    globals: dict[str, None] = field(default_factory=dict)  # in order of first use
    builds: int = 0  # opcodes that import or call something
    ops: int = 0
    first_value: object = None  # the value STOP returned (legacy torch magic number)
    storages: dict[str, str] = field(default_factory=dict)  # torch storage key -> type
    skipped_text: int = 0  # string arguments over MAX_TEXT_ARG, not read
    nested: int = 0  # pickles inside it (joblib object arrays)

    def imported(self, name: str) -> None:
        if name not in self.globals:
            if len(self.globals) >= MAX_GLOBALS:
                raise NotAPickle("too many globals")
            self.globals[name] = None


# what a walk yields: the string (str) and bytes arguments found in the pickle
Walk = Generator[str | bytes, None, None]


@cache
def unsafe_code() -> dict[str, Any]:
    """The vendored lists (see scripts/vendor-pickle-globals): dangerous and safe pickle
    globals, unsafe Keras layers and TensorFlow ops."""
    path = resources.files("release.extract").joinpath("data", "unsafe_code.json")
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    document["safe"] = frozenset(document["safe"])
    return document


def classify_global(name: str) -> str:
    """"dangerous" (runs, loads or imports code, touches files, processes or the network),
    "safe" (the torch, numpy and joblib rebuild set) or "unknown"."""
    if name == COMPUTED_GLOBAL or name.startswith("(extension"):
        return "dangerous"
    table = unsafe_code()
    dangerous, safe = table["dangerous"], table["safe"]
    if name in safe:
        return "safe"
    module, _, attribute = name.rpartition(".")
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        names = dangerous.get(".".join(parts[:end]))
        if names == "*":
            return "dangerous"
        if end == len(parts) and names is not None and attribute.split(".")[0] in names:
            return "dangerous"
    return "unknown"


class _Machine:
    """The unpickler's stack and memo, with values tracked symbolically."""

    def __init__(self) -> None:
        self.stack: list[object] = []
        self.metastack: list[list[object]] = []
        self.memo: dict[int, object] = {}

    def pop(self) -> object:
        if not self.stack:
            raise NotAPickle("stack underflow")
        return self.stack.pop()

    def top(self) -> object:
        if not self.stack:
            raise NotAPickle("stack underflow")
        return self.stack[-1]

    def mark(self) -> None:
        if len(self.metastack) >= MAX_STACK:
            raise NotAPickle("too many marks")
        self.metastack.append(self.stack)
        self.stack = []

    def pop_mark(self) -> list[object]:
        if not self.metastack:
            raise NotAPickle("no mark on the stack")
        items = self.stack
        self.stack = self.metastack.pop()
        return items


def _tracked(value: object) -> object:
    if isinstance(value, str | bytes) and len(value) > MAX_TRACKED_CHARS:
        return Opaque()
    return value


def _read_exact(handle: IO[bytes], count: int) -> bytes:
    data = handle.read(count)
    if len(data) != count:
        raise Truncated("truncated")
    return data


def _skip(handle: IO[bytes], count: int) -> None:
    here = handle.tell()
    end = handle.seek(0, 2)
    if here + count > end:
        raise Truncated("truncated")
    handle.seek(here + count)


class _LineBounded:
    """The handle as pickletools' argument readers see it, with lines bounded (a protocol-0
    argument without a newline is never read whole into memory)."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle

    def read(self, count: int) -> bytes:
        return self.handle.read(count)

    def readline(self) -> bytes:
        return self.handle.readline(MAX_LINE)


def _lines(handle: IO[bytes], count: int) -> str:
    """Newline-terminated arguments read as the unpickler reads them (UTF-8, no escapes,
    unlike pickletools), joined by a space: "module name" of GLOBAL and INST."""
    parts = []
    for _ in range(count):
        line = handle.readline(MAX_LINE)
        if not line.endswith(b"\n"):
            raise Truncated("no newline") if len(line) < MAX_LINE and not handle.read(1) \
                else NotAPickle("no newline")
        try:
            parts.append(line[:-1].decode("utf-8"))
        except UnicodeDecodeError:
            raise NotAPickle("name is not UTF-8") from None
    return " ".join(parts)


def _argument(handle: IO[bytes], opcode: pickletools.OpcodeInfo, walk: PickleWalk
              ) -> tuple[object, bool]:
    """The opcode's argument and whether it was read (a long string argument is skipped)."""
    if opcode.name in _LENGTH_PREFIX:
        width, signed = _LENGTH_PREFIX[opcode.name]
        length = int.from_bytes(_read_exact(handle, width), "little", signed=signed)
        if length < 0:
            raise NotAPickle("negative length")
        limit = MAX_TEXT_ARG if opcode.name in _TEXT_OPS else \
            MAX_LONG_BYTES if opcode.name == "LONG4" else MAX_TENSOR_BYTES
        if length > limit:
            _skip(handle, length)
            walk.skipped_text += opcode.name in _TEXT_OPS
            return None, False
        raw = _read_exact(handle, length)
        if opcode.name in _BYTES_OPS:
            return raw, True
        if opcode.name == "LONG4":
            return int.from_bytes(raw, "little", signed=True), True
        if opcode.name == "BINSTRING":
            return raw.decode("latin-1"), True
        try:
            return raw.decode("utf-8", errors="surrogatepass"), True
        except UnicodeDecodeError:  # the unpickler refuses it too
            raise NotAPickle("string is not UTF-8") from None
    if opcode.name in ("GLOBAL", "INST", "PERSID"):
        return _lines(handle, 1 if opcode.name == "PERSID" else 2), True
    assert opcode.arg is not None
    bounded = cast(IO[bytes], _LineBounded(handle))
    try:
        if opcode.name == "STRING":  # escape_decode warns, quoting a byte of the file
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                return opcode.arg.reader(bounded), True
        return opcode.arg.reader(bounded), True
    except (ValueError, UnicodeDecodeError, OverflowError) as exc:
        if not handle.read(1):
            raise Truncated(type(exc).__name__) from None
        raise NotAPickle(type(exc).__name__) from None


def walk_pickle(handle: IO[bytes], walk: PickleWalk, *, probe: bool = False) -> Walk:
    """Walk one pickle from the handle's position to its STOP, yielding its strings (none when
    `probe`) and recording in `walk` what it imports; NotAPickle when the bytes stop being a
    well-formed pickle (what was recorded until then stays in `walk`)."""
    machine = _Machine()
    while True:
        code = handle.read(1)
        if not code:
            raise Truncated("ended before STOP")
        opcode = _OPCODES.get(code)
        if opcode is None:
            raise NotAPickle("unknown opcode")
        walk.ops += 1
        walk.builds += opcode.name in _BUILD_CODES
        arg, read = _argument(handle, opcode, walk) if opcode.arg is not None else (None, True)
        if opcode.name in _TEXT_OPS or opcode.name in _BYTES_OPS:
            if read and not probe and isinstance(arg, str | bytes) and arg:
                yield arg
            machine.stack.append(_tracked(arg) if read else Opaque())
            continue
        if opcode.name == "STOP":
            walk.first_value = machine.pop()
            walk.end = handle.tell()
            walk.complete = True
            return
        if len(machine.stack) > MAX_STACK or len(machine.memo) > MAX_STACK:
            raise NotAPickle("stack or memo too large")
        nested = _step(machine, opcode.name, arg, walk)
        if nested is not None:
            yield from _joblib_array(handle, nested, walk, probe)


def _pairs(items: list[object]) -> dict[object, object]:
    result: dict[object, object] = {}
    for key, value in zip(items[::2], items[1::2], strict=False):
        if len(result) < MAX_TRACKED_ITEMS and _hashable(key):
            result[key] = value
    return result


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _step(machine: _Machine, name: str, arg: object, walk: PickleWalk) -> Built | None:
    """One opcode's effect on the stack; a joblib array wrapper once it is built."""
    stack = machine.stack
    if name in ("PROTO",):
        walk.protocol = arg if isinstance(arg, int) else None
    elif name in ("FRAME", "READONLY_BUFFER"):
        pass
    elif name in ("INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT",
                  "BINFLOAT"):
        stack.append(arg)
    elif name in ("NONE", "NEWTRUE", "NEWFALSE"):
        stack.append({"NONE": None, "NEWTRUE": True, "NEWFALSE": False}[name])
    elif name in ("EMPTY_TUPLE", "EMPTY_LIST", "EMPTY_DICT", "EMPTY_SET"):
        stack.append({"EMPTY_TUPLE": (), "EMPTY_LIST": [], "EMPTY_DICT": {},
                      "EMPTY_SET": set()}[name])
    elif name == "MARK":
        machine.mark()
    elif name == "POP":
        if stack:
            stack.pop()
        else:
            machine.pop_mark()
    elif name == "POP_MARK":
        machine.pop_mark()
    elif name == "DUP":
        stack.append(machine.top())
    elif name in ("TUPLE", "LIST", "FROZENSET", "DICT"):
        items = machine.pop_mark()
        machine.stack.append(_pairs(items) if name == "DICT" else
                     list(items[:MAX_TRACKED_ITEMS]) if name == "LIST" else
                     tuple(items[:MAX_TRACKED_ITEMS]) if name == "TUPLE" else Opaque())
    elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
        count = int(name[-1])
        if len(stack) < count:
            raise NotAPickle("stack underflow")
        items = stack[-count:]
        del stack[-count:]
        stack.append(tuple(items))
    elif name in ("APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS"):
        _fill(machine, name)
    elif name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
        key = len(machine.memo) if name == "MEMOIZE" else int(arg)  # type: ignore[call-overload]
        machine.memo[key] = machine.top()
    elif name in ("GET", "BINGET", "LONG_BINGET"):
        if arg not in machine.memo:
            raise NotAPickle("memo key missing")
        stack.append(machine.memo[arg])
    else:
        return _call_step(machine, name, arg, walk)
    return None


def _fill(machine: _Machine, name: str) -> None:
    if name in ("APPEND", "SETITEM"):
        items = [machine.pop()] if name == "APPEND" else [machine.pop(), machine.pop()][::-1]
    else:
        items = machine.pop_mark()
    target = machine.top()
    if isinstance(target, list) and len(target) < MAX_TRACKED_ITEMS:
        target.extend(items[: MAX_TRACKED_ITEMS - len(target)])
    elif isinstance(target, dict) and name.startswith("SETITEM"):
        target.update(_pairs(items))


def _python3_name(module: str, name: str, walk: PickleWalk) -> str:
    """module.name as Python 3 loads it: protocols 0-2 may name Python 2 modules, which the
    unpickler maps (fix_imports, on by default)."""
    if walk.protocol is None or walk.protocol < 3:
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
    return f"{module}.{name}"


def _call_step(machine: _Machine, name: str, arg: object, walk: PickleWalk) -> Built | None:
    stack = machine.stack
    if name in ("GLOBAL", "INST"):
        module, _, name_in_module = str(arg).partition(" ")
        found = Global(_python3_name(module, name_in_module, walk))
        walk.imported(found.name)
        value: object = Call(found, tuple(machine.pop_mark())) if name == "INST" else found
        machine.stack.append(value)
    elif name == "STACK_GLOBAL":
        attribute, owner = machine.pop(), machine.pop()
        constant = isinstance(owner, str) and isinstance(attribute, str)
        found = Global(_python3_name(owner, attribute, walk) if constant  # type: ignore[arg-type]
                       else COMPUTED_GLOBAL)
        walk.imported(found.name)
        stack.append(found)
    elif name in ("EXT1", "EXT2", "EXT4"):
        found = Global(f"(extension {arg})")
        walk.imported(found.name)
        stack.append(found)
    elif name in ("REDUCE", "NEWOBJ"):
        args = machine.pop()
        stack.append(Call(machine.pop(), args))
    elif name == "NEWOBJ_EX":
        machine.pop()
        args = machine.pop()
        stack.append(Call(machine.pop(), args))
    elif name == "OBJ":
        items = machine.pop_mark()
        if not items:
            raise NotAPickle("OBJ without a class")
        machine.stack.append(Call(items[0], tuple(items[1:])))
    elif name == "BUILD":
        state = machine.pop()
        target = machine.top()
        if isinstance(target, Call):
            built = Built(target, state)
            stack[-1] = built
            if isinstance(target.callable, Global) and target.callable.name == JOBLIB_WRAPPER:
                return built
    elif name in ("PERSID", "BINPERSID"):
        persistent = arg if name == "PERSID" else machine.pop()
        _torch_storage(persistent, walk)
        stack.append(Opaque())
    elif name == "NEXT_BUFFER":
        stack.append(Opaque())
    else:
        raise NotAPickle(f"unhandled opcode {name}")
    return None


def _torch_storage(persistent: object, walk: PickleWalk) -> None:
    """A torch persistent id ('storage', type, key, location, numel) names a storage member."""
    if isinstance(persistent, tuple) and len(persistent) >= 3 and persistent[0] == "storage":
        kind, key = persistent[1], persistent[2]
        if isinstance(key, str) and len(walk.storages) < 1 << 20:
            walk.storages[key] = kind.name if isinstance(kind, Global) else "?"


def _dtype(value: object) -> tuple[np.dtype[Any] | None, int]:
    """The numpy dtype a pickled `numpy.dtype(...)` call builds (None for object arrays), and
    the item size its state names (-1 when it does not)."""
    call = value.call if isinstance(value, Built) else value
    state = value.state if isinstance(value, Built) else None
    if not (isinstance(call, Call) and isinstance(call.args, tuple) and call.args
            and isinstance(call.args[0], str)):
        raise NotAPickle("joblib array without a dtype")
    size = state[5] if isinstance(state, tuple) and len(state) > 5 and \
        isinstance(state[5], int) else -1
    if call.args[0].startswith("O"):
        return None, size
    try:
        return np.dtype(call.args[0]), size
    except Exception:  # numpy refuses a hostile dtype string in several ways
        raise NotAPickle("joblib array with an unknown dtype") from None


def _joblib_array(handle: IO[bytes], wrapper: Built, walk: PickleWalk, probe: bool) -> Walk:
    """The raw bytes joblib writes after an array wrapper's BUILD: skipped for numbers (like
    tensor payloads), walked as a pickle of their own for object arrays."""
    state = wrapper.state
    if not isinstance(state, dict):
        raise NotAPickle("joblib array wrapper without a state")
    dtype, size = _dtype(state.get("dtype"))
    shape = state.get("shape")
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise NotAPickle("joblib array without a shape")
    if dtype is None:
        walk.nested += 1
        if walk.nested > MAX_NESTED_PICKLES:
            raise NotAPickle("too many nested pickles")
        inner = PickleWalk(start=handle.tell(), nested=walk.nested)  # bounded at any depth
        try:
            yield from walk_pickle(handle, inner, probe=probe)
        finally:
            walk.nested = inner.nested
            for name in inner.globals:
                walk.imported(name)
        return
    if "numpy_array_alignment_bytes" in state:
        padding = _read_exact(handle, 1)[0]
        _skip(handle, padding)
    _skip(handle, math.prod(shape) * (size if size > 0 else dtype.itemsize))


def probe_pickle(head: bytes, complete: bool, named: bool) -> bool:
    """Whether a stream whose first bytes are `head` is a pickle by its structure: it walks to
    its STOP with a consistent stack, or through all of `head` when the stream goes on. A
    pickle with no PROTO header must import or build something, or be named as a pickle, so
    that a text file that happens to be a trivial pickle stays text."""
    if not head or head[:1] not in _OPCODES:
        return False
    walk = PickleWalk(start=0)
    try:
        for _ in walk_pickle(io.BytesIO(head), walk, probe=True):
            pass
    except Truncated:
        return not complete and (head[:1] == b"\x80" or walk.ops >= 64)
    except NotAPickle:
        return False
    return walk.protocol is not None or walk.builds > 0 or named
