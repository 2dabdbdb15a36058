"""The whole pipeline before publishing: the scan, then licences, the memorisation audit and the
model card; a release that passes is staged, and the report is written either way."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

from release.atomic import write_atomic
from release.audit.run import audit_for_prepare
from release.baseline import Baseline, baseline_for
from release.card.build import build_card
from release.card.validate import CARD_PATH
from release.config import Config
from release.findings import Finding
from release.licensing.catalog import Catalog, load_catalog
from release.licensing.policy import LicensePlan, plan_licenses
from release.lock import project_lock
from release.ownership import is_release_report, require_replaceable
from release.pipeline.context import Licensing
from release.pipeline.report import Report, report_text
from release.pipeline.scan import ScanOptions, ScanResult, make_report, scan
from release.pipeline.stage import StagedExtras, StagedRelease, stage_release
from release.progress import Progress, SilentProgress


@dataclass(frozen=True)
class Assembled:
    """A scan with what prepare adds: the licence plan, the audit, the card, and the report of
    all of it."""

    scan: ScanResult
    report: Report
    licenses: LicensePlan
    catalog: Catalog
    card: str


@dataclass(frozen=True)
class PrepareResult:
    report: Report
    report_path: Path
    staged: StagedRelease | None  # None: the gate failed and nothing was staged
    notes: tuple[str, ...]


@dataclass(frozen=True)
class CardResult:
    text: str
    findings: tuple[Finding, ...]  # the card's own active findings
    failing: bool  # one of them fails the gate


def assemble(config: Config, options: ScanOptions, progress: Progress) -> Assembled:
    """Scan, plan the licences, audit the model and write the card. The card summarises the
    report of everything before it; its own findings join the final report."""
    if options.baseline is None:  # read once for the two or three reports made here
        options = replace(options, baseline=baseline_for(config))
    scanned = scan(config, options, progress)
    catalog = load_catalog(config.release.license_texts)
    plan = plan_licenses(config, catalog, today=options.today)
    audited = audit_for_prepare(config, progress)
    findings = [*scanned.findings, *plan.findings, *audited.findings]
    context = replace(scanned.report.context, agreement=plan.dates,
                      memorization=audited.summary, licenses=Licensing(
                          plan.model, plan.code, plan.docs, tuple(sorted(plan.ids))))
    report = make_report(config, options, findings, scanned.records, context)
    card, card_findings = build_card(config, report, plan, catalog, scanned.artifacts.values(),
                                     scanned.matcher)
    if card_findings:
        report = make_report(config, options, [*findings, *card_findings], scanned.records,
                             context)
    return Assembled(scanned, report, plan, catalog, card)


def prepare(config: Config, *, baseline: Baseline | None = None,
            progress: Progress | None = None, today: dt.date | None = None) -> PrepareResult:
    """Run the whole pipeline; stage the release when it passes. The report is written next to
    the staged folder when it passes and in its place when it does not."""
    with project_lock(config.root):
        return _prepare(config, ScanOptions(command="prepare", baseline=baseline, today=today),
                        progress or SilentProgress())


def _prepare(config: Config, options: ScanOptions, progress: Progress) -> PrepareResult:
    assembled = assemble(config, options, progress)
    notes = assembled.scan.notes
    if not assembled.report.passed:
        require_replaceable(config.report_path, is_release_report, config_path=config.path,
                            key="release.out", what="a release report")
        write_atomic(config.report_path, report_text(assembled.report.to_dict()))
        return PrepareResult(assembled.report, config.report_path, None, notes)
    extras = StagedExtras(assembled.licenses, assembled.catalog, assembled.card,
                          assembled.report)
    staged = stage_release(config, assembled.scan, extras, progress)
    return PrepareResult(staged.report, staged.report_path, staged, notes)


def render_card(config: Config, progress: Progress | None = None) -> CardResult:
    """The model card alone, as prepare would stage it, from a fast scan."""
    assembled = assemble(config, ScanOptions(command="card", hash_files=False),
                         progress or SilentProgress())
    report = assembled.report
    own = tuple(f for f in report.active_findings if f.path == CARD_PATH)
    return CardResult(assembled.card, own, any(f in report.failing_findings for f in own))
