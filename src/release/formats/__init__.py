"""Renderers: each module of this package registers a pure `render(report) -> str` under the
name `--format` takes."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial

from release.config import DEFAULT_CONFIG_NAME
from release.findings import Finding
from release.pipeline.context import LeftOutFiles
from release.pipeline.report import Report
from release.registry import Registry

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """`text` with control characters shown as escapes (`\\n`, `\\x1b`): a file name or a
    message that holds them must not forge lines or terminal colours in text output."""
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(), f"\\x{ord(m.group()):02x}"), text)


def subject_path(report: Report, finding: Finding) -> str:
    """Where a finding is, as a renderer names it: its release path, or for a finding about the
    release as a whole, the config file when a line of it is known, else "(config)"."""
    if finding.path is not None:
        return finding.path
    config = report.context.config
    return (config.path if config is not None else DEFAULT_CONFIG_NAME) if finding.line \
        else "(config)"


MAX_NAMED_GROUPS = 4


def left_out_line(left_out: LeftOutFiles) -> str:
    """One line for the files of the model folder that do not ship, naming the first few."""
    parts = []
    if left_out.training_state:
        groups = left_out.groups()
        named = ", ".join(printable(g) for g in groups[:MAX_NAMED_GROUPS])
        more = f", +{len(groups) - MAX_NAMED_GROUPS} more" if len(groups) > MAX_NAMED_GROUPS \
            else ""
        parts.append(f"{len(left_out.training_state)} training-state files left out ({named}"
                     f"{more}); list them with -v; ship one by naming it in [model].include")
    if left_out.by_config:
        parts.append(f"{len(left_out.by_config)} files left out by [model].include/exclude")
    return "; ".join(parts)


Renderer = Callable[..., str]  # render(report, *, color=False) -> str; only text uses colour
RENDERERS: Registry[Renderer] = Registry(__name__)


def register(name: str) -> Callable[[Renderer], Renderer]:
    """Make `--format NAME` render reports with this function."""
    return RENDERERS.register(name)


def formats() -> tuple[str, ...]:
    """The format names, text (the default) first."""
    return tuple(sorted(RENDERERS.names(), key=lambda name: (name != "text", name)))


def renderer(name: str, *, color: bool = False, brief: bool = False) -> Callable[[Report], str]:
    """The renderer of `--format NAME`; text takes colour and `brief` (findings and verdict
    only, for -q)."""
    render = RENDERERS.get(name)
    return partial(render, color=color, brief=brief) if name == "text" else render
