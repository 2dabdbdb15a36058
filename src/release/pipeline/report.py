"""The report of one command: findings, files, verdict and summary (JSON schema v1)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from release import TOOL_NAME, __version__
from release.atomic import write_atomic
from release.baseline import Acceptance, Baseline
from release.errors import InputError
from release.findings import FileRecord, Finding, Outcome, Severity
from release.ownership import clean_leftovers
from release.pipeline.context import ReportContext
from release.regular import read_regular

SCHEMA_VERSION = 1
VERDICT_PASS = "pass"
VERDICT_FAIL = "fail"


def _sort_key(finding: Finding) -> tuple[int, str, str, str, int]:
    return (-finding.effective_severity.rank, finding.path or "", finding.rule.id,
            finding.member or "", finding.line or 0)


@dataclass(frozen=True)
class Report:
    """What a command found; build with `Report.create` so findings are sorted and judged."""

    command: str
    findings: tuple[Finding, ...]
    files: tuple[FileRecord, ...]
    fail_on: Severity = Severity.ERROR
    accepted: Mapping[str, Acceptance] = field(default_factory=dict)
    expired: Mapping[str, Acceptance] = field(default_factory=dict)
    context: ReportContext = field(default_factory=ReportContext)
    created: str = ""

    @classmethod
    def create(
        cls,
        command: str,
        findings: Iterable[Finding],
        files: Iterable[FileRecord],
        *,
        fail_on: Severity = Severity.ERROR,
        baseline: Baseline | None = None,
        today: dt.date | None = None,
        context: ReportContext | None = None,
    ) -> Report:
        unique: dict[str, Finding] = {}
        for finding in findings:
            unique.setdefault(finding.fingerprint, finding)
        ordered = tuple(sorted(unique.values(), key=_sort_key))
        day = today or dt.date.today()
        accepted: dict[str, Acceptance] = {}
        expired: dict[str, Acceptance] = {}
        for finding in ordered:
            acceptance = baseline.lookup(finding.fingerprint) if baseline else None
            if acceptance is None or not finding.rule.acceptable:
                continue  # code that runs on load is never accepted, whatever the baseline says
            target = accepted if acceptance.active_on(day) else expired
            target[finding.fingerprint] = acceptance
        return cls(
            command=command,
            findings=ordered,
            files=tuple(sorted(files, key=lambda f: f.path)),
            fail_on=fail_on,
            accepted=accepted,
            expired=expired,
            context=context or ReportContext(),
            created=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        )

    def is_accepted(self, finding: Finding) -> bool:
        return finding.fingerprint in self.accepted

    @cached_property
    def active_findings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if not self.is_accepted(f))

    @cached_property
    def failing_findings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.active_findings if f.effective_severity.at_least(self.fail_on))

    @cached_property
    def verdict(self) -> str:
        unscanned = any(f.outcome is Outcome.FAILED for f in self.files)
        return VERDICT_FAIL if self.failing_findings or unscanned else VERDICT_PASS

    @property
    def passed(self) -> bool:
        return self.verdict == VERDICT_PASS

    @cached_property
    def summary(self) -> dict[str, Any]:
        outcomes = {o: sum(1 for f in self.files if f.outcome is o) for o in Outcome}
        counts = {s.value: 0 for s in (Severity.ERROR, Severity.WARNING, Severity.NOTE)}
        for finding in self.active_findings:
            counts[finding.effective_severity.value] += 1
        return {
            "files": len(self.files),
            "scanned": outcomes[Outcome.SCANNED],
            "skipped": outcomes[Outcome.SKIPPED],
            "failed": outcomes[Outcome.FAILED],
            "findings": counts,
            "accepted": len(self.accepted),
            "bytes": sum(f.size or 0 for f in self.files),
        }

    def finding_dict(self, finding: Finding) -> dict[str, Any]:
        data: dict[str, Any] = {
            "rule_id": finding.rule.id,
            "rule": finding.rule.name,
            "severity": finding.effective_severity.value,
            "path": finding.path,
            "member": finding.member,
            "line": finding.line,
            "message": finding.message,
            "fingerprint": finding.fingerprint,
            "evidence": dict(finding.evidence),
        }
        if finding.fingerprint in self.accepted:
            data["accepted"] = self.accepted[finding.fingerprint].to_dict()
        if finding.fingerprint in self.expired:
            data["acceptance_expired"] = self.expired[finding.fingerprint].expires.isoformat()
        return data

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": TOOL_NAME, "version": __version__},
            "command": self.command,
            "created": self.created,
            "verdict": self.verdict,
            "fail_on": self.fail_on.value,
            "summary": self.summary,
            "findings": [self.finding_dict(f) for f in self.findings],
            "files": [
                {
                    "path": f.path,
                    "source": f.source,
                    "kind": f.kind,
                    "size": f.size,
                    "sha256": f.sha256,
                    "outcome": f.outcome.value,
                    "reason": f.reason,
                }
                for f in self.files
            ],
            **self.context.to_dict(),
        }


PUBLICATIONS_KEY = "publications"


def report_text(data: Mapping[str, Any]) -> str:
    """The one serialisation of a JSON report, so its digest can be recomputed."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def report_sha256(path: Path) -> str:
    """The digest the manifest pins: the report as staged, without later publish records."""
    raw = read_regular(path)
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if isinstance(data, dict) and PUBLICATIONS_KEY in data:
        data.pop(PUBLICATIONS_KEY)
        raw = report_text(data).encode("utf-8")
    return hashlib.sha256(raw).hexdigest()


PUBLICATION_IDENTITY = ("target", "destination", "tag", "commit")


def append_publication(path: Path, record: Mapping[str, Any]) -> None:
    """Add a publish record to a staged report, atomically, unless the report already records
    this publication (a re-run after a run killed once the push had landed records it; one
    that finds it recorded adds nothing); its pinned digest is unchanged. What a killed run
    left beside the report is removed first (publish holds the project's lock)."""
    clean_leftovers(path)
    _verdict, data = read_report_verdict(path)
    publications = data.pop(PUBLICATIONS_KEY, [])
    if not isinstance(publications, list):
        raise InputError(f"{PUBLICATIONS_KEY}: expected a list", path=path)
    identity = [record.get(k) for k in PUBLICATION_IDENTITY]
    if any(isinstance(p, dict) and [p.get(k) for k in PUBLICATION_IDENTITY] == identity
           for p in publications):
        return
    data[PUBLICATIONS_KEY] = [*publications, dict(record)]
    write_atomic(path, report_text(data))


def read_report_verdict(path: Path) -> tuple[str, dict[str, Any]]:
    """The verdict and parsed body of a JSON report file written by `release`."""
    try:
        data = json.loads(read_regular(path))
    except OSError as exc:
        raise InputError(f"cannot read report: {exc.strerror}", path=path) from None
    except ValueError:
        raise InputError("report is not valid JSON", path=path) from None
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise InputError(f"not a release report (schema_version {SCHEMA_VERSION})", path=path)
    return str(data.get("verdict")), data
