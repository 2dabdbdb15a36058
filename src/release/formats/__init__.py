"""Renderers: each module of this package registers a pure `render(report) -> str` under the
name `--format` takes."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from functools import partial

from release.pipeline.report import Report

Renderer = Callable[..., str]  # render(report, *, color=False) -> str; only text uses colour
_RENDERERS: dict[str, Renderer] = {}
_LOADED = False


def register(name: str) -> Callable[[Renderer], Renderer]:
    """Make `--format NAME` render reports with this function."""

    def add(render: Renderer) -> Renderer:
        _RENDERERS[name] = render
        return render

    return add


def _load_builtin() -> None:
    global _LOADED
    if not _LOADED:
        for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
            importlib.import_module(f"{__name__}.{module}")
        _LOADED = True


def formats() -> tuple[str, ...]:
    """The format names, text (the default) first."""
    _load_builtin()
    return tuple(sorted(_RENDERERS, key=lambda name: (name != "text", name)))


def renderer(name: str, *, color: bool = False) -> Callable[[Report], str]:
    _load_builtin()
    render = _RENDERERS[name]
    return partial(render, color=color) if name == "text" else render
