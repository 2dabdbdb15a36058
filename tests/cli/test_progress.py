"""Tests for the CLI's progress bars: silent when quiet or piped, working on a terminal."""

from __future__ import annotations

import io

from rich.console import Console

from release.cli.progress import RichProgress, make_progress
from release.progress import SilentProgress


def test_quiet_or_piped_is_silent() -> None:
    assert isinstance(make_progress(quiet=True), SilentProgress)
    assert isinstance(make_progress(quiet=False), SilentProgress)  # pytest's stderr is no tty


def test_rich_progress_draws_on_a_terminal() -> None:
    buffer = io.StringIO()
    progress = RichProgress(Console(file=buffer, force_terminal=True, width=80))
    with progress.task("Scanning files", 100) as task:
        task.advance(60)
        task.advance(40)
    assert "Scanning files" in buffer.getvalue()


def test_a_bar_counts_in_its_unit_and_shows_what_it_counts_beside() -> None:
    buffer = io.StringIO()
    progress = RichProgress(Console(file=buffer, force_terminal=True, width=160))
    with progress.task("Indexing training data", 3 << 20, items="records") as task:
        task.advance(2 << 20, items=1200)
        progress_bar = task.bar  # type: ignore[attr-defined]
        progress_bar.refresh()
    shown = buffer.getvalue()
    assert "1,200 records" in shown and "records, " in shown and "/s" in shown
    assert "MB" in shown  # bytes as bytes
    buffer = io.StringIO()
    progress = RichProgress(Console(file=buffer, force_terminal=True, width=160))
    with progress.task("Auditing memorisation", 40, unit="samples") as task:
        task.advance(10)
        task.bar.refresh()  # type: ignore[attr-defined]
    shown = buffer.getvalue()
    assert "10/40" in shown and "samples" in shown and "kB" not in shown

