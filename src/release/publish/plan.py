"""What a publish will push: target, ref, tag and every file with its size and LFS routing."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from release import rules
from release.digests import git_blob_sha1, git_blob_sha1_of, lfs_pointer, sha256_file
from release.findings import Finding
from release.pipeline.globs import matches_any
from release.pipeline.manifest import MANIFEST_NAME, SIGNATURE_NAME, STAGED_REPORT_NAME, Manifest

CHANGED_AFTER_GATE = "changed after the publish gate verified it; nothing was pushed"
MIB = 1024 * 1024


@dataclass(frozen=True)
class PlannedFile:
    path: str
    size: int
    sha256: str
    lfs: bool


@dataclass(frozen=True)
class PublishPlan:
    """Everything a push will do; `--dry-run` prints this and stops."""

    target: str
    destination: str
    ref: str
    tag: str
    message: str
    manifest_sha256: str
    files: tuple[PlannedFile, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "destination": self.destination, "ref": self.ref,
                "tag": self.tag, "manifest_sha256": self.manifest_sha256,
                "files": [asdict(f) for f in self.files]}


@dataclass(frozen=True)
class PublishRecord:
    """What happened: appended to the release report and printed."""

    target: str
    destination: str
    ref: str
    tag: str
    commit: str
    url: str
    status: str  # "published", "tagged" (the commit was there) or "unchanged"
    manifest_sha256: str
    time: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(
        timespec="seconds"))
    pull_request: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PushOutcome:
    """A publisher's answer: a record when it pushed or found the release there, or findings."""

    record: PublishRecord | None
    findings: tuple[Finding, ...] = ()


class Publisher(Protocol):
    """One target: `plan` says what a push will do (a dry run stops there), `push` does it
    (idempotently: a release already there is recorded, not pushed again) and `verify` reads
    the remote back."""

    def plan(self, staged_dir: Path, manifest: Manifest) -> PublishPlan: ...

    def push(self, plan: PublishPlan, staged_dir: Path) -> PushOutcome: ...

    def verify(self, plan: PublishPlan, staged_dir: Path, record: PublishRecord
               ) -> list[Finding]: ...


def make_plan(target: str, destination: str, ref: str, tag_template: str, staged_dir: Path,
              manifest: Manifest, lfs_patterns: Iterable[str], lfs_threshold: int
              ) -> PublishPlan:
    """The plan of a push of the staged folder to `destination`: the manifest's files (and
    the manifest), which of them go through LFS, the commit message and the tag."""
    manifest_bytes = (staged_dir / MANIFEST_NAME).read_bytes()
    digest = hashlib.sha256(manifest_bytes).hexdigest()
    report = staged_dir / STAGED_REPORT_NAME  # folders staged before it was there have none
    report_size = report.stat().st_size if report.is_file() and not report.is_symlink() \
        else None
    signature = staged_dir / SIGNATURE_NAME  # when the release is signed
    signed = ((signature.stat().st_size, sha256_file(signature))
              if signature.is_file() and not signature.is_symlink() else None)
    return PublishPlan(target=target, destination=destination, ref=ref,
                       tag=expand_tag(tag_template, manifest.name, manifest.version),
                       message=commit_message(manifest, digest), manifest_sha256=digest,
                       files=planned_files(manifest, manifest_bytes, lfs_patterns,
                                           lfs_threshold, report_size, signed))


def tag_conflict(plan: PublishPlan, destination: str, commit: str) -> PushOutcome:
    """The refusal when the release's tag is on the remote with other files."""
    return PushOutcome(None, (Finding(
        rules.TAG_CONFLICT, None,
        f"tag {plan.tag} already exists on {destination} at commit {commit[:12]} with other "
        "files; nothing was pushed (choose a new version or tag)",
        evidence={"tag": plan.tag, "commit": commit}),))


# user:password@ before a host:path remote written the scp way (git has no password there, but
# a config may still hold one)
_SCP_PASSWORD = re.compile(r"^[^/@\s:]+:[^/@\s]+@(?=[\w.-]+:)")


def public_location(url: str) -> str:
    """A remote URL without any user name or password in it, safe to print; an scp-style
    remote keeps its user name (git@host:org/x.git) unless a password comes with it."""
    parts = urlsplit(url)
    if parts.scheme and parts.netloc and "@" in parts.netloc:
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return _SCP_PASSWORD.sub("***@", url)


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every secret (tokens, credentials in URLs) in a message."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    text = re.sub(r"(://)[^/@\s]+@", r"\1***@", text)
    return re.sub(r"(?<![^\s'\"(])[^/@\s:'\"(]+:[^/@\s]+@(?=[\w.-]+:)", "***@", text)


def expand_tag(template: str, name: str, version: str) -> str:
    """A tag template (`v{version}`) for a release's name and version."""
    return template.replace("{version}", version).replace("{name}", name)


def routes_through_lfs(path: str, size: int, patterns: Iterable[str], threshold_bytes: int
                       ) -> bool:
    return size >= threshold_bytes or matches_any(path, patterns)


def planned_files(manifest: Manifest, manifest_bytes: bytes, patterns: Iterable[str],
                  threshold_bytes: int, report_size: int | None = None,
                  signature: tuple[int, str] | None = None) -> tuple[PlannedFile, ...]:
    """The manifest's files plus the manifest itself (its bytes given), the report staged
    in the folder (its size given; its digest is the one the manifest pins) and the signature
    (its size and digest), in path order."""
    patterns = tuple(patterns)
    entries = [(f.path, f.size, f.sha256) for f in manifest.files]
    entries.append((MANIFEST_NAME, len(manifest_bytes),
                    hashlib.sha256(manifest_bytes).hexdigest()))
    if report_size is not None:
        entries.append((STAGED_REPORT_NAME, report_size, manifest.report_sha256))
    if signature is not None:
        entries.append((SIGNATURE_NAME, *signature))
    return tuple(PlannedFile(path, size, sha256,
                             size > 0 and routes_through_lfs(path, size, patterns, threshold_bytes))
                 for path, size, sha256 in sorted(entries))


def commit_message(manifest: Manifest, manifest_sha256: str) -> str:
    return (f"Release {manifest.name} {manifest.version}\n\n"
            f"Staged by release {manifest.tool_version}; every file is listed in "
            f"{MANIFEST_NAME}.\n\nRelease-Manifest: sha256:{manifest_sha256}\n")


_GLOB_SPECIALS = re.compile(r"([\\*?\[\]!#])")


def gitattributes_text(plan: PublishPlan, patterns: Iterable[str]) -> str:
    """Route the configured patterns and every other planned-LFS file through git-lfs."""
    lines = ["# Written by `release publish`: these files are stored with git-lfs."]
    patterns = tuple(patterns)
    lines += [f"{pattern.replace(' ', '[[:space:]]')} filter=lfs diff=lfs merge=lfs -text"
              for pattern in patterns]
    for planned in plan.files:
        if planned.lfs and not matches_any(planned.path, patterns):
            escaped = _GLOB_SPECIALS.sub(r"\\\1", planned.path).replace(" ", "[[:space:]]")
            lines.append(f"/{escaped} filter=lfs diff=lfs merge=lfs -text")
    return "\n".join(lines) + "\n"


def expected_blobs(plan: PublishPlan, staged_dir: Path) -> dict[str, str]:
    """The git blob id each planned file must have in the published tree (LFS: its pointer)."""
    return {f.path: (git_blob_sha1_of(lfs_pointer(f.sha256, f.size)) if f.lfs
                     else git_blob_sha1(staged_dir / f.path))
            for f in plan.files}
