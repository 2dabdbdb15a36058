"""SARIF 2.1.0 renderer: one rule per rule id, partialFingerprints from our fingerprints."""

from __future__ import annotations

import json
from typing import Any

from release import TOOL_NAME, __version__
from release.findings import Finding, Rule, Severity
from release.formats import register
from release.pipeline.report import Report

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "releaseFingerprint/v1"
_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "note"}


def _rule(rule: Rule) -> dict[str, Any]:
    described: dict[str, Any] = {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.description},
        "defaultConfiguration": {"level": _LEVELS[rule.severity]},
    }
    if not rule.acceptable:
        described["properties"] = {"acceptable": False}  # no baseline can accept it
    return described


def _location(finding: Finding, sources: dict[str, str]) -> list[dict[str, Any]]:
    if finding.path is None:
        return []
    physical: dict[str, Any] = {"artifactLocation": {"uri": sources.get(finding.path,
                                                                        finding.path)}}
    if finding.line is not None:
        physical["region"] = {"startLine": finding.line}
    location: dict[str, Any] = {"physicalLocation": physical}
    if finding.member is not None:
        location["logicalLocations"] = [{"fullyQualifiedName": finding.member,
                                         "kind": "member"}]
    return [location]


def _result(report: Report, finding: Finding, index: int, sources: dict[str, str]
            ) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule.id,
        "ruleIndex": index,
        "level": _LEVELS[finding.effective_severity],
        "message": {"text": finding.message},
        "locations": _location(finding, sources),
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
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": TOOL_NAME,
                "version": __version__,
                "informationUri": "https://pypi.org/project/release/",
                "rules": [_rule(r) for r in rules],
            }},
            "invocations": [{
                "executionSuccessful": True,
                "commandLine": f"release {report.command}",
            }],
            "results": [_result(report, f, index[f.rule.id], sources) for f in report.findings],
            "properties": {"verdict": report.verdict, "summary": report.summary},
        }],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
