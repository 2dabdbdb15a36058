"""Stages a release folder atomically: build in a hidden sibling, verify every byte, rename in."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from release.atomic import PendingFile, building_folder, prepare_file, replace_folder
from release.card.validate import CARD_PATH
from release.config import Config
from release.digests import copy_verified, sha256_file
from release.errors import UsageError
from release.fingerprint.index import LoadedIndex
from release.licensing.attach import attach, reuse_lint
from release.licensing.catalog import Catalog
from release.licensing.policy import LicensePlan
from release.ownership import (
    clean_leftovers,
    is_release_report,
    is_spdx_document,
    is_staged_release,
    require_replaceable,
)
from release.pipeline.aibom import AIBOM_NAME, render_aibom
from release.pipeline.context import StagedInfo
from release.pipeline.manifest import MANIFEST_NAME, STAGED_REPORT_NAME, Manifest, ManifestFile
from release.pipeline.read import Artifact
from release.pipeline.report import Report
from release.pipeline.report import report_text as render_report_json
from release.pipeline.scan import ScanResult
from release.progress import Progress, SilentProgress

CHANGED_SINCE_SCAN = "changed between scanning and staging; run again"


@dataclass(frozen=True)
class StagedRelease:
    path: Path
    report_path: Path
    report: Report
    manifest: Manifest
    manifest_sha256: str


@dataclass(frozen=True)
class StagedExtras:
    """What prepare adds to a scan: the licences to attach, the model card staged as README.md
    (in place of the model folder's own), and the report of it all."""

    licenses: LicensePlan
    catalog: Catalog
    card: str
    report: Report
    figures: tuple[tuple[str, bytes], ...] = ()  # (path, PNG bytes) the card refers to


def _attach_licensing(built: Path, config: Config, extras: StagedExtras,
                      artifacts: list[Artifact]) -> list[ManifestFile]:
    """LICENSES/, REUSE.toml and NOTICE, written into the staging folder and listed."""
    model = [a.item.path for a in artifacts if a.item.origin == "model"]
    code = [a.item.path for a in artifacts if a.item.origin == "code"]
    attached = attach(built, config, extras.catalog, extras.licenses, model, code,
                      [path for path, _ in extras.figures])
    return [_generated_entry(built, path) for path in attached.files]


def _generated_entry(built: Path, path: str) -> ManifestFile:
    """The manifest entry of a file the tool wrote into the staging folder."""
    return ManifestFile(path, (built / path).stat().st_size, sha256_file(built / path))


def _write_generated(built: Path, path: str, content: bytes) -> ManifestFile:
    """Write a file of the tool's own (the card, a figure, the BOM) into the staging folder,
    readable by all; its manifest entry."""
    (built / path).write_bytes(content)
    os.chmod(built / path, 0o644)
    return _generated_entry(built, path)


def _write_files(built: Path, config: Config, artifacts: list[Artifact],
                 extras: StagedExtras | None, index: LoadedIndex | None,
                 progress: Progress) -> list[ManifestFile]:
    """Every shipped file copied into the staging folder (refused if it changed since it was
    scanned), then the card, its figures, the licensing and the AI-BOM of them all; their
    manifest entries."""
    with progress.task("Staging files", sum(a.size for a in artifacts)) as task:
        for artifact in artifacts:
            copy_verified(artifact.item.source, built / artifact.item.path, artifact.sha256,
                          CHANGED_SINCE_SCAN, task.advance)
    files = [ManifestFile(a.item.path, a.size, a.sha256 or "") for a in artifacts]
    if extras is not None:
        files.append(_write_generated(built, CARD_PATH, extras.card.encode("utf-8")))
        files += [_write_generated(built, path, content) for path, content in extras.figures]
        files += _attach_licensing(built, config, extras, artifacts)
        meta = index.meta if index is not None else None
        bom = render_aibom(config, extras.licenses, files, meta.records if meta else None,
                           meta.text_bytes if meta else None)
        files.append(_write_generated(built, AIBOM_NAME, bom.encode("utf-8")))
    return files


def stage_release(config: Config, result: ScanResult, extras: StagedExtras | None = None,
                  progress: Progress | None = None) -> StagedRelease:
    """Write `<out>/<name>-<version>/` with its manifest, and the report next to it.

    Only a passing scan is staged. Everything is built in hidden temporary siblings; on any
    failure they are removed and the previous staged release, if any, is left as it was.
    """
    scanned = extras.report if extras is not None else result.report
    if not scanned.passed:
        raise UsageError("the scan did not pass; nothing is staged")
    progress = progress or SilentProgress()
    final = config.staged_dir
    _require_ours(config, final)
    artifacts = sorted((a for a in result.artifacts.values()
                        if extras is None or a.item.path != CARD_PATH), key=lambda a: a.item.path)
    pending: list[PendingFile] = []
    try:
        with building_folder(final) as built:
            index = result.matcher.index if result.matcher is not None else None
            files = _write_files(built, config, artifacts, extras, index, progress)
            generated = tuple(sorted(f.path for f in files[len(artifacts):]))
            report = dataclasses.replace(scanned, context=dataclasses.replace(
                scanned.context, staged=StagedInfo(final.name, len(artifacts), generated)))
            text = render_report_json(report.to_dict())
            manifest = _manifest(config, result, files, text)
            manifest_text = manifest.to_json()
            for name, content in ((MANIFEST_NAME, manifest_text), (STAGED_REPORT_NAME, text)):
                (built / name).write_text(content, encoding="utf-8")
                os.chmod(built / name, 0o644)
            if extras is not None:
                spdx = re.sub(r"^DocumentName: .*$", f"DocumentName: {final.name}",
                              reuse_lint(built).spdx, count=1, flags=re.MULTILINE)
                pending.append(prepare_file(_spdx_path(final), spdx))
            pending.insert(0, prepare_file(config.report_path, text))
            replace_folder(built, final)
    except BaseException:
        for leftover in pending:
            leftover.discard()
        raise
    for written in pending:
        written.commit()
    return StagedRelease(path=final, report_path=config.report_path, report=report,
                         manifest=manifest,
                         manifest_sha256=hashlib.sha256(manifest_text.encode("utf-8")).hexdigest())


def _spdx_path(final: Path) -> Path:
    """The SPDX document of a staged folder, beside it."""
    return final.with_name(f"{final.name}.spdx")


def _require_ours(config: Config, final: Path) -> None:
    """Stage only over what release staged before, and clean up after killed runs."""
    for path, ours, what in ((final, is_staged_release, "a staged release"),
                             (config.report_path, is_release_report, "a release report"),
                             (_spdx_path(final), is_spdx_document, "an SPDX document")):
        require_replaceable(path, ours, config_path=config.path, key="release.out", what=what)
        clean_leftovers(path)


def _manifest(config: Config, result: ScanResult, files: list[ManifestFile],
              report_text: str) -> Manifest:
    git = result.inventory.git
    return Manifest(
        name=config.release.name,
        version=config.release.version,
        config_sha256=config.digest,
        report_sha256=hashlib.sha256(report_text.encode("utf-8")).hexdigest(),
        files=tuple(files),
        git_commit=git.commit if git else None,
        git_branch=git.branch if git else None,
        git_dirty=bool(git.dirty) if git else False,
    )
