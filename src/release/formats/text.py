"""Human-readable renderer: a findings list and a summary, in colour when asked."""

from __future__ import annotations

import io

from rich.console import Console
from rich.text import Text

from release.findings import Finding, Severity
from release.formats import left_out_line, printable, register, subject_path
from release.pipeline.context import PublishInfo
from release.pipeline.report import Report

_STYLES = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.NOTE: "cyan"}


def _finding_line(report: Report, finding: Finding) -> Text:
    line = Text("  ")
    severity = finding.effective_severity
    line.append(f"{severity.value:<7}", style=_STYLES[severity])
    line.append(f" {finding.rule.id} ", style="bold")
    where = printable(subject_path(report, finding))
    if finding.member:
        where += f" [{printable(finding.member)}]"
    if finding.line:
        where += f":{finding.line}"
    line.append(where, style="magenta")
    line.append(f"  {printable(finding.message)}")
    if finding.fingerprint in report.accepted:
        acceptance = report.accepted[finding.fingerprint]
        line.append(f"  (accepted until {acceptance.expires.isoformat()})", style="dim")
    elif finding.fingerprint in report.expired:
        line.append(f"  (acceptance expired {report.expired[finding.fingerprint].expires})",
                    style="red")
    return line


def _human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def _print_publish(console: Console, publish: PublishInfo) -> None:
    plan, record = publish.plan, publish.record
    if plan is not None:
        console.print()
        heading = "Plan (dry run, nothing pushed)" if publish.dry_run else "Plan"
        console.print(Text(heading, style="bold"))
        console.print(f"  target {plan.target}: {plan.destination}")
        console.print(f"  ref {plan.ref}, tag {plan.tag}, manifest sha256:"
                      f"{plan.manifest_sha256}")
        for entry in plan.files:
            via = "lfs" if entry.lfs else "git"
            console.print(f"  {via:<4} {_human_bytes(entry.size):>9}  {printable(entry.path)}")
    if record is not None:
        console.print()
        console.print(Text(f"Publication: {record.status}", style="bold"))
        console.print(f"  {record.target} {record.destination} {record.ref} "
                      f"tag {record.tag} commit {record.commit}")
        console.print(f"  {record.url}  ({record.time})")
        if record.pull_request:
            console.print(f"  pull request {record.pull_request}")


@register("text")
def render(report: Report, *, color: bool = False, width: int = 100, brief: bool = False) -> str:
    """The report as text; `brief` (for -q) keeps only the findings and the verdict line."""
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=color, no_color=not color, width=width,
                      highlight=False, soft_wrap=True, markup=False, emoji=False)
    summary = report.summary
    if brief:
        for finding in report.findings:
            console.print(_finding_line(report, finding))
        _print_verdict(console, report)
        return buffer.getvalue()
    kinds: dict[str, int] = {}
    for record in report.files:
        kinds[record.kind] = kinds.get(record.kind, 0) + 1
    title = Text(f"release {report.command}", style="bold")
    release = report.context.release
    if release is not None:
        title.append(f" · {release.name} {release.version}")
    console.print(title)
    console.print(
        f"{summary['files']} files, {_human_bytes(summary['bytes'])}: "
        + ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
    )
    left_out = report.context.left_out
    if left_out is not None:
        console.print(left_out_line(left_out))
    if report.findings:
        console.print()
        for finding in report.findings:
            console.print(_finding_line(report, finding))
    dates = report.context.agreement
    if dates is not None:
        window = (f" (inside the survival window, to {dates.survival_window_end.isoformat()})"
                  if dates.in_survival_window else "")
        console.print(f"agreement term ends {dates.term_end.isoformat()}{window}; the data "
                      f"must be deleted by {dates.data_deletion_deadline.isoformat()} "
                      f"({dates.days_until_data_deletion} days)")
    memorization = report.context.memorization
    if memorization is not None and memorization.audited:
        console.print(f"memorisation: {memorization.extractable} of {memorization.samples} "
                      f"sampled records extractable (rate {memorization.rate}, limit "
                      f"{memorization.max_extractable_rate})"
                      + (f", {memorization.extractable_named} of {memorization.named_records} "
                         "named" if memorization.named_records else "")
                      + (f", {memorization.extractable_canaries} of {memorization.canaries} "
                         "canaries" if memorization.canaries else ""))
        for line in (memorization.untargeted.describe() if memorization.untargeted else None,
                     memorization.describe_exposures()):
            if line:
                console.print(line)
    if report.context.publish is not None:
        _print_publish(console, report.context.publish)
    console.print()
    _print_verdict(console, report)
    return buffer.getvalue()


def _print_verdict(console: Console, report: Report) -> None:
    summary = report.summary
    counts = summary["findings"]
    verdict = Text(report.verdict.upper(), style="bold green" if report.passed else "bold red")
    console.print(Text.assemble(
        verdict,
        f"  {counts['error']} errors, {counts['warning']} warnings, {summary['accepted']} accepted"
        f"; {summary['scanned']} scanned, {summary['skipped']} skipped, {summary['failed']} "
        f"failed; fails on {report.fail_on.value}",
    ))
