"""Rich progress bars on stderr, shown only on a terminal and never with -q."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.progress import Progress as RichProgressBar

from release.progress import ProgressTask, SilentProgress


class _BarTask:
    def __init__(self, bar: RichProgressBar, task_id: int) -> None:
        self.bar = bar
        self.task_id = task_id

    def advance(self, amount: int) -> None:
        self.bar.advance(self.task_id, amount)  # type: ignore[arg-type]


class RichProgress:
    def __init__(self, console: Console) -> None:
        self.console = console

    @contextmanager
    def _run(self, description: str, total: int | None) -> Iterator[ProgressTask]:
        with RichProgressBar(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        ) as bar:
            yield _BarTask(bar, bar.add_task(description, total=total))

    def task(self, description: str, total: int | None) -> AbstractContextManager[ProgressTask]:
        return self._run(description, total)


def make_progress(quiet: bool) -> RichProgress | SilentProgress:
    if quiet or not sys.stderr.isatty():
        return SilentProgress()
    return RichProgress(Console(stderr=True))
