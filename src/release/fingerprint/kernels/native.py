"""The compiled kernels (_kernels.c) behind typed methods: the only module that touches ctypes."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from release.errors import KernelError
from release.fingerprint.kernels.protocol import I64, U8, U64, Key

ABI = 13  # must equal RK_ABI in _kernels.c
LIBRARY_PATH = Path(__file__).with_name("_kernels.so")

_I64 = ctypes.c_int64
_U64 = ctypes.c_uint64
_PTR = ctypes.c_void_p
# every exported function: its result type and argument types, as _kernels.c declares them
SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "rk_abi": (_I64, []),
    "rk_allow_avx2": (_I64, [_I64]),
    "rk_count_words": (_I64, [_PTR, _I64]),
    "rk_tokenize": (_I64, [_PTR, _I64, _PTR, _PTR, _PTR, _I64]),
    "rk_count_byte": (_I64, [_PTR, _I64, _I64]),
    "rk_splice": (_I64, [_PTR, _I64, _PTR, _PTR, _I64, _PTR, _I64, _PTR, _PTR, _PTR, _I64]),
    "rk_high_runs": (_I64, [_PTR, _I64, _PTR, _PTR, _I64]),
    "rk_pack_runs": (_I64, [_PTR, _I64, _PTR, _PTR, _I64, _PTR, _I64]),
    "rk_siphash13": (_I64, [_U64, _U64, _PTR, _I64, _PTR, _I64]),
    "rk_gram_fingerprints": (_I64, [_PTR, _I64, _I64, _PTR, _I64, _U64, _U64, _U64, _PTR,
                                    _I64]),
    "rk_packed_ranges": (_I64, [_PTR, _I64, _I64, _PTR, _I64, _I64, _PTR, _I64, _PTR, _PTR,
                                _I64]),
    "rk_probe": (_I64, [_PTR, _I64, _I64, _U64, _U64, _U64, _PTR, _I64, _I64, _U64, _U64, _PTR,
                        _I64, _I64, _PTR, _PTR, _PTR, _PTR, _I64, _PTR]),
    "rk_radix_order": (_I64, [_PTR, _PTR, _PTR, _PTR, _I64, _I64, _I64]),
    "rk_bitmap_fill": (_I64, [_PTR, _I64, _I64, _PTR, _I64]),
}


class KernelUnavailable(Exception):
    """The compiled library is missing, does not load, or is from another version."""


def _address(array: np.ndarray | None) -> int | None:
    """The address of a contiguous array's data, for a pointer argument (None: NULL)."""
    if array is None:
        return None
    if not array.flags.c_contiguous:
        raise KernelError("kernel arrays must be contiguous")
    return int(array.ctypes.data)


def _checked(name: str, status: int) -> int:
    if status < 0:
        raise KernelError(f"{name}: an output array is too small for its result, or an input "
                          "lies outside its array")
    return status


def _bytes_array(data: bytes) -> U8:
    return np.frombuffer(data, dtype=np.uint8)


