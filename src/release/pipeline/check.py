"""Re-verifies a staged release against its manifest and report: any drift is a finding."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from release import rules
from release.card.validate import agrees_with_licensing
from release.config import DEFAULT_CONFIG_NAME, load_config
from release.config.settings import REPORT_SUFFIX
from release.digests import sha256_file
from release.errors import ReleaseError, UsageError, display_path
from release.findings import FileRecord, Finding, Outcome
from release.licensing.catalog import load_catalog
from release.pipeline.context import GitState, ReleaseInfo, ReportContext, StagedInfo
from release.pipeline.inventory import source_commit
from release.pipeline.kinds import classify_kind
from release.pipeline.manifest import (
    GITATTRIBUTES,
    MANIFEST_NAME,
    SIGNATURE_NAME,
    STAGED_REPORT_NAME,
    Manifest,
    ManifestInvalid,
    read_manifest,
)
from release.pipeline.report import VERDICT_PASS, Report, read_report_verdict, report_sha256
from release.progress import Progress, SilentProgress
from release.regular import read_regular
from release.signature import differences, signed_digests

LEGACY_REPORT_NAME = "release-report.json"  # one shared report, before reports were per version


def default_report_path(staged_dir: Path) -> Path:
    """The report of a staged folder: `<folder>.report.json` beside it (which also records
    the publications), else the copy staged inside it (all a clone of a publication has),
    else the shared release-report.json of folders staged by earlier versions of release."""
    beside = staged_dir.with_name(staged_dir.name + REPORT_SUFFIX)
    for candidate in (beside, staged_dir / STAGED_REPORT_NAME,
                      staged_dir.parent / LEGACY_REPORT_NAME):
        if candidate.is_file():
            return candidate
    return beside


def _check_inner_report(staged_dir: Path, manifest: Manifest) -> list[Finding]:
    """The report inside the folder ships with a publication: it must be the pinned one."""
    inner = staged_dir / STAGED_REPORT_NAME
    if not inner.is_file() or report_sha256(inner) == manifest.report_sha256:
        return []
    return [Finding(rules.REPORT_MISMATCH, STAGED_REPORT_NAME,
                    "is not the report this release was staged with", basis="inner")]


DOWNLOAD_CACHE = ".cache/huggingface"  # huggingface_hub's metadata in a snapshot's local_dir
_LFS_LINE = re.compile(r"^\S+ filter=lfs diff=lfs merge=lfs -text$")


def _publication_files(staged_dir: Path, files: dict[str, os.stat_result]) -> list[Finding]:
    """Take out of `files` what a publication adds to a clone of its tree: the .gitattributes
    that routes files through LFS (nothing else may be in it: an attribute can run a filter
    on checkout). A clone's .git folder is not walked at all."""
    if GITATTRIBUTES not in files:
        return []
    del files[GITATTRIBUTES]
    try:
        lines = read_regular(staged_dir / GITATTRIBUTES).decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        lines = ["(unreadable)"]
    if all(not line.strip() or line.startswith("#") or _LFS_LINE.match(line) for line in lines):
        return []
    return [Finding(rules.FILE_ADDED, GITATTRIBUTES,
                    "holds more than the LFS routing a publication writes (an attribute can "
                    "run a filter on checkout)", basis="gitattributes")]


def _present_files(staged_dir: Path) -> tuple[dict[str, os.stat_result], list[Finding]]:
    """Regular files under the folder by relative path; links and special files are findings.
    The manifest and the report staged beside it are not files of the release."""
    files: dict[str, os.stat_result] = {}
    findings: list[Finding] = []
    for here, dirs, names in os.walk(staged_dir, followlinks=False):
        base = Path(here)
        if base == staged_dir and ".git" in dirs and (base / ".git").is_dir():
            dirs.remove(".git")  # a clone of the published tree
        if base == (staged_dir / DOWNLOAD_CACHE).parent and "huggingface" in dirs:
            dirs.remove("huggingface")  # what huggingface_hub keeps beside a download
        for name in sorted(names + [d for d in dirs if (base / d).is_symlink()]):
            path = base / name
            relative = path.relative_to(staged_dir).as_posix()
            info = path.lstat()
            if stat.S_ISREG(info.st_mode):
                files[relative] = info
            else:
                findings.append(Finding(rules.FILE_ADDED, relative,
                                        "is a symlink or special file; a release holds only "
                                        "regular files", basis="special"))
        dirs[:] = [d for d in dirs if not (base / d).is_symlink()]
    for name in (MANIFEST_NAME, STAGED_REPORT_NAME, SIGNATURE_NAME):
        files.pop(name, None)
    findings += _publication_files(staged_dir, files)
    return files, findings


