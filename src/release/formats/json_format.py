"""JSON report renderer (schema_version 1)."""

from __future__ import annotations

from release.pipeline.report import Report, report_text


def render(report: Report) -> str:
    return report_text(report.to_dict())
