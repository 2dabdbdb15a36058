"""Credentials are found in every carrier, at their place, and never printed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from release.credentials import secret_rules
from tests.conftest import CliResult, make_project
from tests.credentials.fakes import fakes, plant

FAKES = fakes()


CARRIERS = {"launch.py": None, "explore.ipynb": "", "train_config.yaml": "",
            "assets.tar.gz": "bundle/settings.zip/settings.json", "state.pkl": "pickle:str[",
            "adapter.safetensors": "__metadata__."}


@pytest.fixture
def scanned(tmp_path: Path, cli: Callable[..., CliResult]) -> tuple[dict[str, list[int]],
                                                                    dict[str, CliResult]]:
    project = make_project(tmp_path / "project")
    lines = plant(project.model)
    outputs = {fmt: cli("scan", "--config", project.config, "--format", fmt)
               for fmt in ("json", "text", "sarif", "markdown")}
    return lines, outputs


def test_every_rule_is_found_in_every_carrier_at_its_place(
        scanned: tuple[dict[str, list[int]], dict[str, CliResult]]) -> None:
    lines, outputs = scanned
    report = json.loads(outputs["json"].out)
    assert outputs["json"].code == 1
    found = [f for f in report["findings"] if f["rule_id"] == "RL701"]
    missing = []
    for carrier, member in CARRIERS.items():
        here = [f for f in found if f["path"] == carrier]
        for rule in FAKES:
            hits = [f for f in here if f["evidence"]["secret_rule"] == rule]
            if not hits:
                missing.append((carrier, rule))
                continue
            if member is None:
                assert any(f["line"] in lines[rule] for f in hits), (carrier, rule)
            elif member:
                assert all((f["member"] or "").startswith(member) for f in hits), (carrier, rule)
    assert missing == []


def test_no_planted_value_is_ever_printed(
        scanned: tuple[dict[str, list[int]], dict[str, CliResult]]) -> None:
    _, outputs = scanned
    printed = "".join(o.out + o.err for o in outputs.values())
    prefixes = {rule.id: rule.shown_prefix for rule in secret_rules()}
    for rule, (_, secret) in FAKES.items():
        windows = {secret[i:i + 8] for i in range(max(1, len(secret) - 7))}
        public = prefixes[rule]  # the provider's public prefix may be shown, nothing more
        leaked = [w for w in windows if w in printed and w not in public]
        assert leaked == [], rule


def test_credential_stores_fail_whatever_they_hold(tmp_path: Path,
                                                  cli: Callable[..., CliResult]) -> None:
    project = make_project(tmp_path / "project")
    (project.model / ".netrc").write_text("# empty\n")
    (project.model / "deploy.pem").write_text("nothing here\n")
    result = cli("scan", "--config", project.config, "--format", "json")
    found = {(f["rule_id"], f["path"]) for f in json.loads(result.out)["findings"]}
    assert {("RL702", ".netrc"), ("RL702", "deploy.pem")} <= found


def test_a_fixture_key_can_be_accepted(tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    project = make_project(tmp_path / "project")
    text, _ = FAKES["huggingface-token"]
    (project.model / "example.py").write_text(f'EXAMPLE = "{text}"\n')
    first = json.loads(cli("scan", "--config", project.config, "--format", "json").out)
    fingerprints = [f["fingerprint"] for f in first["findings"] if f["rule_id"] == "RL701"]
    assert len(fingerprints) == 1
    accepted = cli("accept", *fingerprints, "--reason", "documentation fixture", "--by", "d",
                   "--expires", "2099-01-01", "--config", project.config)
    assert accepted.code == 0, accepted.err
    again = json.loads(cli("scan", "--config", project.config, "--format", "json").out)
    assert again["summary"]["accepted"] == 1
