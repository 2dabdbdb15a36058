"""SARIF 2.1.0 renderer for GitHub code scanning: one rule per rule id with help, tags,
precision and security-severity; every result located (repository-relative, percent-encoded
URIs under %SRCROOT%, a start line) and fingerprinted under releaseFingerprint/v1."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from release import TOOL_NAME, __version__
from release.findings import Finding, Outcome, Rule, Severity
from release.formats import register
from release.pipeline.report import Report
from release.rule_help import (
    DEFAULT_PRECISION,
    DEFAULT_SECURITY_SEVERITY,
    FAMILIES,
    HOW_TO_FIX,
    PRECISION,
    SECURITY_SEVERITY,
)

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "releaseFingerprint/v1"  # the report's finding fingerprint (README: Reports)
SOURCE_ROOT = "%SRCROOT%"
DEFAULT_CONFIG = "release.toml"
_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "note"}
# words a finding's message may start with when its subject is the file (`model.pt is …`)
_VERBS = frozenset({"is", "has", "holds", "would", "cannot", "could", "makes", "runs",
                    "differs", "points", "was", "does", "lists", "names", "expands", "fails",
                    "contains", "looks"})


def _rule(rule: Rule) -> dict[str, Any]:
    fix = HOW_TO_FIX.get(rule.id, "See the README's rule table.")
    properties: dict[str, Any] = {
        "tags": ["security", FAMILIES.get(rule.id[2], "release"), rule.name],
        "precision": PRECISION.get(rule.id, DEFAULT_PRECISION),
        "security-severity": SECURITY_SEVERITY.get(rule.id, DEFAULT_SECURITY_SEVERITY),
    }
    if not rule.acceptable:
        properties["acceptable"] = False  # no baseline can accept it
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.description},
        "fullDescription": {"text": rule.description},
        "help": {"text": f"{rule.description} How to fix it: {fix}",
                 "markdown": f"**{rule.id} {rule.name}**: {rule.description}\n\n"
                             f"**How to fix it:** {fix}"},
        "defaultConfiguration": {"level": _LEVELS[rule.severity]},
        "properties": properties,
    }


def _uri(folder: str, source: str) -> str:
    """A repository-relative, percent-encoded URI for a path relative to the config folder."""
    joined = source if source.startswith("/") or not folder else f"{folder}/{source}"
    return quote(joined, safe="/")


def _location(finding: Finding, sources: dict[str, str], folder: str, config: str
              ) -> list[dict[str, Any]]:
    """Where the result is: the shipped file's source, or (for a finding about the release as
    a whole) the config file; the line, or 1 for a whole file."""
    source = sources.get(finding.path, finding.path) if finding.path is not None else config
    physical: dict[str, Any] = {
        "artifactLocation": {"uri": _uri(folder, source), "uriBaseId": SOURCE_ROOT},
        "region": {"startLine": finding.line if finding.line else 1},
    }
    location: dict[str, Any] = {"physicalLocation": physical}
    if finding.member is not None:
        location["logicalLocations"] = [{"fullyQualifiedName": finding.member,
                                         "kind": "member"}]
    return [location]


def sentence(finding: Finding) -> str:
    """The message as a whole sentence naming its subject (GitHub titles alerts with it)."""
    message = finding.message.rstrip()
    if finding.path is not None:
        subject = f"`{finding.path}`" + (f" (member `{finding.member}`)" if finding.member
                                         else "")
        first = message.split(" ", 1)[0]
        message = f"{subject} {message}" if first in _VERBS else f"In {subject}, {message}"
    elif message and message[0].islower():
        message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


def _result(report: Report, finding: Finding, index: int, sources: dict[str, str],
            folder: str, config: str) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule.id,
        "ruleIndex": index,
        "level": _LEVELS[finding.effective_severity],
        "message": {"text": sentence(finding)},
        "locations": _location(finding, sources, folder, config),
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
        "properties": {"releasePath": finding.path, "evidence": dict(finding.evidence)},
    }
    acceptance = report.accepted.get(finding.fingerprint)
    if acceptance is not None:
        result["suppressions"] = [{
            "kind": "external",
            "status": "accepted",
            "justification": f"{acceptance.reason} (accepted by {acceptance.accepted_by}, "
                             f"expires {acceptance.expires.isoformat()})",
        }]
    return result


@register("sarif")
def render(report: Report) -> str:
    rules = sorted({f.rule.id: f.rule for f in report.findings}.values(), key=lambda r: r.id)
    index = {rule.id: i for i, rule in enumerate(rules)}
    sources = {f.path: f.source for f in report.files}
    config = report.context.config
    folder = config.folder if config is not None else ""
    config_name = config.path if config is not None else DEFAULT_CONFIG
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": TOOL_NAME,
                "version": __version__,
                "rules": [_rule(r) for r in rules],
            }},
            "originalUriBaseIds": {SOURCE_ROOT: {"description": {
                "text": "The root of the git repository that holds release.toml."}}},
            "invocations": [{
                "executionSuccessful": all(f.outcome is not Outcome.FAILED
                                           for f in report.files),
                "commandLine": f"release {report.command}",
            }],
            "results": [_result(report, f, index[f.rule.id], sources, folder, config_name)
                        for f in report.findings],
            "properties": {"verdict": report.verdict, "summary": report.summary},
        }],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
