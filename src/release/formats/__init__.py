"""Renderers: each module of this package registers a pure `render(report) -> str` under the
name `--format` takes."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from release.pipeline.report import Report
from release.registry import Registry

Renderer = Callable[..., str]  # render(report, *, color=False) -> str; only text uses colour
RENDERERS: Registry[Renderer] = Registry(__name__)


def register(name: str) -> Callable[[Renderer], Renderer]:
    """Make `--format NAME` render reports with this function."""
    return RENDERERS.register(name)


def formats() -> tuple[str, ...]:
    """The format names, text (the default) first."""
    return tuple(sorted(RENDERERS.names(), key=lambda name: (name != "text", name)))


def renderer(name: str, *, color: bool = False) -> Callable[[Report], str]:
    render = RENDERERS.get(name)
    return partial(render, color=color) if name == "text" else render
