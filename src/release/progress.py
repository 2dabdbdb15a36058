"""How library code reports progress without printing: a protocol the CLI implements."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol


class ProgressTask(Protocol):
    def advance(self, amount: int, items: int = 0) -> None:
        """`amount` more of the task's unit done, and `items` more of what it counts beside
        (the records of the bytes read, say)."""
        ...


class Progress(Protocol):
    def task(self, description: str, total: int | None, *, unit: str = "bytes",
             items: str | None = None) -> AbstractContextManager[ProgressTask]:
        """A task of `total` of `unit` (bytes, or a plural noun: "shards", "samples"); with
        `items`, the name of what it counts beside, shown with its rate."""
        ...


class _SilentTask:
    def advance(self, amount: int, items: int = 0) -> None:
        pass

    def __enter__(self) -> _SilentTask:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class SilentProgress:
    """The default: reports nothing."""

    def task(self, description: str, total: int | None, *, unit: str = "bytes",
             items: str | None = None) -> AbstractContextManager[ProgressTask]:
        return _SilentTask()
