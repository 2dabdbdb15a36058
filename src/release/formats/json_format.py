"""JSON report renderer (schema_version 1)."""

from __future__ import annotations

from release.formats import register
from release.pipeline.report import Report, report_text


@register("json")
def render(report: Report) -> str:
    return report_text(report.to_dict())
