"""Tests for release.pipeline.report: verdicts, summary, order, deduplication and the JSON shape."""

from __future__ import annotations

import datetime as dt

from release import rules
from release.baseline import Acceptance, Baseline
from release.findings import FileRecord, Finding, Outcome, Severity
from release.pipeline.context import ReleaseInfo, ReportContext
from release.pipeline.report import Report

ERROR = Finding(rules.DATA_FILE, "b/train.csv", "is data", basis="csv")
WARNING = Finding(rules.UNCOMMITTED_CODE, "a/train.py", "dirty")
FILE = FileRecord("a/train.py", "code/train.py", "code", 10, "ab" * 32, Outcome.SCANNED)


def test_verdict_follows_fail_on() -> None:
    assert not Report.create("scan", [ERROR], [FILE]).passed
    assert Report.create("scan", [WARNING], [FILE]).passed
    assert not Report.create("scan", [WARNING], [FILE], fail_on=Severity.WARNING).passed
    assert Report.create("scan", [], [FILE]).passed


def test_a_failed_file_fails_the_report_even_without_findings() -> None:
    failed = FileRecord("x", "x", "other", None, None, Outcome.FAILED, "unreadable")
    report = Report.create("scan", [], [failed])
    assert report.verdict == "fail"
    assert report.summary["failed"] == 1


def test_findings_sorted_by_severity_then_path_and_deduplicated() -> None:
    report = Report.create("scan", [WARNING, ERROR, ERROR], [])
    assert report.findings == (ERROR, WARNING)


def test_summary_counts_active_findings() -> None:
    report = Report.create("scan", [ERROR, WARNING], [FILE])
    assert report.summary == {
        "files": 1, "scanned": 1, "skipped": 0, "failed": 0,
        "findings": {"error": 1, "warning": 1, "note": 0}, "accepted": 0, "bytes": 10,
    }


def test_json_shape_matches_the_design() -> None:
    context = ReportContext(release=ReleaseInfo("m", "1"))
    data = Report.create("scan", [ERROR], [FILE], context=context).to_dict()
    assert data["schema_version"] == 1
    assert data["tool"]["name"] == "release"
    assert data["command"] == "scan" and data["verdict"] == "fail"
    finding = data["findings"][0]
    assert set(finding) == {"rule_id", "rule", "severity", "path", "member", "line", "message",
                            "fingerprint", "evidence"}
    assert finding["rule_id"] == "RL105" and finding["severity"] == "error"
    assert set(data["files"][0]) == {"path", "source", "kind", "size", "sha256", "outcome",
                                     "reason"}
    assert data["release"] == {"name": "m", "version": "1"}


def test_fingerprint_is_stable_and_location_specific() -> None:
    same = Finding(rules.DATA_FILE, "b/train.csv", "different message", basis="csv")
    moved = Finding(rules.DATA_FILE, "c/train.csv", "is data", basis="csv")
    assert same.fingerprint == ERROR.fingerprint
    assert moved.fingerprint != ERROR.fingerprint


def test_accepted_findings_do_not_fail_and_expired_ones_do() -> None:
    acceptance = Acceptance(ERROR.fingerprint, "public sample", "dana", dt.date(2027, 1, 1))
    baseline = Baseline(None, (acceptance,))
    before = Report.create("scan", [ERROR], [], baseline=baseline, today=dt.date(2026, 12, 31))
    assert before.passed and before.summary["accepted"] == 1
    assert before.to_dict()["findings"][0]["accepted"]["accepted_by"] == "dana"
    after = Report.create("scan", [ERROR], [], baseline=baseline, today=dt.date(2027, 1, 2))
    assert not after.passed
    assert after.to_dict()["findings"][0]["acceptance_expired"] == "2027-01-01"
