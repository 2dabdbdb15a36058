"""`release publish`: the gate, the plan, the push, the read-back and the record."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from release import rules
from release.config import Config
from release.errors import UsageError
from release.findings import Finding
from release.lock import project_lock
from release.pipeline.check import check_staged, default_report_path
from release.pipeline.context import PublishInfo
from release.pipeline.inventory import source_commit
from release.pipeline.manifest import SIGNATURE_NAME
from release.pipeline.report import Report, append_publication
from release.progress import Progress
from release.publish import publisher_for, targets
from release.publish.plan import PublishPlan, PublishRecord
from release.regular import newest_mtime
from release.signature import sign_folder


@dataclass(frozen=True)
class PublishResult:
    report: Report
    plan: PublishPlan | None
    record: PublishRecord | None
    dry_run: bool = False

    @property
    def outcome(self) -> str | None:
        """One line saying what happened, or None when the report says it all."""
        record = self.record
        if record is not None and record.status == "unchanged":
            return (f"already published: {record.tag} at {record.commit[:12]} holds exactly "
                    "this release; nothing was pushed")
        if record is not None and self.report.passed:
            return f"published {record.tag} ({record.commit[:12]}) to {record.url}"
        if record is not None:
            return (f"pushed {record.tag} ({record.commit[:12]}) to {record.url}, but reading it "
                    "back found differences: see the report")
        if not self.report.passed:
            return "nothing was published"
        return "dry run: nothing was pushed" if self.dry_run else None


def stale_report(staged_dir: Path, report_path: Path) -> list[Finding]:
    """A report older than the newest staged file was not written for these bytes (the
    signature comes after the report by design: it covers it)."""
    if not report_path.is_file():
        return []
    if report_path.stat().st_mtime >= newest_mtime(staged_dir, besides=(SIGNATURE_NAME,)):
        return []
    return [Finding(rules.REPORT_STALE, None,
                    f"{report_path.name} is older than the newest file in {staged_dir.name}; "
                    "stage again with `release prepare`")]


@dataclass(frozen=True)
class PublishOptions:
    """Which staged folder and report to publish, the commit it must have been built from
    (default: the one checked out where [code].path is), and whether to push at all."""

    staged_dir: Path | None = None
    report_path: Path | None = None
    expected_commit: str | None = None
    dry_run: bool = False


def publish(config: Config, target: str, options: PublishOptions | None = None,
            progress: Progress | None = None) -> PublishResult:
    """Gate the staged folder, then push it (unless a dry run) and read the remote back."""
    with project_lock(config.root):
        return _publish(config, target, options or PublishOptions(), progress)


def _publish(config: Config, target: str, options: PublishOptions,
             progress: Progress | None) -> PublishResult:
    if target not in targets():
        raise UsageError(f"unknown publish target {target!r} (choose {', '.join(targets())})")
    staged_dir = options.staged_dir or config.staged_dir
    report_path = options.report_path or default_report_path(staged_dir)
    dry_run = options.dry_run
    # a folder staged from an older commit must not go out as this one (as `check` refuses it)
    commit = options.expected_commit or source_commit(config)
    checked, manifest = check_staged(staged_dir, report_path, progress=progress,
                                     expected_commit=commit,
                                     require_commit=options.expected_commit is not None)
    findings = [*checked.findings, *stale_report(staged_dir, report_path)]

    def result(plan: PublishPlan | None, record: PublishRecord | None,
               extra: list[Finding] | tuple[Finding, ...] = ()) -> PublishResult:
        context = replace(checked.context, publish=PublishInfo(target, dry_run, plan, record))
        report = Report.create("publish", [*findings, *extra], checked.files, context=context)
        return PublishResult(report, plan, record, dry_run)

    gate = result(None, None)
    if not gate.report.passed or manifest is None:
        return gate
    if config.sign is not None and not dry_run and not (staged_dir / SIGNATURE_NAME).exists():
        sign_folder(staged_dir, config.sign)  # [sign]: nothing goes out unsigned
    publisher = publisher_for(config, target)
    plan = publisher.plan(staged_dir, manifest)
    if dry_run:
        return result(plan, None)
    outcome = publisher.push(plan, staged_dir)
    if outcome.record is None:
        return result(plan, None, outcome.findings)
    problems = publisher.verify(plan, staged_dir, outcome.record)
    if not problems:
        append_publication(report_path, outcome.record.to_dict())
    return result(plan, outcome.record, problems)
