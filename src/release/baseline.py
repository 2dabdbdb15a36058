"""Accepted findings: a baseline file of fingerprints, each with a reason, who, and an expiry."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from release.atomic import write_atomic
from release.config import DEFAULT_BASELINE_NAME, Config
from release.errors import ConfigError, InputError
from release.regular import read_regular

BASELINE_VERSION = 1


@dataclass(frozen=True)
class Acceptance:
    fingerprint: str
    reason: str
    accepted_by: str
    expires: dt.date
    rule_id: str | None = None
    path: str | None = None

    def active_on(self, day: dt.date) -> bool:
        return day <= self.expires

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["expires"] = self.expires.isoformat()
        return {k: v for k, v in data.items() if v is not None}


@dataclass(frozen=True)
class Baseline:
    path: Path | None
    acceptances: tuple[Acceptance, ...] = ()

    def lookup(self, fingerprint: str) -> Acceptance | None:
        for acceptance in self.acceptances:
            if acceptance.fingerprint == fingerprint:
                return acceptance
        return None


def _field(file: Path, where: str, entry: dict[str, Any], name: str, required: bool) -> Any:
    value = entry.get(name)
    if value is None:
        if required:
            raise ConfigError(file, f"{where}.{name}", "is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(file, f"{where}.{name}", "expected a non-empty string")
    return value


def load_baseline(path: Path | None) -> Baseline:
    """Read a baseline file; None or a missing default file gives an empty baseline."""
    if path is None or not path.exists():
        return Baseline(path)
    try:
        data = json.loads(read_regular(path).decode("utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read baseline: {exc.strerror}", path=path) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(path, None, f"not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("accepted"), list):
        raise ConfigError(path, "accepted", "expected a list of accepted findings")
    unknown = sorted(set(data) - {"version", "accepted"})
    if unknown:
        raise ConfigError(path, unknown[0], "unknown key")
    acceptances = []
    known = {"fingerprint", "reason", "accepted_by", "expires", "rule_id", "path"}
    for index, entry in enumerate(data["accepted"]):
        where = f"accepted[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(path, where, "expected an object")
        extra = sorted(set(entry) - known)
        if extra:
            raise ConfigError(path, f"{where}.{extra[0]}", "unknown key")
        expires_text = _field(path, where, entry, "expires", True)
        try:
            expires = dt.date.fromisoformat(expires_text)
        except ValueError:
            raise ConfigError(path, f"{where}.expires", "expected a date YYYY-MM-DD") from None
        acceptances.append(Acceptance(
            fingerprint=_field(path, where, entry, "fingerprint", True),
            reason=_field(path, where, entry, "reason", True),
            accepted_by=_field(path, where, entry, "accepted_by", True),
            expires=expires,
            rule_id=_field(path, where, entry, "rule_id", False),
            path=_field(path, where, entry, "path", False),
        ))
    return Baseline(path, tuple(acceptances))


def baseline_for(config: Config, explicit: Path | None = None) -> Baseline:
    """The baseline a command uses: the one given, else [checks].baseline, else
    release.baseline.json beside the config."""
    return load_baseline(explicit or config.checks.baseline
                         or (config.root / DEFAULT_BASELINE_NAME))


def save_baseline(baseline: Baseline) -> None:
    """Write the baseline atomically (a temporary sibling renamed over the file)."""
    assert baseline.path is not None
    data = {
        "version": BASELINE_VERSION,
        "accepted": [a.to_dict() for a in sorted(baseline.acceptances,
                                                 key=lambda a: (a.path or "", a.fingerprint))],
    }
    write_atomic(baseline.path, json.dumps(data, indent=2) + "\n")

