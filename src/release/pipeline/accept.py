"""Accepting findings: current findings, by fingerprint, recorded in the baseline with a reason,
who accepted them and until when."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from release.baseline import Acceptance, Baseline, baseline_for, save_baseline
from release.config import DEFAULT_BASELINE_NAME, Config
from release.errors import UsageError
from release.findings import Finding
from release.lock import project_lock
from release.pipeline.scan import ScanOptions, scan


@dataclass(frozen=True)
class Accepted:
    path: Path  # the baseline file written
    findings: tuple[Finding, ...]  # the findings accepted now


def accept_findings(config: Config, fingerprints: Sequence[str], *, reason: str, by: str,
                    expires: dt.date, baseline_path: Path | None = None,
                    today: dt.date | None = None) -> Accepted:
    """Record each fingerprint, which must be a current finding's, in the baseline file."""
    if expires < (today or dt.date.today()):
        raise UsageError(f"--expires {expires.isoformat()} is in the past")
    current = baseline_for(config, baseline_path)
    found = {f.fingerprint: f for f in scan(config, ScanOptions(baseline=Baseline(None))
                                            ).report.findings}
    entries = {a.fingerprint: a for a in current.acceptances}
    accepted = []
    for fingerprint in fingerprints:
        finding = found.get(fingerprint)
        if finding is None:
            raise UsageError(f"no current finding has fingerprint {fingerprint} "
                             "(see `release scan --format json`)")
        if not finding.rule.acceptable:
            raise UsageError(f"{finding.rule.id} {finding.rule.name} cannot be accepted: "
                             f"{finding.path} would run code when it is loaded; remove it")
        entries[fingerprint] = Acceptance(fingerprint, reason, by, expires, finding.rule.id,
                                          finding.path)
        accepted.append(finding)
    path = current.path or (config.root / DEFAULT_BASELINE_NAME)
    with project_lock(config.root):
        save_baseline(Baseline(path, tuple(entries.values())))
    return Accepted(path, tuple(accepted))
