"""Credentials are found in every carrier, at their place, and never printed."""

from __future__ import annotations

import io
import json
import pickle
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from release.credentials import secret_rules
from tests.conftest import CliResult, make_project
from tests.credentials.fakes import fakes

FAKES = fakes()


def plant(model: Path) -> dict[str, list[int]]:
    """Every fake in six carriers in the model folder; the .py file's line range per rule."""
    lines: dict[str, list[int]] = {}
    source = ["# settings\n"]
    for rule, (text, _) in sorted(FAKES.items()):
        start = sum(chunk.count("\n") for chunk in source) + 1
        source.append(text + "\n")
        lines[rule] = list(range(start, start + text.count("\n") + 1))
    (model / "launch.py").write_text("".join(source))
    notebook = {"cells": [{"cell_type": "code", "source": ["print(settings)\n"],
                           "metadata": {}, "execution_count": 1,
                           "outputs": [{"output_type": "stream", "name": "stdout",
                                        "text": [f"{text}\n" for text, _ in FAKES.values()]}]}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (model / "explore.ipynb").write_text(json.dumps(notebook))
    (model / "train_config.yaml").write_text("".join(
        f"{rule}: {json.dumps(text)}\n" for rule, (text, _) in sorted(FAKES.items())))
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("settings.json", json.dumps({r: t for r, (t, _) in FAKES.items()}))
    outer = io.BytesIO()
    with tarfile.open(fileobj=outer, mode="w:gz") as archive:
        info = tarfile.TarInfo("bundle/settings.zip")
        info.size = len(inner.getvalue())
        archive.addfile(info, io.BytesIO(inner.getvalue()))
    (model / "assets.tar.gz").write_bytes(outer.getvalue())
    (model / "state.pkl").write_bytes(pickle.dumps({r: t for r, (t, _) in FAKES.items()},
                                                   protocol=4))
    save_file({"w": np.zeros((2, 2), "f4")}, str(model / "adapter.safetensors"),
              metadata={r.replace("-", "_"): t for r, (t, _) in FAKES.items()})
    return lines


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
