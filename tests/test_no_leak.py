"""Nothing the tool prints or writes may contain training text or sensitive values."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from tests.conftest import RECORDS, CliResult, Project


def secrets() -> list[str]:
    values = []
    for record in RECORDS:
        values += [record["note"], record["name"], record["email"]]
    return values


def test_outputs_of_a_leaking_project_hold_no_record_text(
        project: Project, cli: Callable[..., CliResult], tmp_path: Path) -> None:
    shutil.copy(project.data, project.model / "calibration.bin")
    (project.model / "rows.csv").write_text(
        "name,email\n" + "".join(f"{r['name']},{r['email']}\n" for r in RECORDS))
    outputs = []
    for fmt in ("text", "json", "sarif", "markdown"):
        target = tmp_path / f"report.{fmt}"
        result = cli("scan", "--config", project.config, "--format", fmt)
        to_file = cli("scan", "--config", project.config, "--format", fmt, "--output", target)
        assert result.code == 1 and to_file.code == 1
        outputs += [result.out, result.err, to_file.err, target.read_text()]
    prepared = cli("prepare", "--config", project.config)
    outputs += [prepared.out, prepared.err,
                (project.root / "dist" / "test-org--tiny-model-0.1.0.report.json").read_text()]
    blob = "\n".join(outputs)
    for value in secrets():
        assert value not in blob
        assert value.lower() not in blob.lower()
