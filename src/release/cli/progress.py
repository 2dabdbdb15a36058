"""Rich progress bars on stderr, shown only on a terminal and never with -q."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.progress import Progress as RichProgressBar
from rich.text import Text

from release.progress import ProgressTask, SilentProgress


def _rate(count: float, task: Task) -> str:
    elapsed = task.elapsed or 0.0
    return f"{count / elapsed:,.0f}/s" if elapsed > 0 else "?/s"


class _UnitRateColumn(ProgressColumn):
    """How many of the task's unit a second ("412 samples/s")."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        return Text(f"{self.unit} {_rate(task.completed, task)}", style="progress.data.speed")


class _ItemsColumn(ProgressColumn):
    """What the task counts beside its unit, and how many a second ("12,000 records,
    3,400/s")."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def render(self, task: Task) -> Text:
        items = int(task.fields.get("items", 0))
        return Text(f"{items:,} {self.name}, {_rate(items, task)}", style="progress.data.speed")


class _BarTask:
    def __init__(self, bar: RichProgressBar, task_id: TaskID) -> None:
        self.bar = bar
        self.task_id = task_id
        self.items = 0

    def advance(self, amount: int, items: int = 0) -> None:
        self.items += items
        self.bar.update(self.task_id, advance=amount, items=self.items)


class RichProgress:
    def __init__(self, console: Console) -> None:
        self.console = console

    @contextmanager
    def _run(self, description: str, total: int | None, unit: str, items: str | None
             ) -> Iterator[ProgressTask]:
        amounts: list[ProgressColumn] = [DownloadColumn(), TransferSpeedColumn()] \
            if unit == "bytes" else [MofNCompleteColumn(), _UnitRateColumn(unit)]
        with RichProgressBar(
            TextColumn("{task.description}"),
            BarColumn(),
            *amounts,
            *([_ItemsColumn(items)] if items else []),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        ) as bar:
            yield _BarTask(bar, bar.add_task(description, total=total, items=0))

    def task(self, description: str, total: int | None, *, unit: str = "bytes",
             items: str | None = None) -> AbstractContextManager[ProgressTask]:
        return self._run(description, total, unit, items)


def make_progress(quiet: bool) -> RichProgress | SilentProgress:
    if quiet or not sys.stderr.isatty():
        return SilentProgress()
    return RichProgress(Console(stderr=True))