class NativeKernels:
    """The Kernels protocol on the compiled library; capacities are passed to C and checked
    there."""

    name = "native"

    def __init__(self, library: ctypes.CDLL) -> None:
        self._functions: dict[str, Callable[..., int]] = {}
        for function_name, (result, arguments) in SIGNATURES.items():
            function = getattr(library, function_name)
            function.restype = result
            function.argtypes = arguments
            self._functions[function_name] = function

    def _call(self, name: str, *arguments: int | None) -> int:
        return _checked(name, int(self._functions[name](*arguments)))

    def abi(self) -> int:
        return self._call("rk_abi")

    def allow_avx2(self, allowed: bool) -> bool:
        """Let the tests run the portable word finder on an AVX2 machine; whether AVX2 is used."""
        return bool(self._call("rk_allow_avx2", int(allowed)))

    def count_words(self, text: U8) -> int:
        return self._call("rk_count_words", _address(text), text.size)

    def tokenize(self, text: U8, hashes: U64, starts: I64 | None = None,
                 ends: I64 | None = None) -> int:
        capacity = hashes.shape[0]
        if starts is not None and ends is not None:
            capacity = min(capacity, starts.shape[0], ends.shape[0])
        return self._call("rk_tokenize", _address(text), text.size, _address(hashes),
                          _address(starts), _address(ends), capacity)

    def count_byte(self, data: U8, byte: int) -> int:
        return self._call("rk_count_byte", _address(data), data.size, byte)

    def high_runs(self, data: U8, starts: I64, ends: I64) -> int:
        return self._call("rk_high_runs", _address(data), data.size, _address(starts),
                          _address(ends), min(starts.shape[0], ends.shape[0]))

    def pack_runs(self, data: U8, starts: I64, ends: I64, out: U64) -> None:
        self._call("rk_pack_runs", _address(data), data.size, _address(starts), _address(ends),
                   min(starts.shape[0], ends.shape[0]), _address(out), out.shape[0])

    def splice(self, data: U8, starts: I64, ends: I64, replacements: bytes, first: I64,
               last: I64, out: U8) -> int:
        source = _bytes_array(replacements)
        count = min(starts.shape[0], ends.shape[0], first.shape[0], last.shape[0])
        return self._call("rk_splice", _address(data), data.size, _address(starts),
                          _address(ends), count, _address(source), source.size, _address(first),
                          _address(last), _address(out), out.shape[0])

    def siphash13(self, key: Key, values: U64, out: U64) -> None:
        self._call("rk_siphash13", key[0], key[1], _address(values), values.shape[0],
                   _address(out), out.shape[0])

    def gram_fingerprints(self, tokens: U64, words: int, positions: I64, key: Key, mask: int,
                          out: U64) -> None:
        self._call("rk_gram_fingerprints", _address(tokens), tokens.shape[0], words,
                   _address(positions), positions.shape[0], key[0], key[1], mask,
                   _address(out), out.shape[0])

    def sorted_ranges(self, values: U64, directory: I64, shift: int, queries: U64, lo: I64,
                      hi: I64) -> None:
        # 64-bit values as rows of 8 little-endian bytes (no copy on a little-endian machine)
        rows = np.ascontiguousarray(values.astype("<u8", copy=False)).view(np.uint8)
        self.packed_ranges(rows.reshape(-1, 8), directory, shift, queries, lo, hi)

    def packed_ranges(self, rows: U8, directory: I64, shift: int, queries: U64, lo: I64,
                      hi: I64) -> None:
        self._call("rk_packed_ranges", _address(rows), rows.shape[0], rows.shape[1],
                   _address(directory), directory.shape[0] - 1, shift, _address(queries),
                   queries.shape[0], _address(lo), _address(hi), min(lo.shape[0], hi.shape[0]))

    def probe(self, hashes: U64, words: int, gram_key: Key, fingerprint_shift: int,
              gram_bitmap: U8, gram_bits: int, token_key: Key, first_bitmap: U8 | None,
              first_bits: int, prf: U64, gram_at: I64, gram_fp: U64, first_at: I64
              ) -> tuple[int, int]:
        found = np.zeros(2, dtype=np.int64)
        capacity = min(prf.shape[0], gram_at.shape[0], gram_fp.shape[0], first_at.shape[0])
        self._call("rk_probe", _address(hashes), hashes.shape[0], words, gram_key[0],
                   gram_key[1], fingerprint_shift, _address(gram_bitmap), gram_bits,
                   gram_bitmap.size, token_key[0], token_key[1], _address(first_bitmap),
                   first_bits, 0 if first_bitmap is None else first_bitmap.size, _address(prf),
                   _address(gram_at), _address(gram_fp), _address(first_at), capacity,
                   _address(found))
        grams, firsts = found.tolist()
        return int(grams), int(firsts)

    def radix_order(self, keys: U64, order: I64, bits: int) -> None:
        count = keys.shape[0]
        spare_keys = np.empty_like(keys)
        spare_order = np.empty_like(order)
        capacity = min(order.shape[0], spare_keys.shape[0], spare_order.shape[0])
        self._call("rk_radix_order", _address(keys), _address(order), _address(spare_keys),
                   _address(spare_order), count, capacity, bits)

    def bitmap_fill(self, bitmap: U8, bits: int, values: U64) -> None:
        self._call("rk_bitmap_fill", _address(bitmap), bitmap.size, bits, _address(values),
                   values.shape[0])


def load(path: Path = LIBRARY_PATH) -> NativeKernels:
    """The kernels library at `path`, if it loads and has this ABI; KernelUnavailable (with
    the reason) otherwise."""
    try:
        kernels = NativeKernels(ctypes.CDLL(str(path)))
    except (OSError, AttributeError) as exc:
        raise KernelUnavailable(f"{path} cannot be loaded ({exc}); reinstall with a C compiler "
                                "present") from None
    found = kernels.abi()
    if found != ABI:
        raise KernelUnavailable(f"{path} is stale (ABI {found}, expected {ABI}); reinstall")
    return kernels
