"""How library code reports progress without printing: a protocol the CLI implements."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol


class ProgressTask(Protocol):
    def advance(self, amount: int) -> None: ...


class Progress(Protocol):
    def task(self, description: str, total: int | None) -> AbstractContextManager[ProgressTask]:
        ...


class _SilentTask:
    def advance(self, amount: int) -> None:
        pass

    def __enter__(self) -> _SilentTask:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class SilentProgress:
    """The default: reports nothing."""

    def task(self, description: str, total: int | None) -> AbstractContextManager[ProgressTask]:
        return _SilentTask()
