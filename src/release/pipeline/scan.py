"""The scan: inventory → read → detect → report, over everything that would ship."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from release import rules
from release.baseline import Baseline, baseline_for
from release.config import Config
from release.detectors import DetectionContext, Detector, create_detectors
from release.errors import display_path
from release.findings import FileRecord, Finding, Outcome, Severity
from release.fingerprint.keys import key_created_note
from release.fingerprint.match import Matcher
from release.fingerprint.service import build_notes, ensure_index
from release.pipeline.context import (
    ConfigInfo,
    GitState,
    LeftOutFiles,
    ReleaseInfo,
    ReportContext,
)
from release.pipeline.inventory import Inventory, Item, build_inventory, files_inventory
from release.pipeline.read import Artifact, planned_size, read_artifact, relative_source
from release.pipeline.report import Report
from release.pipeline.workers import Workers, scan_threads
from release.progress import Progress, ProgressTask, SilentProgress


@dataclass(frozen=True)
class ScanOptions:
    """How to scan. Without `hash_files` (the fast scan), only files that could be copies of
    a data source are hashed in full. With `files`, only those files are scanned (paths
    relative to `files_base`), with the same detectors and index."""

    command: str = "scan"
    hash_files: bool = True
    files: Sequence[Path] | None = None
    files_base: Path | None = None
    baseline: Baseline | None = None  # default: the config's baseline file
    today: dt.date | None = None


@dataclass(frozen=True)
class ScanResult:
    report: Report
    inventory: Inventory
    artifacts: dict[str, Artifact]  # by release path, for files read successfully
    findings: tuple[Finding, ...]  # what the report was made of, for a later stage to add to
    records: tuple[FileRecord, ...]
    notes: tuple[str, ...] = ()  # what the scan did on the side (index built, key created)
    matcher: Matcher | None = None  # the training-data matcher, for text generated later


@dataclass(frozen=True)
class _Read:
    artifacts: dict[str, Artifact]
    records: tuple[FileRecord, ...]
    findings: tuple[Finding, ...]


def scan(config: Config, options: ScanOptions | None = None,
         progress: Progress | None = None) -> ScanResult:
    """Inventory and scan of everything that would ship."""
    options = options or ScanOptions()
    progress = progress or SilentProgress()
    inventory = (files_inventory(config.data, options.files, options.files_base or Path.cwd())
                 if options.files is not None else build_inventory(config))
    matcher, notes = _training_data(config, progress)
    with Workers(scan_threads()) as workers:
        context = DetectionContext(config.path, config.data, config.checks, matcher, workers)
        read = _read_and_detect(config, inventory, create_detectors(context),
                                options.hash_files, progress)
    findings = (*placeholder_findings(config), *inventory.findings, *read.findings)
    report = make_report(config, options, findings, read.records, report_context(config,
                                                                                 inventory))
    return ScanResult(report, inventory, read.artifacts, findings, read.records, notes, matcher)


def placeholder_findings(config: Config) -> list[Finding]:
    """One finding per value of the config that is still a `release init` placeholder."""
    return [Finding(rules.UNFILLED_PLACEHOLDER, None,
                    f"{key} is still the placeholder `release init` wrote (TODO); set it, "
                    "as nothing of the release may go out with an unfilled value", basis=key,
                    config_key=key) for key in config.placeholders]


def _training_data(config: Config, progress: Progress) -> tuple[Matcher | None, tuple[str, ...]]:
    """The matcher of the fingerprint index (built first where it is missing or stale), and
    what was done to get it; None without data sources."""
    if not config.data.sources:
        return None, ()
    status = ensure_index(config, progress)
    notes = []
    if status.key_created:
        notes.append(key_created_note(config.data.key_file))
    if status.built:
        notes.append(f"built the fingerprint index ({status.reason})")
        notes += build_notes(config.data)
    return Matcher(status.index), tuple(notes)


def _read_and_detect(config: Config, inventory: Inventory, detectors: list[Detector],
                     hash_files: bool, progress: Progress) -> _Read:
    """Each file read once and given to every detector; what could not be read is a failed
    file with its finding."""
    records: list[FileRecord] = []
    artifacts: dict[str, Artifact] = {}
    found: list[Iterable[Finding]] = []
    total = sum(planned_size(i) for i in inventory.items if i.problem is None)
    with progress.task("Scanning files", total) as task:
        for item in inventory.items:
            source = relative_source(item.source, config.root)
            result = _read(item, task, hash_files)
            if isinstance(result, Finding):
                found.append([] if result is item.problem else [result])
                outcome = (Outcome.SKIPPED if result.rule is rules.DIRECTORY_SYMLINK
                           else Outcome.FAILED)
                records.append(FileRecord(item.path, source, item.kind, None, None, outcome,
                                          result.message))
                continue
            artifacts[item.path] = result
            found += [detector.detect(result) for detector in detectors]
            records.append(FileRecord(item.path, source, item.kind, result.size, result.sha256,
                                      Outcome.SCANNED))
        found += [detector.finish() for detector in detectors]
        findings = tuple(f for group in found for f in group)
    return _Read(artifacts, _with_data_kind(records, findings), findings)


def _read(item: Item, task: ProgressTask, hash_files: bool) -> Artifact | Finding:
    return item.problem if item.problem is not None else read_artifact(item, task,
                                                                       full=hash_files)


def _with_data_kind(records: list[FileRecord], findings: Iterable[Finding]
                    ) -> tuple[FileRecord, ...]:
    """The records, with kind "data" for the files found to be data files by their content."""
    data = {f.path for f in findings if f.rule is rules.DATA_FILE and f.member is None}
    return tuple(FileRecord(r.path, r.source, "data", r.size, r.sha256, r.outcome, r.reason)
                 if r.path in data else r for r in records)


MAX_FOLDER_DEPTH = 64


def repository_folder(root: Path) -> str:
    """`root` relative to the git repository it is in (posix, "" at its root or outside
    any), found by the `.git` entry of the nearest folder above that has one."""
    folder = root.absolute()
    for parent in [folder, *folder.parents][:MAX_FOLDER_DEPTH]:
        if os.path.lexists(parent / ".git"):
            inside = folder.relative_to(parent).as_posix()
            return "" if inside == "." else display_path(inside)
    return ""


def report_context(config: Config, inventory: Inventory) -> ReportContext:
    git = inventory.git
    left_out = None
    if inventory.left_out:
        left_out = LeftOutFiles(
            tuple(x.path for x in inventory.left_out if x.reason == "training-state"),
            tuple(x.path for x in inventory.left_out if x.reason == "config"))
    return ReportContext(
        release=ReleaseInfo(config.release.name, config.release.version),
        config=ConfigInfo(display_path(config.path.name), config.digest,
                          repository_folder(config.root)),
        git=None if git is None else GitState(git.commit, git.branch, tuple(sorted(git.dirty))),
        left_out=left_out)


def placed_in_config(findings: Iterable[Finding], config: Config) -> list[Finding]:
    """The findings, those about a setting of the release as a whole given the config file's
    line of that setting."""
    return [replace(f, line=config.line_of(f.config_key))
            if f.path is None and f.config_key is not None and f.line is None else f
            for f in findings]


def make_report(config: Config, options: ScanOptions, findings: Iterable[Finding],
                records: Iterable[FileRecord], context: ReportContext) -> Report:
    """The report of a scan (or of a stage built on one), judged with the config's baseline
    and failing severity."""
    baseline = options.baseline if options.baseline is not None else baseline_for(config)
    return Report.create(options.command, placed_in_config(findings, config), records,
                         fail_on=Severity(config.checks.fail_on), baseline=baseline,
                         today=options.today, context=context)
