"""Stages a release folder atomically: build in a hidden sibling, verify every byte, rename in."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from release.card.validate import CARD_PATH
from release.config import Config
from release.detectors import Artifact
from release.digests import CHUNK, sha256_file
from release.errors import IntegrityError, UsageError
from release.licensing.attach import attach, reuse_lint
from release.licensing.catalog import load_catalog
from release.pipeline.context import StagedInfo
from release.pipeline.manifest import MANIFEST_NAME, Manifest, ManifestFile
from release.pipeline.report import Report
from release.pipeline.report import report_text as render_report_json
from release.pipeline.scan import ScanResult
from release.progress import Progress, ProgressTask, SilentProgress


@dataclass(frozen=True)
class StagedRelease:
    path: Path
    report_path: Path
    report: Report
    manifest: Manifest
    manifest_sha256: str


def copy_verified(artifact: Artifact, destination: Path, task: ProgressTask) -> None:
    """Copy the artifact's source, refusing it if its bytes changed since they were scanned."""
    digest = hashlib.sha256()
    destination.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    with artifact.item.source.open("rb") as source, destination.open("xb") as target:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            target.write(chunk)
            task.advance(len(chunk))
    os.chmod(destination, 0o644)
    if artifact.sha256 is None or digest.hexdigest() != artifact.sha256:
        raise IntegrityError("changed between scanning and staging; run again",
                             path=artifact.item.source)


def _attach_licensing(built: Path, config: Config, result: ScanResult,
                      artifacts: list[Artifact]) -> list[ManifestFile]:
    """LICENSES/, REUSE.toml and NOTICE, written into the staging folder and listed."""
    assert result.licenses is not None
    catalog = load_catalog(config.release.license_texts)
    model = [a.item.path for a in artifacts if a.item.origin == "model"]
    code = [a.item.path for a in artifacts if a.item.origin == "code"]
    attached = attach(built, config, catalog, result.licenses, model, code)
    return [_generated_entry(built, path) for path in attached.files]


def _generated_entry(built: Path, path: str) -> ManifestFile:
    """The manifest entry of a file the tool wrote into the staging folder."""
    return ManifestFile(path, (built / path).stat().st_size, sha256_file(built / path))


def _swap_in(built: Path, final: Path) -> None:
    """Replace `final` with `built`; an older staged folder is set aside, then removed."""
    old: Path | None = None
    if final.exists() or final.is_symlink():
        if final.is_symlink() or not final.is_dir():
            raise UsageError("exists and is not a staged release folder; remove it", path=final)
        old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
        os.rename(final, old)
    try:
        os.rename(built, final)
    except BaseException:
        if old is not None:
            os.rename(old, final)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def stage_release(
    config: Config, result: ScanResult, *, progress: Progress | None = None
) -> StagedRelease:
    """Write `<out>/<name>-<version>/` with its manifest, and the report next to it.

    Only a passing scan is staged. Everything is built in hidden temporary siblings; on any
    failure they are removed and the previous staged release, if any, is left as it was.
    """
    if not result.report.passed:
        raise UsageError("the scan did not pass; nothing is staged")
    progress = progress or SilentProgress()
    out = config.release.out
    out.mkdir(parents=True, exist_ok=True)
    final = config.staged_dir
    report_path = config.report_path
    built = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=out))
    os.chmod(built, 0o755)
    report_tmp: Path | None = None
    spdx_tmp: Path | None = None
    try:
        artifacts = sorted((a for a in result.artifacts.values()
                            if result.card is None or a.item.path != CARD_PATH),
                           key=lambda a: a.item.path)
        with progress.task("Staging files", sum(a.size for a in artifacts)) as task:
            for artifact in artifacts:
                copy_verified(artifact, built / artifact.item.path, task)
        report = dataclasses.replace(result.report, context=dataclasses.replace(
            result.report.context, staged=StagedInfo(final.name, len(artifacts))))
        report_text = render_report_json(report.to_dict())
        git = result.inventory.git
        files = [ManifestFile(a.item.path, a.size, a.sha256 or "") for a in artifacts]
        if result.card is not None:
            card = built / CARD_PATH
            card.write_text(result.card, encoding="utf-8")
            os.chmod(card, 0o644)
            files.append(_generated_entry(built, CARD_PATH))
        if result.licenses is not None:
            files += _attach_licensing(built, config, result, artifacts)
        manifest = Manifest(
            name=config.release.name,
            version=config.release.version,
            config_sha256=config.digest,
            report_sha256=hashlib.sha256(report_text.encode("utf-8")).hexdigest(),
            files=tuple(files),
            git_commit=git.commit if git else None,
            git_branch=git.branch if git else None,
            git_dirty=bool(git.dirty) if git else False,
        )
        manifest_text = manifest.to_json()
        (built / MANIFEST_NAME).write_text(manifest_text, encoding="utf-8")
        os.chmod(built / MANIFEST_NAME, 0o644)
        if result.licenses is not None:
            spdx_text = re.sub(r"^DocumentName: .*$", f"DocumentName: {final.name}",
                               reuse_lint(built).spdx, count=1, flags=re.MULTILINE)
            fd, spdx_name = tempfile.mkstemp(prefix=".spdx.", suffix=".partial", dir=out)
            spdx_tmp = Path(spdx_name)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(spdx_text)
            os.chmod(spdx_tmp, 0o644)
        fd, tmp_name = tempfile.mkstemp(prefix=".release-report.", suffix=".partial", dir=out)
        report_tmp = Path(tmp_name)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(report_text)
        os.chmod(report_tmp, 0o644)
        _swap_in(built, final)
        os.replace(report_tmp, report_path)
        report_tmp = None
        if spdx_tmp is not None:
            os.replace(spdx_tmp, out / f"{final.name}.spdx")
            spdx_tmp = None
    except BaseException:
        shutil.rmtree(built, ignore_errors=True)
        for leftover in (report_tmp, spdx_tmp):
            if leftover is not None:
                leftover.unlink(missing_ok=True)
        raise
    return StagedRelease(
        path=final,
        report_path=report_path,
        report=report,
        manifest=manifest,
        manifest_sha256=hashlib.sha256(manifest_text.encode("utf-8")).hexdigest(),
    )