def _compare(staged_dir: Path, manifest: Manifest, progress: Progress,
             known: Mapping[str, str] | None = None) -> tuple[list[Finding], list[FileRecord]]:
    """Every manifest entry against the file where it lies; `known` digests (a verified
    signature's) are taken instead of hashing those files again."""
    present, findings = _present_files(staged_dir)
    records = []
    expected = {f.path: f for f in manifest.files}
    with progress.task("Verifying files", sum(f.size for f in manifest.files)) as task:
        for path, entry in sorted(expected.items()):
            info = present.get(path)
            if info is None:
                findings.append(Finding(rules.FILE_REMOVED, path, "is in the manifest but missing"))
                records.append(FileRecord(path, path, classify_kind(Path(path).name), None, None,
                                          Outcome.FAILED, "missing"))
                continue
            digest = (known or {}).get(path)
            if digest is None:
                digest = sha256_file(staged_dir / path, task.advance)
            else:
                task.advance(info.st_size)
            if info.st_size != entry.size or digest != entry.sha256:
                findings.append(Finding(
                    rules.FILE_CHANGED, path, "differs from the manifest (edited after staging)",
                    evidence={"expected_sha256": entry.sha256, "sha256": digest,
                              "expected_size": entry.size, "size": info.st_size}))
            records.append(FileRecord(path, path, classify_kind(Path(path).name), info.st_size,
                                      digest, Outcome.SCANNED))
    for path in sorted(set(present) - set(expected)):
        findings.append(Finding(rules.FILE_ADDED, path, "is not in the manifest (added after "
                                "staging)"))
    return findings, records


def _check_signature(staged_dir: Path, records: list[FileRecord]) -> list[Finding]:
    """A signature in the folder must name exactly its files with their bytes (a folder
    re-staged and not signed again fails here); who signed it is `release verify`'s question."""
    signature = staged_dir / SIGNATURE_NAME
    if not signature.is_file():
        return []
    signed = signed_digests(signature)
    if not signed:
        return [Finding(rules.SIGNATURE_MISMATCH, SIGNATURE_NAME,
                        "cannot be read as a model signature", basis="unreadable")]
    present = {r.path: r.sha256 for r in records if r.sha256}
    for name in (MANIFEST_NAME, STAGED_REPORT_NAME):
        if (staged_dir / name).is_file():
            present[name] = sha256_file(staged_dir / name)
    return differences(signed, present)


def _check_report(report_path: Path, manifest: Manifest) -> list[Finding]:
    if not report_path.is_file():
        return [Finding(rules.REPORT_MISMATCH, None,
                        f"no release report at {report_path.name} next to the staged folder, "
                        f"nor {STAGED_REPORT_NAME} in it")]
    if report_sha256(report_path) != manifest.report_sha256:
        return [Finding(rules.REPORT_MISMATCH, None,
                        f"{report_path.name} is not the report this release was staged with")]
    try:
        verdict, data = read_report_verdict(report_path)
    except ReleaseError as exc:
        return [Finding(rules.REPORT_MISMATCH, None, f"{report_path.name}: {exc}")]
    if verdict != VERDICT_PASS:
        return [Finding(rules.REPORT_NOT_PASSED, None,
                        f"{report_path.name} has verdict {verdict!r}", basis=verdict)]
    return _manifest_against_report(manifest, data, report_path.name)


def _manifest_against_report(manifest: Manifest, report: dict[str, object], name: str
                             ) -> list[Finding]:
    """Every file of the manifest is one the report's scan saw, with the same bytes, or one
    the staging wrote (listed in the report's staged block); and the release is the report's:
    so a file edited together with its manifest entry, or a manifest given another version,
    is refused."""
    files = report.get("files")
    staged = report.get("staged")
    release = report.get("release")
    scanned = {f.get("path"): f.get("sha256") for f in files if isinstance(f, dict)} \
        if isinstance(files, list) else {}
    generated = set(staged.get("generated") or []) if isinstance(staged, dict) else set()
    findings = []
    for entry in manifest.files:
        if entry.path in generated:
            continue
        if entry.path not in scanned:
            findings.append(Finding(rules.MANIFEST_NOT_SCANNED, entry.path,
                                    f"is in the manifest but {name} never scanned it",
                                    basis="unscanned"))
        elif scanned[entry.path] != entry.sha256:
            findings.append(Finding(
                rules.MANIFEST_NOT_SCANNED, entry.path,
                f"its manifest entry is not the sha256 {name} scanned (file and manifest edited "
                "after staging)", evidence={"manifest_sha256": entry.sha256,
                                            "scanned_sha256": scanned[entry.path]},
                basis="digest"))
    if not isinstance(release, dict) or (release.get("name"), release.get("version")) != (
            manifest.name, manifest.version):
        findings.append(Finding(
            rules.MANIFEST_NOT_SCANNED, MANIFEST_NAME,
            f"the manifest names {manifest.name} {manifest.version}, not the release {name} "
            "is about", basis="release"))
    return findings


