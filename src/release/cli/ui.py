"""How a command talks to the user: the report rendered to stdout or a file, status lines and
progress bars on stderr, and the options every reporting command shares."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from release.atomic import append_text, write_atomic
from release.errors import EXIT_GATE_FAILED, EXIT_PASSED, display_path
from release.formats import formats, printable, renderer
from release.pipeline.report import Report
from release.progress import Progress

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Ui:
    """This invocation's format, destination and verbosity."""

    fmt: str = "text"
    output: Path | None = None
    quiet: bool = False
    verbose: bool = False
    summary: Path | None = None

    def status(self, message: str) -> None:
        if not self.quiet:
            click.echo(message, err=True)

    def notes(self, lines: tuple[str, ...] | list[str]) -> None:
        for line in lines:
            self.status(line)

    def emit(self, report: Report) -> int:
        """Render the report where it was asked for; the exit code its verdict gives."""
        color = (self.fmt == "text" and self.output is None and sys.stdout.isatty()
                 and "NO_COLOR" not in os.environ)
        left_out = report.context.left_out
        if self.verbose and left_out is not None:
            self.notes([f"left out (training state): {printable(p)}"
                        for p in left_out.training_state]
                       + [f"left out ([model].include/exclude): {printable(p)}"
                          for p in left_out.by_config])
        if self.summary is not None:
            append_text(self.summary, renderer("markdown")(report))
        if self.output is not None:
            write_atomic(self.output, renderer(self.fmt)(report))
            self.status(f"report written to {display_path(self.output)}")
            if self.quiet and self.fmt == "text":
                click.echo(renderer("text", brief=True)(report), nl=False)
        else:
            # quiet hides progress and status lines, never the verdict and the findings
            click.echo(renderer(self.fmt, color=color, brief=self.quiet)(report), nl=False)
        return EXIT_PASSED if report.passed else EXIT_GATE_FAILED

    def progress(self) -> Progress:
        from release.cli.progress import make_progress

        return make_progress(self.quiet)


def _apply(func: F, options: list[Callable[[F], F]]) -> F:
    for option in reversed(options):
        func = option(func)
    return func


def quiet_options(func: F) -> F:
    """-q and -v, for every command."""
    return _apply(func, [
        click.option("-q", "--quiet", is_flag=True,
                     help="No progress or status messages; a report keeps its findings and "
                          "verdict."),
        click.option("-v", "--verbose", is_flag=True,
                     help="List the files left out; show tracebacks on internal errors."),
    ])


def config_option(func: F) -> F:
    return click.option("--config", "config_path", type=click.Path(path_type=Path),
                        help="Config file (default ./release.toml).")(func)


def format_options(func: F) -> F:
    """The options of every command that writes a report, but the config."""
    return _apply(func, [
        click.option("--format", "fmt", type=click.Choice(formats()), default="text",
                     show_default=True, help="Report format."),
        click.option("--output", type=click.Path(path_type=Path, dir_okay=False),
                     help="Write the report here instead of stdout."),
        quiet_options,
    ])


def common_options(func: F) -> F:
    """The options of every command that writes a report."""
    return _apply(func, [config_option, format_options])


def summary_option(func: F) -> F:
    return click.option(
        "--summary", type=click.Path(path_type=Path, dir_okay=False),
        help="Also append the report as Markdown to this file (e.g. $GITHUB_STEP_SUMMARY).",
    )(func)


def baseline_option(func: F) -> F:
    return click.option(
        "--baseline", "baseline_path", type=click.Path(path_type=Path, dir_okay=False),
        help="Accepted findings (default [checks].baseline or release.baseline.json).")(func)


def report_option(func: F) -> F:
    return click.option(
        "--report", "report_path", type=click.Path(path_type=Path, dir_okay=False),
        help="The release report (default: DIRECTORY.report.json beside DIRECTORY).")(func)
