"""The whole pipeline before publishing: the scan, then licences, the memorisation audit and the
model card; a release that passes is staged, and the report is written either way."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

from release.atomic import write_atomic
from release.audit.plots import plots_unavailable, render_png
from release.audit.run import AuditResult, audit_for_prepare
from release.baseline import Baseline, baseline_for
from release.card.build import build_card
from release.card.validate import CARD_PATH
from release.config import Config
from release.errors import ReleaseError, display_path
from release.findings import Finding
from release.licensing.catalog import Catalog, load_catalog
from release.licensing.policy import LicensePlan, plan_licenses
from release.lock import project_lock
from release.ownership import is_release_report, require_replaceable
from release.pipeline.context import Licensing, MemorizationSummary
from release.pipeline.manifest import PLOT_NAME, SIGNATURE_NAME
from release.pipeline.report import Report, report_text
from release.pipeline.scan import ScanOptions, ScanResult, make_report, scan
from release.pipeline.stage import StagedExtras, StagedRelease, stage_release
from release.progress import Progress, SilentProgress
from release.regular import newest_mtime
from release.signature import check_signer, sign_folder


@dataclass(frozen=True)
class Assembled:
    """A scan with what prepare adds: the licence plan, the audit, the card, and the report of
    all of it."""

    scan: ScanResult
    report: Report
    licenses: LicensePlan
    catalog: Catalog
    card: str
    figures: tuple[tuple[str, bytes], ...] = ()  # staged beside the card: (path, PNG bytes)


@dataclass(frozen=True)
class PrepareResult:
    report: Report
    report_path: Path
    staged: StagedRelease | None  # None: the gate failed and nothing was staged
    notes: tuple[str, ...]


@dataclass(frozen=True)
class CardResult:
    text: str
    findings: tuple[Finding, ...]  # the active findings that fail the release
    failing: bool  # the release the card belongs to fails the gate
    staged: Path | None = None  # the staged folder the card was read from; None: rendered now


def assemble(config: Config, options: ScanOptions, progress: Progress) -> Assembled:
    """Scan, plan the licences, audit the model and write the card. The card summarises the
    report of everything before it; its own findings join the final report."""
    if options.baseline is None:  # read once for the two or three reports made here
        options = replace(options, baseline=baseline_for(config))
    scanned = scan(config, options, progress)
    catalog = load_catalog(config.release.license_texts)
    plan = plan_licenses(config, catalog, today=options.today)
    audited = audit_for_prepare(config, scanned.matcher, progress)
    memorization, figures = _figures(audited)
    findings = [*scanned.findings, *plan.findings, *audited.findings]
    context = replace(scanned.report.context, agreement=plan.dates,
                      memorization=memorization, licenses=Licensing(
                          plan.model, plan.code, plan.docs, tuple(sorted(plan.ids))))
    report = make_report(config, options, findings, scanned.records, context)
    card, card_findings = build_card(config, report, plan, catalog, scanned.artifacts.values(),
                                     scanned.matcher)
    if card_findings:
        report = make_report(config, options, [*findings, *card_findings], scanned.records,
                             context)
    return Assembled(scanned, report, plan, catalog, card, figures)


def _figures(audited: AuditResult) -> tuple[MemorizationSummary, tuple[tuple[str, bytes], ...]]:
    """The audit's figure for the staged release, and the summary saying where it is or why
    there is none."""
    summary = audited.summary
    if not summary.audited:
        return summary, ()
    reason = plots_unavailable()
    if reason is not None:
        return replace(summary, plot_skipped=reason), ()
    return (replace(summary, plot=PLOT_NAME),
            ((PLOT_NAME, render_png(summary, audited.generations)),))


def prepare(config: Config, *, baseline: Baseline | None = None,
            progress: Progress | None = None, today: dt.date | None = None) -> PrepareResult:
    """Run the whole pipeline; stage the release when it passes. The report is written next to
    the staged folder when it passes and in its place when it does not."""
    with project_lock(config.root):
        return _prepare(config, ScanOptions(command="prepare", baseline=baseline, today=today),
                        progress or SilentProgress())


def _prepare(config: Config, options: ScanOptions, progress: Progress) -> PrepareResult:
    if config.sign is not None:
        check_signer(config.sign)
    assembled = assemble(config, options, progress)
    notes = assembled.scan.notes
    if not assembled.report.passed:
        require_replaceable(config.report_path, is_release_report, config_path=config.path,
                            key="release.out", what="a release report")
        write_atomic(config.report_path, report_text(assembled.report.to_dict()))
        return PrepareResult(assembled.report, config.report_path, None, notes)
    extras = StagedExtras(assembled.licenses, assembled.catalog, assembled.card,
                          assembled.report, assembled.figures)
    staged = stage_release(config, assembled.scan, extras, progress)
    if config.sign is not None:
        sign_folder(staged.path, config.sign)
        notes = (*notes, f"signed: {display_path(staged.path / SIGNATURE_NAME)}")
    return PrepareResult(staged.report, staged.report_path, staged, notes)


def render_card(config: Config, progress: Progress | None = None) -> CardResult:
    """The model card as prepare stages it: the staged one while it is still the card of this
    config, commit and model, else rendered from a fast scan (and the audit). It fails when
    the release it belongs to fails the gate."""
    staged = _fresh_staged_card(config)
    if staged is not None:
        return staged
    assembled = assemble(config, ScanOptions(command="card", hash_files=False),
                         progress or SilentProgress())
    report = assembled.report
    return CardResult(assembled.card, report.failing_findings, not report.passed)


def _fresh_staged_card(config: Config) -> CardResult | None:
    """The staged card, when the folder was staged from this config at the commit checked
    out, its report passed, and no model file changed since."""
    from release.pipeline.check import default_report_path
    from release.pipeline.inventory import head_commit
    from release.pipeline.manifest import ManifestInvalid, read_manifest
    from release.pipeline.report import read_report_verdict, report_sha256

    folder = config.staged_dir
    card = folder / CARD_PATH
    report_path = default_report_path(folder)
    try:
        manifest = read_manifest(folder)
        verdict, _ = read_report_verdict(report_path)
        fresh = (manifest.config_sha256 == config.digest
                 and report_sha256(report_path) == manifest.report_sha256
                 and (config.code is None or manifest.git_commit == head_commit(config.code.path))
                 and newest_mtime(config.model.path) <= report_path.stat().st_mtime)
        text = card.read_text(encoding="utf-8") if fresh and card.is_file() else None
    except (ManifestInvalid, ReleaseError, OSError, UnicodeDecodeError):
        return None
    if text is None or not any(f.path == CARD_PATH for f in manifest.files):
        return None
    return CardResult(text, (), verdict != "pass", folder)

