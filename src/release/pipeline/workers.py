"""The threads a scan matches text on (the kernels release the GIL): how many, and a pool."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import TypeVar

from release.errors import UsageError

MAX_SCAN_THREADS = 8
THREADS_ENV = "RELEASE_SCAN_THREADS"
T = TypeVar("T")


def scan_threads() -> int:
    """How many threads match text: RELEASE_SCAN_THREADS, or the CPUs this process may use
    (at most MAX_SCAN_THREADS)."""
    configured = os.environ.get(THREADS_ENV, "").strip()
    if configured:
        if not configured.isdigit() or int(configured) < 1:
            raise UsageError(f"{THREADS_ENV} must be a whole number of at least 1, "
                             f"not {configured!r}")
        return int(configured)
    available = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return max(1, min(MAX_SCAN_THREADS, len(available) if available else os.cpu_count() or 1))


class Workers:
    """A pool of `threads` threads for the duration of a scan; with one thread, work runs at
    once on the caller's (no hand-over). Use it as a context manager."""

    def __init__(self, threads: int, name: str = "leak-match") -> None:
        self.threads = threads
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix=name) if threads > 1 \
            else None

    def submit(self, function: Callable[..., T], *arguments: object) -> Future[T]:
        if self._pool is not None:
            return self._pool.submit(function, *arguments)
        future: Future[T] = Future()
        future.set_result(function(*arguments))
        return future

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=error is not None)
