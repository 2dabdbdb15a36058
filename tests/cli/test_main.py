"""Tests for the CLI: exit codes, bad input messages, machine-clean JSON, no partial output."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from release.config import load_config
from release.pipeline import scan as scan_module
from release.pipeline.stage import stage_release
from tests.conftest import CliResult, Project, run_module

Cli = Callable[..., CliResult]

REPORT = "test-org--tiny-model-0.1.0.report.json"


def assert_clean_failure(result: CliResult, code: int, *needles: str) -> None:
    assert result.code == code, (result.out, result.err)
    assert "Traceback" not in result.err
    for needle in needles:
        assert needle in result.err, result.err


def test_scan_clean_project_exits_0(project: Project, cli: Cli) -> None:
    result = cli("scan", "--config", project.config)
    assert result.code == 0, result.err
    assert "PASS" in result.out


def test_json_output_is_machine_clean(project: Project, cli: Cli) -> None:
    (project.model / "train.csv").write_text("a,b\n1,2\n")
    result = cli("scan", "--config", project.config, "--format", "json")
    assert result.code == 1
    assert json.loads(result.out)["verdict"] == "fail"


def test_output_file(project: Project, cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "out" / "scan.sarif"
    result = cli("scan", "--config", project.config, "--format", "sarif", "--output", target)
    assert result.code == 0 and result.out == ""
    assert json.loads(target.read_text())["version"] == "2.1.0"


def test_prepare_then_check(project: Project, cli: Cli) -> None:
    prepared = cli("prepare", "--config", project.config)
    assert prepared.code == 0, prepared.err
    assert "staged" in prepared.err
    checked = cli("check", "--config", project.config)
    assert checked.code == 0, checked.out
    staged = project.root / "dist" / "test-org--tiny-model-0.1.0"
    (staged / "config.json").write_text("{}")
    drift = cli("check", staged)
    assert drift.code == 1 and "RL602" in drift.out


def test_prepare_failing_gate_writes_report_but_no_release(project: Project, cli: Cli) -> None:
    (project.model / "train.csv").write_text("a,b\n1,2\n")
    result = cli("prepare", "--config", project.config, "-q")
    assert result.code == 1
    dist = project.root / "dist"
    assert sorted(p.name for p in dist.iterdir()) == [REPORT]
    assert json.loads((dist / REPORT).read_text())["verdict"] == "fail"


def test_quiet_keeps_verdict_and_findings(project: Project, cli: Cli) -> None:
    """-q hides progress and status lines, not what the gate found."""
    (project.model / "train.csv").write_text("a,b\n1,2\n")
    result = cli("prepare", "--config", project.config, "-q")
    assert result.code == 1 and result.err == ""
    lines = result.out.splitlines()
    assert any("RL105" in line and "train.csv" in line for line in lines), result.out
    assert lines[-1].startswith("FAIL"), result.out
    assert all(line.startswith(("  error", "  warning")) for line in lines[:-1]), result.out
    passing = cli("scan", "--config", project.config, "-q", "--files",
                  project.model / "config.json")
    assert passing.code == 0 and passing.out.startswith("PASS") and passing.err == ""


def test_missing_config(cli: Cli, tmp_path: Path) -> None:
    assert_clean_failure(cli("scan", "--config", tmp_path / "release.toml"), 2,
                         "release.toml", "not found")


def test_default_config_missing_suggests_init(cli: Cli, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert_clean_failure(cli("scan"), 2, "release init")


def test_malformed_toml(project: Project, cli: Cli) -> None:
    project.config.write_text("[release\n")
    assert_clean_failure(cli("scan", "--config", project.config), 2, str(project.config),
                         "not valid TOML")


def test_unknown_key_exit_2(project: Project, cli: Cli) -> None:
    project.config.write_text(project.config.read_text() + "\n[checks]\nmin_words = 3\n")
    assert_clean_failure(cli("scan", "--config", project.config), 2, "checks.min_words")


def test_model_path_that_does_not_exist(project: Project, cli: Cli) -> None:
    project.config.write_text(project.config.read_text().replace('path = "model"',
                                                                 'path = "nowhere"'))
    assert_clean_failure(cli("prepare", "--config", project.config), 2, "model.path",
                         "does not exist")
    assert not (project.root / "dist").exists()


def test_empty_model_folder(project: Project, cli: Cli) -> None:
    for child in project.model.iterdir():
        child.unlink()
    assert_clean_failure(cli("prepare", "--config", project.config), 2, "model.path", "no files")
    assert not (project.root / "dist").exists()


def test_unreadable_code_path(project: Project, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == project.code
                        else real_access(p, mode))
    assert_clean_failure(cli("prepare", "--config", project.config), 3, str(project.code),
                         "not readable")
    assert not (project.root / "dist").exists()


def test_file_vanishing_mid_scan(project: Project, cli: Cli,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    real_read = scan_module.read_artifact

    def vanishing(item, task, **options):  # type: ignore[no-untyped-def]
        if item.path == "tokenizer.json":
            item.source.unlink()
        return real_read(item, task, **options)

    monkeypatch.setattr(scan_module, "read_artifact", vanishing)
    assert_clean_failure(cli("prepare", "--config", project.config), 3, "tokenizer.json",
                         "vanished")
    assert not (project.root / "dist").exists()


def test_unreadable_file_is_a_finding(project: Project, cli: Cli,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = os.open

    def refusing(path, flags, *args, **options):  # type: ignore[no-untyped-def]
        if str(path).endswith("tokenizer.json"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args, **options)

    monkeypatch.setattr(os, "open", refusing)
    result = cli("scan", "--config", project.config, "--format", "json")
    assert result.code == 1
    data = json.loads(result.out)
    assert data["summary"]["failed"] == 1
    assert [(f["rule_id"], f["path"]) for f in data["findings"]] == [("RL103", "tokenizer.json")]


def test_invalid_utf8_file_name(project: Project, cli: Cli) -> None:
    """A file name that cannot ship is a finding on that file (issue 15: one odd file must not
    abort the run); the rest is still scanned and nothing is staged."""
    with open(os.fsencode(project.model) + b"/bad-\xfe.bin", "wb") as handle:
        handle.write(b"x")
    result = cli("prepare", "--config", project.config)
    assert result.code == 1 and "Traceback" not in result.err
    assert "RL112 bad-\\xfe.bin" in result.out and "UTF-8" in result.out
    assert "5 scanned" in result.out  # every other file
    assert sorted(p.name for p in (project.root / "dist").iterdir()) == [REPORT]


def test_internal_error_withholds_the_message(project: Project, cli: Cli,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "SECRET " + "RECORD TEXT"  # as data would be: a value, not a line of source

    def explode(*args: object, **kwargs: object) -> None:
        raise ValueError(secret)

    monkeypatch.setattr(scan_module, "build_inventory", explode)
    result = cli("scan", "--config", project.config)
    assert_clean_failure(result, 3, "internal error", "ValueError")
    assert "SECRET RECORD TEXT" not in result.err + result.out
    verbose = cli("scan", "--config", project.config, "-v")
    assert "Traceback" not in verbose.err and "explode" in verbose.err
    assert "SECRET RECORD TEXT" not in verbose.err


def test_usage_errors_exit_2(cli: Cli) -> None:
    assert cli("scan", "--format", "yaml").code == 2
    assert cli("no-such-command").code == 2


def test_rules_lists_every_rule(cli: Cli) -> None:
    result = cli("rules", "--format", "json")
    ids = [r["id"] for r in json.loads(result.out)]
    assert ids == sorted(ids) and {"RL101", "RL104", "RL105", "RL203", "RL602"} <= set(ids)
    text = cli("rules")
    assert "RL105  data-file" in text.out


def test_check_on_a_stale_report_after_reprepare(project: Project, cli: Cli) -> None:
    config = load_config(project.config)
    from release.pipeline.scan import scan

    stage_release(config, scan(config))
    (project.model / "train.csv").write_text("a,b\n1,2\n")
    assert cli("prepare", "--config", project.config, "-q").code == 1
    stale = cli("check", "--config", project.config)
    assert stale.code == 1 and "RL605" in stale.out


def test_python_dash_m_and_version(project: Project) -> None:
    result = run_module("--version")
    assert result.returncode == 0 and "release" in result.stdout
    scan_result = run_module("scan", "--config", project.config, "--format", "json")
    assert scan_result.returncode == 0, scan_result.stderr
    assert json.loads(scan_result.stdout)["verdict"] == "pass"


def test_scan_files_only_the_named_files(project: Project, cli: Cli,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import RECORDS

    monkeypatch.chdir(project.code)
    (project.code / "notes.md").write_text(f"Reviewer asked {RECORDS[3]['email']} about it\n")
    (project.code / "clean.py").write_text("print('nothing to see')\n")
    (project.code / "copy.jsonl").write_bytes(project.data.read_bytes())
    leaking = cli("scan", "--config", project.config, "--files", "notes.md", "clean.py",
                  "--format", "json")
    assert leaking.code == 1
    report = json.loads(leaking.out)
    assert {f["path"] for f in report["files"]} == {"notes.md", "clean.py"}
    assert {(f["rule_id"], f["path"]) for f in report["findings"]} == {("RL202", "notes.md")}
    assert cli("scan", "--config", project.config, "--files", "clean.py").code == 0
    copied = cli("scan", "--config", project.config, "--files", "copy.jsonl", "--format", "json")
    assert {"RL105", "RL203"} <= {f["rule_id"] for f in json.loads(copied.out)["findings"]}
    assert cli("scan", "--config", project.config, "--files").code == 0
    assert_clean_failure(cli("scan", "--config", project.config, "clean.py"), 2, "--files")
    assert_clean_failure(cli("scan", "--config", project.config, "--files", "gone.py"), 2,
                         "gone.py", "no such file")


def test_summary_is_appended_as_markdown(project: Project, cli: Cli, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("# Earlier step\n")
    result = cli("scan", "--config", project.config, "--summary", summary)
    assert result.code == 0
    text = summary.read_text()
    assert text.startswith("# Earlier step\n") and "release scan" in text


def test_a_mistyped_data_source_path_is_named(project: Project, cli: Cli) -> None:
    text = project.config.read_text()
    project.config.write_text(text + '\n[[data.sources]]\npath = "data/trian.jsonl"\n')
    result = cli("scan", "--config", project.config)
    assert_clean_failure(result, 2, "data.sources[1].path", "trian.jsonl", "does not exist")
    assert "where the data lives" not in result.err
