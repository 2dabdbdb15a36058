"""The hashing kernels' backend, chosen once at import: the compiled library, or numpy."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from release.errors import KernelError
from release.fingerprint.kernels import native
from release.fingerprint.kernels.protocol import I64, U8, U64, Kernels, Key
from release.fingerprint.kernels.reference import NumpyKernels

__all__ = ["I64", "KERNELS", "NATIVE", "NUMPY", "U8", "U64", "Kernels", "Key", "choose"]

REQUIRE_ENV = "RELEASE_REQUIRE_NATIVE"  # "1": a missing or stale library is an error
SWITCH_ENV = "RELEASE_NATIVE"  # "off": use the numpy implementations (for comparisons)

NUMPY: Kernels = NumpyKernels()


@lru_cache(maxsize=4)
def _load_native(path: Path) -> tuple[native.NativeKernels | None, str | None]:
    """The compiled kernels at `path` (loaded once), or why they cannot be used."""
    try:
        return native.load(path), None
    except native.KernelUnavailable as exc:
        return None, str(exc)


def choose(environ: Mapping[str, str] = os.environ,
           path: Path = native.LIBRARY_PATH) -> Kernels:
    """The backend the environment asks for: numpy with RELEASE_NATIVE=off, else the compiled
    library where it loads (and an error when it does not and RELEASE_REQUIRE_NATIVE=1), else
    numpy. The one place these variables are read."""
    if environ.get(SWITCH_ENV, "").lower() == "off":
        return NUMPY
    library, problem = _load_native(path)
    if library is not None:
        return library
    if environ.get(REQUIRE_ENV) == "1":
        raise KernelError(f"the compiled kernels are required ({REQUIRE_ENV}=1): {problem}")
    return NUMPY


NATIVE: native.NativeKernels | None = _load_native(native.LIBRARY_PATH)[0]  # for comparisons
KERNELS: Kernels = choose()