def _check_licensing(staged_dir: Path) -> list[Finding]:
    """A staged release with REUSE.toml must still be REUSE-compliant."""
    from release.licensing.attach import REUSE_NAME, reuse_report

    if not (staged_dir / REUSE_NAME).is_file():
        return []
    result = reuse_report(staged_dir, ignored=(DOWNLOAD_CACHE,))
    if result.compliant:
        return []
    return [Finding(rules.NOT_REUSE_COMPLIANT, REUSE_NAME,
                    f"the staged release is not REUSE-compliant: {result.problems}",
                    evidence={"problems": result.problems})]


def _check_commit(manifest: Manifest, expected_commit: str) -> list[Finding]:
    """A staged folder from another commit must not pass for this one (a stale CI artifact)."""
    if manifest.git_commit == expected_commit:
        return []
    built = (f"commit {manifest.git_commit} (branch {manifest.git_branch or 'detached'})"
             if manifest.git_commit else "no git commit")
    return [Finding(rules.SOURCE_COMMIT_MISMATCH, MANIFEST_NAME,
                    f"the staged release was built from {built}, but the commit being checked "
                    f"is {expected_commit}; run `release prepare` on this commit",
                    evidence={"built_from": manifest.git_commit, "checking": expected_commit})]


def check_staged(
    staged_dir: Path, report_path: Path | None = None, *, progress: Progress | None = None,
    expected_commit: str | None = None, require_commit: bool = False,
    known_digests: Mapping[str, str] | None = None,
) -> tuple[Report, Manifest | None]:
    """Verify every staged byte against the manifest and the manifest against the report, and,
    given `expected_commit`, that the release was built from that commit (a release built
    outside git is refused only when `require_commit`: the commit was named explicitly)."""
    if not staged_dir.is_dir():
        raise UsageError("is not a staged release folder (run `release prepare`)", path=staged_dir)
    progress = progress or SilentProgress()
    try:
        manifest = read_manifest(staged_dir)
    except ManifestInvalid as exc:
        finding = Finding(rules.MANIFEST_INVALID, MANIFEST_NAME, str(exc))
        return Report.create("check", [finding], []), None
    findings, records = _compare(staged_dir, manifest, progress, known_digests)
    findings.extend(_check_signature(staged_dir, records))
    findings.extend(_check_report(report_path or default_report_path(staged_dir), manifest))
    findings.extend(_check_inner_report(staged_dir, manifest))
    findings.extend(_check_licensing(staged_dir))
    findings.extend(agrees_with_licensing(staged_dir, load_catalog()))
    if expected_commit is not None and (manifest.git_commit or require_commit):
        findings.extend(_check_commit(manifest, expected_commit))
    context = ReportContext(
        release=ReleaseInfo(manifest.name, manifest.version),
        staged=StagedInfo(staged_dir.name, len(manifest.files)),
        git=GitState(manifest.git_commit, manifest.git_branch, manifest.git_dirty))
    return Report.create("check", findings, records, context=context), manifest


@dataclass(frozen=True)
class CheckResult:
    report: Report
    manifest: Manifest | None
    notes: tuple[str, ...]  # what was and was not checked about the source commit


def check_release(directory: Path | None, *, report_path: Path | None = None,
                  expected_commit: str | None = None, config_path: Path | None = None,
                  progress: Progress | None = None) -> CheckResult:
    """`release check`: the staged folder (DIRECTORY, or the config's), its report, and the
    commit it must have been built from (given, or the one checked out where the config's code
    is). The config is read when no folder is given, when one is named, or when
    ./release.toml exists; without it and without a commit, the commit is not checked."""
    explicit = expected_commit is not None
    notes = []
    if directory is None or config_path is not None or Path(DEFAULT_CONFIG_NAME).is_file():
        config = load_config(config_path)
        directory = directory or config.staged_dir
        expected_commit = expected_commit or source_commit(config)
    elif not explicit:
        notes.append("not checking the source commit: give --commit, or run where "
                     "release.toml is")
    report, manifest = check_staged(directory, report_path, progress=progress,
                                    expected_commit=expected_commit, require_commit=explicit)
    if manifest is not None:
        built = manifest.git_commit or "no git commit"
        branch = f" on branch {manifest.git_branch}" if manifest.git_branch else ""
        notes.append(f"{display_path(directory)} was built from {built}{branch}"
                     + (f"; checking commit {expected_commit}" if expected_commit else ""))
    return CheckResult(report, manifest, tuple(notes))
