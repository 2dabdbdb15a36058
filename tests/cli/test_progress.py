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
