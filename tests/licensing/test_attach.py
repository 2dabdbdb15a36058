"""A staged release carries LICENSES/, REUSE.toml and NOTICE, passes the real `reuse lint`,
and every file carries the licence its component was configured with."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult, Project


def reuse(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reuse", *map(str, args)],
                          capture_output=True, text=True)


def test_staged_release_passes_reuse_lint(example_copy: Path,
                                          cli: Callable[..., CliResult]) -> None:
    result = cli("prepare", "--config", example_copy / "release.toml", "-q")
    assert result.code == 0, result.err
    staged = example_copy / "dist" / "example-org--clinic-notes-classifier-1.0.0"
    lint = reuse("--root", staged, "lint", "--json")
    assert lint.returncode == 0, lint.stdout
    report = json.loads(lint.stdout)
    licences = {f["path"]: {e["value"] for e in f["spdx_expressions"]} for f in report["files"]}
    assert licences["model.safetensors"] == {"Apache-2.0"}
    assert licences["tokenizer.json"] == {"Apache-2.0"}
    assert licences["training/train.py"] == {"MIT"}
    assert licences["NOTICE"] == {"CC-BY-4.0"}
    assert licences["release-manifest.json"] == {"CC0-1.0"}
    assert sorted(p.name for p in (staged / "LICENSES").iterdir()) == [
        "Apache-2.0.txt", "CC-BY-4.0.txt", "CC0-1.0.txt", "MIT.txt"]
    notice = (staged / "NOTICE").read_text()
    assert "Example Health (synthetic)" in notice and "not distributed" in notice
    manifest = json.loads((staged / "release-manifest.json").read_text())
    assert {"NOTICE", "REUSE.toml", "LICENSES/MIT.txt"} <= {f["path"] for f in manifest["files"]}
    assert cli("check", staged).code == 0
    spdx = (example_copy / "dist" / f"{staged.name}.spdx").read_text()
    assert spdx.startswith("SPDXVersion:")
    assert f"DocumentName: {staged.name}\n" in spdx
    assert "LicenseInfoInFile: Apache-2.0" in spdx


def test_check_reverifies_licensing(example_copy: Path, cli: Callable[..., CliResult]) -> None:
    assert cli("prepare", "--config", example_copy / "release.toml", "-q").code == 0
    staged = example_copy / "dist" / "example-org--clinic-notes-classifier-1.0.0"
    (staged / "LICENSES" / "MIT.txt").unlink()
    result = cli("check", staged, "--format", "json")
    assert result.code == 1
    rules = {f["rule_id"] for f in json.loads(result.out)["findings"]}
    assert {"RL604", "RL408"} <= rules


def test_policy_failure_stops_prepare(project: Project, cli: Callable[..., CliResult]) -> None:
    project.config.write_text(project.config.read_text().replace(
        'license = "Apache-2.0"', 'license = "CC-BY-NC-4.0"'))
    result = cli("prepare", "--config", project.config, "--format", "json")
    assert result.code == 1
    rules = {f["rule_id"] for f in json.loads(result.out)["findings"]}
    assert {"RL401", "RL402"} <= rules
    assert not (project.root / "dist" / "test-org--tiny-model-0.1.0").exists()


def test_a_model_file_named_notice_collides(project: Project,
                                            cli: Callable[..., CliResult]) -> None:
    (project.model / "NOTICE").write_text("upstream notice\n")
    result = cli("prepare", "--config", project.config, "--format", "json")
    assert result.code == 1
    assert ("RL107", "NOTICE") in {(f["rule_id"], f["path"])
                                   for f in json.loads(result.out)["findings"]}


def test_licenses_command(cli: Callable[..., CliResult]) -> None:
    listed = json.loads(cli("licenses", "--format", "json").out)
    by_id = {entry["id"]: entry for entry in listed}
    assert by_id["Apache-2.0"]["osi"] is True and by_id["Apache-2.0"]["hf"] == "apache-2.0"
    assert by_id["LicenseRef-scancode-bigscience-open-rail-m"]["restricted"] is True
    assert "MIT" in cli("licenses").out


def test_no_network_is_needed(example_copy: Path, cli: Callable[..., CliResult],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Licence texts come from the wheel: prepare works with every connection refused."""
    import socket

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network is unreachable in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert cli("prepare", "--config", example_copy / "release.toml", "-q").code == 0
