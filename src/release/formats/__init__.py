"""Renderers: each is a pure `render(report) -> str` for one output format."""

from __future__ import annotations

from collections.abc import Callable

from release.formats import json_format, markdown, sarif, text
from release.pipeline.report import Report

FORMATS = ("text", "json", "sarif", "markdown")


def renderer(name: str, *, color: bool = False) -> Callable[[Report], str]:
    if name == "text":
        return lambda report: text.render(report, color=color)
    return {"json": json_format.render, "sarif": sarif.render, "markdown": markdown.render}[name]
