"""Loads the compiled hashing kernels (_kernels.c) when the build produced them; None otherwise."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

ABI = 11  # must equal RK_ABI in _kernels.c
LIBRARY_NAME = "_kernels.so"
REQUIRE_ENV = "RELEASE_REQUIRE_NATIVE"  # "1": a missing or stale library is an error
DISABLE_ENV = "RELEASE_NATIVE"  # "off": use the numpy implementations (for comparisons)

_I64 = ctypes.c_int64
_U64 = ctypes.c_uint64
_PTR = ctypes.c_void_p


def _signatures(library: ctypes.CDLL) -> ctypes.CDLL:
    library.rk_abi.restype = _I64
    library.rk_abi.argtypes = []
    library.rk_count_words.restype = _I64
    library.rk_count_words.argtypes = [_PTR, _I64]
    library.rk_tokenize.restype = _I64
    library.rk_tokenize.argtypes = [_PTR, _I64, _PTR, _PTR, _PTR]
    library.rk_allow_avx2.restype = _I64
    library.rk_allow_avx2.argtypes = [_I64]
    library.rk_count_byte.restype = _I64
    library.rk_count_byte.argtypes = [_PTR, _I64, _I64]
    library.rk_splice.restype = _I64
    library.rk_splice.argtypes = [_PTR, _I64, _PTR, _PTR, _I64, _PTR, _PTR, _PTR, _PTR]
    library.rk_pack_runs.restype = None
    library.rk_pack_runs.argtypes = [_PTR, _PTR, _PTR, _I64, _PTR]
    library.rk_high_runs.restype = _I64
    library.rk_high_runs.argtypes = [_PTR, _I64, _PTR, _PTR]
    library.rk_siphash13.restype = None
    library.rk_siphash13.argtypes = [_U64, _U64, _PTR, _I64, _PTR]
    library.rk_gram_fingerprints.restype = None
    library.rk_gram_fingerprints.argtypes = [_PTR, _I64, _PTR, _I64, _U64, _U64, _U64, _PTR]
    library.rk_sorted_ranges.restype = None
    library.rk_sorted_ranges.argtypes = [_PTR, _PTR, _I64, _I64, _PTR, _I64, _PTR, _PTR]
    library.rk_probe.restype = None
    library.rk_probe.argtypes = [_PTR, _I64, _I64, _U64, _U64, _U64, _PTR, _I64, _U64, _U64,
                                 _PTR, _I64, _PTR, _PTR, _PTR, _PTR, _PTR]
    library.rk_radix_order.restype = None
    library.rk_radix_order.argtypes = [_PTR, _PTR, _PTR, _PTR, _I64, _I64]
    library.rk_bitmap_fill.restype = None
    library.rk_bitmap_fill.argtypes = [_PTR, _I64, _PTR, _I64]
    return library


def load(path: Path | None = None) -> ctypes.CDLL | None:
    """The kernels library beside this module, if it exists, loads and has this ABI."""
    path = path or Path(__file__).with_name(LIBRARY_NAME)
    problem = None
    library = None
    if os.environ.get(DISABLE_ENV, "").lower() == "off":
        return None
    try:
        library = _signatures(ctypes.CDLL(str(path)))
        if library.rk_abi() != ABI:
            problem = f"{path} is stale (ABI {library.rk_abi()}, expected {ABI}); reinstall"
            library = None
    except OSError as exc:
        problem = f"{path} cannot be loaded ({exc}); reinstall with a C compiler present"
    if problem and os.environ.get(REQUIRE_ENV) == "1":
        raise RuntimeError(problem)
    return library


LIBRARY = load()
