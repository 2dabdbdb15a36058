"""The SARIF output meets what GitHub code scanning documents, beside the 2.1.0 schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from release import rules
from release.findings import FileRecord, Finding, Outcome
from release.formats import sarif
from release.pipeline.context import ConfigInfo, ReportContext
from release.pipeline.report import Report
from release.rule_help import HOW_TO_FIX

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "data" / "sarif-2.1.0-rtm.5.json")
                    .read_text())
GOLDEN = Path(__file__).resolve().parents[1] / "golden"
ODD_NAMES = ["model/my model #1.pkl", "100%.pkl", "modèle/données.bin"]


def report(failed: bool = False) -> Report:
    findings = [Finding(rules.UNSAFE_SERIALIZATION, name, "is a pickle", basis=name)
                for name in ODD_NAMES]
    findings += [Finding(rules.TRAINING_TEXT, "notes.md", "12 words of 1 training record(s) "
                         "appear verbatim", line=7),
                 Finding(rules.CREDENTIAL, "state.pkl", "a Hugging Face credential appears",
                         member="pickle:str[3]"),
                 Finding(rules.NO_DATA_SOURCES, None, "release.toml has no [[data.sources]]",
                         line=12)]  # the line of [data], as the pipeline places it
    files = [FileRecord(name, f"weights/{name}", "weights", 1, "0" * 64, Outcome.SCANNED)
             for name in ODD_NAMES]
    if failed:
        files.append(FileRecord("broken.bin", "model/broken.bin", "weights", None, None,
                                Outcome.FAILED, "cannot be read"))
    context = ReportContext(config=ConfigInfo("release.toml", "0" * 64, "ml/project"))
    return Report.create("scan", findings, files, context=context)


def test_validates_against_the_schema() -> None:
    jsonschema.validate(json.loads(sarif.render(report())), SCHEMA)


def test_every_result_has_a_repository_relative_encoded_location_with_a_line() -> None:
    log = json.loads(sarif.render(report()))
    run = log["runs"][0]
    assert "%SRCROOT%" in run["originalUriBaseIds"]
    uris = []
    for result in run["results"]:
        assert len(result["locations"]) >= 1
        physical = result["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert physical["region"]["startLine"] >= 1
        uris.append(physical["artifactLocation"]["uri"])
    assert "ml/project/weights/model/my%20model%20%231.pkl" in uris
    assert "ml/project/weights/100%25.pkl" in uris
    assert "ml/project/weights/mod%C3%A8le/donn%C3%A9es.bin" in uris
    assert "ml/project/release.toml" in uris  # the release as a whole points at its config
    lines = {r["ruleId"]: r["locations"][0]["physicalLocation"]["region"]["startLine"]
             for r in run["results"]}
    assert lines["RL201"] == 7 and lines["RL104"] == 1
    assert lines["RL205"] == 12  # the config key's line


def test_every_rule_has_help_tags_precision_and_security_severity() -> None:
    run = json.loads(sarif.render(report()))["runs"][0]
    assert "informationUri" not in run["tool"]["driver"]
    for rule in run["tool"]["driver"]["rules"]:
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["help"]["text"] and rule["help"]["markdown"]
        assert "security" in rule["properties"]["tags"]
        assert rule["properties"]["precision"] in ("very-high", "high", "medium", "low")
        assert 0.0 <= float(rule["properties"]["security-severity"]) <= 10.0


def test_every_rule_says_how_to_fix_it() -> None:
    assert {rule.id for rule in rules.ALL_RULES} == set(HOW_TO_FIX)


def test_fingerprints_and_execution_success() -> None:
    run = json.loads(sarif.render(report()))["runs"][0]
    assert all(set(r["partialFingerprints"]) == {sarif.FINGERPRINT_KEY} for r in run["results"])
    assert run["invocations"][0]["executionSuccessful"] is True
    failed = json.loads(sarif.render(report(failed=True)))["runs"][0]
    assert failed["invocations"][0]["executionSuccessful"] is False


def test_messages_are_sentences_naming_their_subject() -> None:
    texts = [r["message"]["text"] for r in json.loads(sarif.render(report()))["runs"][0]
             ["results"]]
    assert "`100%.pkl` is a pickle." in texts
    assert "In `notes.md`, 12 words of 1 training record(s) appear verbatim." in texts
    assert "In `state.pkl` (member `pickle:str[3]`), a Hugging Face credential appears." in texts
    assert "Release.toml has no [[data.sources]]." in texts


@pytest.mark.parametrize("name", ["example", "leaking"])
def test_the_golden_sarif_of_the_example_and_a_failing_project_validates(name: str) -> None:
    for path in sorted((GOLDEN / name).glob("*.sarif")):
        body = path.read_text().split("\n", 1)[1]  # after the "exit N" line
        log = json.loads(body)
        jsonschema.validate(log, SCHEMA)
        for result in log["runs"][0]["results"]:
            assert result["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1
