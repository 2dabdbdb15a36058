"""Findings, severities, rules and per-file outcomes: the data every detector returns."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from typing import Any


class Severity(enum.Enum):
    NOTE = "note"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return {"note": 0, "warning": 1, "error": 2}[self.value]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


@dataclass(frozen=True)
class Rule:
    """A stable rule id, its short name, default severity and one-line description; a rule
    that is not `acceptable` cannot be accepted in a baseline."""

    id: str
    name: str
    severity: Severity
    description: str
    acceptable: bool = True


@dataclass(frozen=True)
class Finding:
    """One problem, located by release path and member; evidence is ids, hashes and counts."""

    rule: Rule
    path: str | None
    message: str
    member: str | None = None
    line: int | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    basis: str = ""  # stable, text-free detail that tells two findings of one rule+place apart
    severity: Severity | None = None  # overrides the rule's default
    config_key: str | None = None  # the setting a finding about the release as a whole concerns

    @property
    def effective_severity(self) -> Severity:
        return self.severity or self.rule.severity

    @property
    def fingerprint(self) -> str:
        parts = [self.rule.id, self.path or "", self.member or "", self.basis]
        return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:32]


class Outcome(enum.Enum):
    SCANNED = "scanned"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class FileRecord:
    """A file that would ship: where it goes, where it came from, what it is, what became of it."""

    path: str
    source: str
    kind: str
    size: int | None
    sha256: str | None
    outcome: Outcome
    reason: str | None = None
