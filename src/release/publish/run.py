"""`release publish`: the gate, the plan, the push, the read-back and the record."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from release import rules
from release.config import Config
from release.errors import UsageError
from release.findings import Finding
from release.pipeline.check import check_staged, default_report_path
from release.pipeline.context import PublishInfo
from release.pipeline.manifest import MANIFEST_NAME, Manifest
from release.pipeline.report import Report, append_publication
from release.progress import Progress
from release.publish.plan import (
    Publisher,
    PublishPlan,
    PublishRecord,
    commit_message,
    expand_tag,
    planned_files,
)

TARGETS = ("git", "hub")
# What a new Hub repository's .gitattributes routes through LFS, and the Hub's size cut-off:
# the plan's prediction; the Hub itself decides at upload time.
HUB_LFS_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.pth", "*.ckpt", "*.h5", "*.onnx",
                    "*.gguf", "*.msgpack", "*.model", "*.npy", "*.npz", "*.zip", "*.gz", "*.tar",
                    "*.zst")
HUB_LFS_THRESHOLD = 10 * 1024 * 1024


@dataclass(frozen=True)
class PublishResult:
    report: Report
    plan: PublishPlan | None
    record: PublishRecord | None


def stale_report(staged_dir: Path, report_path: Path) -> list[Finding]:
    """A report older than the newest staged file was not written for these bytes."""
    if not report_path.is_file():
        return []
    newest = max((entry.stat(follow_symlinks=False).st_mtime
                  for here, _dirs, names in os.walk(staged_dir)
                  for entry in (Path(here) / name for name in names)), default=0.0)
    if report_path.stat().st_mtime >= newest:
        return []
    return [Finding(rules.REPORT_STALE, None,
                    f"{report_path.name} is older than the newest file in {staged_dir.name}; "
                    "stage again with `release prepare`")]


def _settings(config: Config, target: str) -> Any:
    """[publish.git] or [publish.hub], which must be configured for that target."""
    settings = config.publish_git if target == "git" else config.publish_hub
    if settings is None:
        raise UsageError(f"[publish.{target}] is not configured", path=config.path)
    return settings


def _publisher(config: Config, target: str) -> Publisher:
    settings = _settings(config, target)
    if target == "git":
        from release.publish.git import GitPublisher, ensure_git_lfs

        ensure_git_lfs()
        return GitPublisher(settings, config.root)
    from release.publish.hub import HubPublisher, hub_token

    return HubPublisher(settings, hub_token())


def make_plan(config: Config, target: str, staged_dir: Path, manifest: Manifest) -> PublishPlan:
    settings = _settings(config, target)
    manifest_bytes = (staged_dir / MANIFEST_NAME).read_bytes()
    digest = hashlib.sha256(manifest_bytes).hexdigest()
    if target == "git":
        from release.publish.git import resolve_remote
        from release.publish.plan import MIB, public_location

        destination = public_location(resolve_remote(settings.remote, config.root))
        ref = settings.branch
        patterns, threshold = settings.lfs, int(settings.lfs_threshold_mb * MIB)
    else:
        from huggingface_hub import constants

        destination = f"{(settings.endpoint or constants.ENDPOINT).rstrip('/')}/{settings.repo_id}"
        ref = settings.revision
        patterns, threshold = HUB_LFS_PATTERNS, HUB_LFS_THRESHOLD
    return PublishPlan(target=target, destination=destination, ref=ref,
                       tag=expand_tag(settings.tag, manifest),
                       message=commit_message(manifest, digest), manifest_sha256=digest,
                       files=planned_files(manifest, manifest_bytes, patterns, threshold))


def publish(config: Config, target: str, *, staged_dir: Path | None = None,
            report_path: Path | None = None, dry_run: bool = False,
            progress: Progress | None = None) -> PublishResult:
    """Gate the staged folder, then push it (unless `dry_run`) and read the remote back."""
    if target not in TARGETS:
        raise UsageError(f"unknown publish target {target!r} (choose {', '.join(TARGETS)})")
    staged_dir = staged_dir or config.staged_dir
    report_path = report_path or default_report_path(staged_dir)
    checked, manifest = check_staged(staged_dir, report_path, progress=progress)
    findings = [*checked.findings, *stale_report(staged_dir, report_path)]
    def result(plan: PublishPlan | None, record: PublishRecord | None,
               extra: list[Finding] | tuple[Finding, ...] = ()) -> PublishResult:
        context = replace(checked.context, publish=PublishInfo(target, dry_run, plan, record))
        report = Report.create("publish", [*findings, *extra], checked.files, context=context)
        return PublishResult(report, plan, record)

    gate = result(None, None)
    if not gate.report.passed or manifest is None:
        return gate
    plan = make_plan(config, target, staged_dir, manifest)
    if dry_run:
        return result(plan, None)
    publisher = _publisher(config, target)
    outcome = publisher.apply(plan, staged_dir)
    if outcome.record is None:
        return result(plan, None, outcome.findings)
    problems = publisher.verify(plan, staged_dir, outcome.record)
    if not problems and outcome.record.status != "unchanged":
        append_publication(report_path, outcome.record.to_dict())
    return result(plan, outcome.record, problems)
