"""Markdown renderer, for pull-request comments and CI job summaries."""

from __future__ import annotations

from release.findings import Finding
from release.formats import left_out_line, printable, register, subject_path
from release.pipeline.report import Report

_ICONS = {"pass": "✅", "fail": "❌"}


def _cell(text: str | None) -> str:
    if not text:
        return ""
    return printable(text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`"))


def _row(report: Report, finding: Finding) -> str:
    where = _cell(subject_path(report, finding))
    if finding.member:
        where += f" / {_cell(finding.member)}"
    if finding.line:
        where += f":{finding.line}"
    return (f"| {finding.effective_severity.value} | {finding.rule.id} {finding.rule.name} "
            f"| {where} | {_cell(finding.message)} |")


@register("markdown")
def render(report: Report) -> str:
    summary = report.summary
    counts = summary["findings"]
    lines = [
        f"## {_ICONS.get(report.verdict, '⚠️')} `release {report.command}`: {report.verdict}",
        "",
        f"{summary['files']} files ({summary['scanned']} scanned, {summary['skipped']} skipped, "
        f"{summary['failed']} failed) · {counts['error']} errors · {counts['warning']} warnings"
        f" · {summary['accepted']} accepted · fails on {report.fail_on.value}",
        "",
    ]
    git = report.context.git
    if git is not None and git.commit:
        branch = f" on `{git.branch}`" if git.branch else ""
        lines += [f"Built from commit `{git.commit}`{branch}.", ""]
    if report.context.left_out is not None:
        lines += [_cell(left_out_line(report.context.left_out)), ""]
    publish = report.context.publish
    record = publish.record if publish is not None else None
    if record is not None:
        lines += [f"Publication ({record.status}): {record.target} "
                  f"`{record.destination}` tag `{record.tag}` at commit "
                  f"`{record.commit}` — {record.url}", ""]
    active = report.active_findings
    if active:
        lines += ["| severity | rule | where | message |", "|---|---|---|---|"]
        lines += [_row(report, f) for f in active]
        lines.append("")
    accepted = [f for f in report.findings if report.is_accepted(f)]
    if accepted:
        lines += ["<details><summary>Accepted findings</summary>", "",
                  "| severity | rule | where | message |", "|---|---|---|---|"]
        lines += [_row(report, f) for f in accepted]
        lines += ["", "</details>", ""]
    return "\n".join(lines)
