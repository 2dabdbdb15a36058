"""The scan step: inventory, read every shipped file once, run the detectors, build the report."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from release import rules
from release.baseline import Baseline, load_baseline
from release.card.data import card_data, existing_metadata
from release.card.render import render as render_card
from release.card.validate import CARD_PATH, check_card
from release.config import DEFAULT_BASELINE_NAME, Config
from release.detectors import Artifact, run_file_detectors
from release.detectors.datacopy import find_copies, find_copies_by_digest, list_source_files
from release.detectors.leaks import LeakScanner
from release.digests import CHUNK, sha256_file
from release.errors import InputError, display_path
from release.extract.sniff import HEAD_BYTES, TAIL_BYTES
from release.findings import FileRecord, Finding, Outcome, Severity
from release.fingerprint.match import Matcher
from release.fingerprint.service import ensure_index
from release.licensing.catalog import Catalog, load_catalog
from release.licensing.policy import LicensePlan, plan_licenses
from release.pipeline.context import ConfigInfo, GitState, Licensing, ReleaseInfo, ReportContext
from release.pipeline.inventory import Inventory, Item, build_inventory, files_inventory
from release.pipeline.report import Report
from release.progress import Progress, ProgressTask, SilentProgress


@dataclass(frozen=True)
class ScanResult:
    report: Report
    inventory: Inventory
    artifacts: dict[str, Artifact]  # by release path, for files read successfully
    notes: tuple[str, ...] = ()  # what the scan did on the side (index built, key created)
    licenses: LicensePlan | None = None  # for prepare: what every component ships under
    card: str | None = None  # for prepare: the model card staged as README.md


def relative_source(path: Path, root: Path) -> str:
    """`path` relative to `root` when inside it, else absolute; always posix and printable."""
    absolute = path.absolute()
    try:
        return display_path(absolute.relative_to(root.absolute()).as_posix())
    except ValueError:
        return display_path(absolute.as_posix())


def _open_regular(item: Item) -> int:
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not item.source.is_symlink():
        flags |= getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(item.source, flags)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise IsADirectoryError(0, "no longer a regular file")
    return fd


def read_artifact(item: Item, task: ProgressTask, *, full: bool = True) -> Artifact | Finding:
    """Hash the file and keep its head and tail for sniffing, in one pass; without `full`, read
    only the head and tail (a fast scan of a 10 GB weights file costs two small reads)."""
    try:
        fd = _open_regular(item)
    except FileNotFoundError:
        raise InputError("vanished while it was being scanned", path=item.source) from None
    except OSError as exc:
        return Finding(rules.UNREADABLE_FILE, item.path,
                       f"cannot be read ({exc.strerror or 'not a regular file'})")
    if not full:
        return _read_ends(item, fd, task)
    digest = hashlib.sha256()
    head = bytearray()
    tail = b""
    size = 0
    try:
        with os.fdopen(fd, "rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
                if len(head) < HEAD_BYTES:
                    head.extend(chunk[: HEAD_BYTES - len(head)])
                tail = (tail + chunk)[-TAIL_BYTES:]
                size += len(chunk)
                task.advance(len(chunk))
    except OSError as exc:
        return Finding(rules.UNREADABLE_FILE, item.path, f"read failed ({exc.strerror})")
    return Artifact(item=item, size=size, sha256=digest.hexdigest(), head=bytes(head), tail=tail)


def _read_ends(item: Item, fd: int, task: ProgressTask) -> Artifact | Finding:
    try:
        size = os.fstat(fd).st_size
        head = os.pread(fd, HEAD_BYTES, 0)
        tail = os.pread(fd, TAIL_BYTES, max(0, size - TAIL_BYTES))
    except OSError as exc:
        return Finding(rules.UNREADABLE_FILE, item.path, f"read failed ({exc.strerror})")
    finally:
        os.close(fd)
    task.advance(size)
    return Artifact(item=item, size=size, sha256=None, head=head, tail=tail)


def _with_digests(artifacts: dict[str, Artifact], sizes: set[int]) -> list[Artifact]:
    """The artifacts whose size matches a data source file, hashed if not yet: only those can
    be byte-identical copies."""
    hashed = []
    for artifact in artifacts.values():
        if artifact.size not in sizes:
            continue
        if artifact.sha256 is None:
            try:
                artifact = dataclasses.replace(artifact, sha256=sha256_file(artifact.item.source))
            except FileNotFoundError:
                raise InputError("vanished while it was being scanned",
                                 path=artifact.item.source) from None
        hashed.append(artifact)
    return hashed


def _planned_size(item: Item) -> int:
    try:
        return item.source.stat().st_size
    except OSError:
        return 0


def baseline_for(config: Config, explicit: Path | None = None) -> Baseline:
    path = explicit or config.checks.baseline or (config.root / DEFAULT_BASELINE_NAME)
    return load_baseline(path)


def report_context(config: Config, inventory: Inventory) -> ReportContext:
    git = inventory.git
    return ReportContext(
        release=ReleaseInfo(config.release.name, config.release.version),
        config=ConfigInfo(display_path(config.path.name), config.digest),
        git=None if git is None else GitState(git.commit, git.branch, tuple(sorted(git.dirty))))


def scan(
    config: Config,
    *,
    progress: Progress | None = None,
    baseline: Baseline | None = None,
    today: dt.date | None = None,
    command: str = "scan",
    hash_files: bool = True,
    audit: bool = False,
    licensing: bool = False,
    files: Sequence[Path] | None = None,
    files_base: Path | None = None,
) -> ScanResult:
    """Inventory and scan of everything that would ship. Without `hash_files` (the fast scan),
    only files that could be copies of a data source are hashed in full. With `files`, only
    those files are scanned (paths relative to `files_base`), with the same detectors and index."""
    progress = progress or SilentProgress()
    if files is not None:
        inventory = files_inventory(config, files, files_base or Path.cwd())
    else:
        inventory = build_inventory(config)
    findings: list[Finding] = list(inventory.findings)
    records: list[FileRecord] = []
    artifacts: dict[str, Artifact] = {}
    readable = [i for i in inventory.items if i.problem is None]
    total = sum(_planned_size(i) for i in readable)
    with progress.task("Scanning files", total) as task:
        for item in inventory.items:
            source = relative_source(item.source, config.root)
            if item.problem is not None:
                outcome = (Outcome.SKIPPED if item.problem.rule is rules.DIRECTORY_SYMLINK
                           else Outcome.FAILED)
                records.append(FileRecord(item.path, source, item.kind, None, None, outcome,
                                          item.problem.message))
                continue
            result = read_artifact(item, task, full=hash_files)
            if isinstance(result, Finding):
                findings.append(result)
                records.append(FileRecord(item.path, source, item.kind, None, None,
                                          Outcome.FAILED, result.message))
                continue
            artifacts[item.path] = result
            file_findings = run_file_detectors(result)
            findings.extend(file_findings)
            kind = "data" if any(f.rule is rules.DATA_FILE and f.member is None
                                 for f in file_findings) else item.kind
            records.append(FileRecord(item.path, source, kind, result.size, result.sha256,
                                      Outcome.SCANNED))
    notes: list[str] = []
    scanner: LeakScanner | None = None
    if config.data.sources:
        leaks, scanner = _leak_findings(config, artifacts, progress, notes)
        findings.extend(leaks)
    else:
        findings.append(Finding(rules.NO_DATA_SOURCES, None,
                                f"{display_path(config.path.name)} has no [[data.sources]]; "
                                "add the confidential training data so it can be checked"))
    context = report_context(config, inventory)
    plan = None
    catalog: Catalog | None = None
    if licensing:
        catalog = load_catalog(config.release.license_texts)
        plan = plan_licenses(config, catalog, today=today)
        findings.extend(plan.findings)
        context = replace(context, agreement=plan.dates, licenses=Licensing(
            plan.model, plan.code, plan.docs, tuple(sorted(plan.ids))))
    if audit:
        from release.audit.run import audit_for_prepare

        audited = audit_for_prepare(config, progress)
        findings.extend(audited.findings)
        context = replace(context, memorization=audited.summary)

    def make_report(all_findings: list[Finding]) -> Report:
        return Report.create(
            command,
            all_findings,
            records,
            fail_on=Severity(config.checks.fail_on),
            baseline=baseline if baseline is not None else baseline_for(config),
            today=today,
            context=context,
        )

    report = make_report(findings)
    card = None
    if plan is not None and catalog is not None:
        card, card_findings = _card(config, report, plan, catalog, artifacts, scanner)
        if card_findings:
            report = make_report(findings + card_findings)
    return ScanResult(report=report, inventory=inventory, artifacts=artifacts,
                      notes=tuple(notes), licenses=plan, card=card)


def _card(config: Config, report: Report, plan: LicensePlan, catalog: Catalog,
          artifacts: dict[str, Artifact], scanner: LeakScanner | None
          ) -> tuple[str, list[Finding]]:
    """The model card for prepare, checked offline and, like every shipped byte, for leaks."""
    model_files = [(a.item.path, a.size) for a in artifacts.values()
                   if a.item.origin == "model" and a.item.path != CARD_PATH]
    text = render_card(config, card_data(config, report, plan, catalog, model_files))
    findings = check_card(text, plan, catalog, existing_metadata(config))
    if scanner is not None:
        text_hits, sensitive_hits = scanner.matcher.match([text])
        if text_hits or sensitive_hits:
            findings.append(Finding(
                rules.TRAINING_TEXT if text_hits else rules.SENSITIVE_VALUE, CARD_PATH,
                "the generated model card quotes training data (check [agreement] "
                "descriptions and the model folder's README.md)", basis="card"))
    return text, findings


def _leak_findings(config: Config, artifacts: dict[str, Artifact], progress: Progress,
                   notes: list[str]) -> tuple[list[Finding], LeakScanner]:
    """Renamed copies of the data, training text and sensitive values in every artifact."""
    status = ensure_index(config, progress)
    if status.key_created:
        notes.append(f"generated a new index key in {display_path(config.data.key_file)}: keep "
                     "it secret, out of git, and give it to CI as RELEASE_INDEX_KEY")
    if status.built:
        notes.append(f"built the fingerprint index ({status.reason})")
    index = status.index
    source_files, unavailable = list_source_files(config.data.sources)
    sizes = {f.size for f in source_files}
    sizes |= {size for stamp in index.meta.sources for size, _digest in stamp.files}
    candidates = _with_digests(artifacts, sizes)
    findings = find_copies(((a.item.path, a.size, a.sha256 or "") for a in candidates),
                           source_files)
    covered = {stamp.key for stamp in index.meta.sources}
    findings.extend(f for f in unavailable if f.evidence.get("source") not in covered)
    findings.extend(find_copies_by_digest(
        ((a.item.path, a.sha256 or "") for a in candidates),
        [s for s in index.meta.sources if any(f.evidence.get("source") == s.key
                                               for f in unavailable)],
        index.key))
    scanner = LeakScanner(Matcher(index))
    with progress.task("Checking for training data", sum(a.size for a in artifacts.values())
                       ) as task:
        findings.extend(scanner.scan_all(artifacts.values(), task))
    return findings, scanner
