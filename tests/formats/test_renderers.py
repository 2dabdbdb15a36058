"""Tests for the renderers: SARIF validated against the official schema, JSON, Markdown, text."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest

from release import rules
from release.baseline import Acceptance, Baseline
from release.findings import FileRecord, Finding, Outcome
from release.formats import json_format, markdown, sarif, text
from release.pipeline.report import Report

SCHEMA = Path(__file__).resolve().parents[1] / "data" / "sarif-2.1.0-rtm.5.json"

FINDINGS = [
    Finding(rules.DATA_FILE, "training/data|x.csv", "is a data file (csv)", basis="csv",
            evidence={"format": "csv"}),
    Finding(rules.UNSAFE_SERIALIZATION, "pytorch_model.bin", "holds a pickle",
            member="archive/data.pkl", line=None),
    Finding(rules.UNCOMMITTED_CODE, "training/train.py", "has uncommitted changes", line=3),
    Finding(rules.NO_DATA_SOURCES, None, "no sources"),
]
FILES = [FileRecord("training/train.py", "code/train.py", "code", 12, "a" * 64, Outcome.SCANNED)]


@pytest.fixture
def report() -> Report:
    baseline = Baseline(None, (Acceptance(FINDINGS[1].fingerprint, "legacy", "dana",
                                          dt.date(2099, 1, 1)),))
    return Report.create("scan", FINDINGS, FILES, baseline=baseline)


def test_sarif_validates_against_the_official_schema(report: Report) -> None:
    log = json.loads(sarif.render(report))
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(log, schema, cls=jsonschema.Draft4Validator)
    run = log["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["RL104", "RL105", "RL109",
                                                                  "RL205"]
    results = {r["ruleId"]: r for r in run["results"]}
    assert results["RL104"]["suppressions"][0]["status"] == "accepted"
    assert results["RL104"]["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == \
        "archive/data.pkl"
    assert results["RL109"]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
        "code/train.py"  # where the file is in the repository, for code scanning
    assert results["RL109"]["locations"][0]["physicalLocation"]["region"] == {"startLine": 3}
    assert results["RL205"]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
        "release.toml"  # the release as a whole points at its config
    for result in run["results"]:
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert len(result["partialFingerprints"]["releaseFingerprint/v1"]) == 32


def test_empty_report_sarif_is_valid() -> None:
    log = json.loads(sarif.render(Report.create("scan", [], [])))
    jsonschema.validate(log, json.loads(SCHEMA.read_text()), cls=jsonschema.Draft4Validator)
    assert log["runs"][0]["results"] == []


def test_json_round_trips(report: Report) -> None:
    assert json.loads(json_format.render(report)) == report.to_dict()


def test_markdown_escapes_table_cells_and_separates_accepted(report: Report) -> None:
    rendered = markdown.render(report)
    assert rendered.startswith("## ❌ `release scan`: fail")
    assert "training/data\\|x.csv" in rendered
    active, accepted = rendered.split("<details>")
    assert "RL104" not in active and "RL104" in accepted


def test_text_has_colour_only_when_asked(report: Report) -> None:
    plain = text.render(report, color=False)
    coloured = text.render(report, color=True)
    assert "\x1b[" not in plain and "\x1b[" in coloured
    assert "FAIL" in plain and "RL105" in plain and "accepted until 2099-01-01" in plain
    assert "pytorch_model.bin [archive/data.pkl]" in plain


def test_text_does_not_interpret_markup_in_paths() -> None:
    finding = Finding(rules.DATA_FILE, "[bold]odd[/bold].csv", "is data")
    assert "[bold]odd[/bold].csv" in text.render(Report.create("scan", [finding], []))
