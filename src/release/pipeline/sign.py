"""`release sign` and `release verify`: sign a staged release that passes its check, and verify
a release where it lies, on a git remote at a tag, or on the Hub at a revision."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from release import rules
from release.config import Config
from release.errors import InputError, UsageError
from release.pipeline.check import check_staged, default_report_path
from release.pipeline.inventory import source_commit
from release.pipeline.manifest import SIGNATURE_NAME
from release.pipeline.report import Report
from release.progress import Progress, SilentProgress
from release.publish.plan import public_location, redact
from release.signature import Trust, sign_folder, signed_digests, verify_folder

FETCH_TIMEOUT = 600.0  # seconds a clone or a download may take


def sign_release(config: Config, progress: Progress | None = None
                 ) -> tuple[Report, Path | None]:
    """Sign the config's staged folder once it passes `release check` (a signature it holds
    is replaced: it is about to be made again); the check's report and the signature."""
    if config.sign is None:
        raise UsageError(f"{config.path.name} has no [sign] section: say how to sign "
                         '(method = "key", "certificate" or "sigstore")')
    staged_dir = config.staged_dir
    report, _ = check_staged(staged_dir, default_report_path(staged_dir), progress=progress,
                             expected_commit=source_commit(config))
    findings = [f for f in report.findings if f.rule is not rules.SIGNATURE_MISMATCH]
    report = Report.create("sign", findings, report.files, context=report.context)
    if not report.passed:
        return report, None
    return report, sign_folder(staged_dir, config.sign)


@dataclass(frozen=True)
class Source:
    """Where the release to verify lies: a folder, a git remote at a tag, or a Hub repo at a
    revision (an endpoint other than the Hub's, for mirrors and tests)."""

    folder: Path | None = None
    git_url: str | None = None
    tag: str | None = None
    hub_repo: str | None = None
    revision: str | None = None
    endpoint: str | None = None

    def describe(self) -> str:
        if self.git_url is not None:
            return f"{public_location(self.git_url)} at {self.tag}"
        if self.hub_repo is not None:
            return f"{self.hub_repo} at {self.revision}"
        return str(self.folder)


@contextmanager
def _fetched(source: Source) -> Iterator[Path]:
    if source.folder is not None:
        yield source.folder
        return
    with tempfile.TemporaryDirectory(prefix="release-verify-") as scratch:
        target = Path(scratch) / "release"
        if source.git_url is not None:
            _clone(source.git_url, source.tag or "", target)
        else:
            _download(source, target)
        yield target


def _clone(url: str, tag: str, target: Path) -> None:
    """A shallow clone of the tag, LFS files fetched (git-lfs smudges them on checkout)."""
    command = ["git", "-c", "advice.detachedHead=false", "clone", "--quiet", "--depth", "1",
               "--branch", tag, "--", url, str(target)]
    environment = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    try:
        subprocess.run(command, check=True, capture_output=True, text=True,
                       timeout=FETCH_TIMEOUT, env=environment)
    except subprocess.CalledProcessError as exc:
        said = (exc.stderr or "").strip().splitlines()
        raise InputError(f"cannot clone {public_location(url)} at {tag}: "
                         f"{redact(said[-1] if said else 'git failed', [url])}") from None
    except subprocess.TimeoutExpired:
        raise InputError(f"cloning {public_location(url)} took over {FETCH_TIMEOUT:.0f} s") \
            from None


def _download(source: Source, target: Path) -> None:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError

    try:
        snapshot_download(repo_id=source.hub_repo or "", revision=source.revision,
                          local_dir=target, endpoint=source.endpoint,
                          etag_timeout=FETCH_TIMEOUT)
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise InputError(f"cannot download {source.describe()} from the Hub "
                         f"({type(exc).__name__})") from None


def verify_release(source: Source, trust: Trust, progress: Progress | None = None) -> Report:
    """The release checked as a downstream user gets it: its signature against what they
    trust (each file that differs named), then its files against its manifest and report."""
    progress = progress or SilentProgress()
    with _fetched(source) as folder:
        if not folder.is_dir():
            raise UsageError("is not a folder", path=folder)
        signed = verify_folder(folder, trust)
        # a verified signature already says every file's sha256: no second pass over them
        verified = None if signed else signed_digests(folder / SIGNATURE_NAME)
        checked, _ = check_staged(folder, default_report_path(folder), progress=progress,
                                  known_digests=verified)
    # a file the signature does not cover is named once, by the signature's verdict
    findings = [*signed, *(f for f in checked.findings
                           if not (signed and f.rule is rules.SIGNATURE_MISMATCH))]
    return Report.create("verify", findings, checked.files, context=checked.context)
