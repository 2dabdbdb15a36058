"""Tests for release.pipeline.check: a staged release passes, and every kind of drift fails."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from release import rules
from release.config import load_config
from release.errors import UsageError
from release.pipeline.check import check_staged
from release.pipeline.manifest import MANIFEST_NAME, STAGED_REPORT_NAME, read_manifest
from release.pipeline.scan import scan
from release.pipeline.stage import StagedRelease, stage_release
from tests.conftest import CliResult, Project, git


@pytest.fixture
def staged(project: Project) -> StagedRelease:
    config = load_config(project.config)
    return stage_release(config, scan(config))


def check_rules(staged: StagedRelease) -> list[tuple[str, str | None]]:
    report, _ = check_staged(staged.path)
    return [(f.rule.id, f.path) for f in report.findings]


def test_fresh_release_passes(staged: StagedRelease) -> None:
    report, manifest = check_staged(staged.path)
    assert report.passed and manifest is not None
    assert report.summary["scanned"] == len(manifest.files)
    assert report.to_dict()["git"]["branch"] == "main"


def test_edited_file(staged: StagedRelease) -> None:
    (staged.path / "config.json").write_text("{}")
    assert check_rules(staged) == [(rules.FILE_CHANGED.id, "config.json")]


def test_added_file_and_symlink(staged: StagedRelease) -> None:
    (staged.path / "training" / "notes.txt").write_text("new")
    os.symlink("/etc/passwd", staged.path / "passwd")
    assert sorted(check_rules(staged)) == [(rules.FILE_ADDED.id, "passwd"),
                                           (rules.FILE_ADDED.id, "training/notes.txt")]


def test_removed_file(staged: StagedRelease) -> None:
    (staged.path / "tokenizer.json").unlink()
    assert check_rules(staged) == [(rules.FILE_REMOVED.id, "tokenizer.json")]


def test_report_swapped_or_missing(staged: StagedRelease) -> None:
    data = json.loads(staged.report_path.read_text())
    staged.report_path.write_text(json.dumps(data) + " ")
    assert check_rules(staged) == [(rules.REPORT_MISMATCH.id, None)]
    staged.report_path.unlink()  # the copy staged inside (all a clone has) is the report then
    assert check_rules(staged) == []
    inner = staged.path / STAGED_REPORT_NAME
    inner.write_text(inner.read_text() + " ")
    assert check_rules(staged) == [(rules.REPORT_MISMATCH.id, None),
                                   (rules.REPORT_MISMATCH.id, STAGED_REPORT_NAME)]
    inner.unlink()
    assert check_rules(staged) == [(rules.REPORT_MISMATCH.id, None)]


def test_manifest_missing_or_malformed(staged: StagedRelease) -> None:
    manifest = staged.path / MANIFEST_NAME
    manifest.write_text("{not json")
    assert check_rules(staged) == [(rules.MANIFEST_INVALID.id, MANIFEST_NAME)]
    manifest.write_text(json.dumps({"manifest_version": 1, "files": [{"path": "../x"}]}))
    assert check_rules(staged) == [(rules.MANIFEST_INVALID.id, MANIFEST_NAME)]
    manifest.unlink()
    assert check_rules(staged) == [(rules.MANIFEST_INVALID.id, MANIFEST_NAME)]


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        check_staged(tmp_path / "missing")


def test_report_that_did_not_pass(staged: StagedRelease) -> None:
    import hashlib

    data = json.loads(staged.report_path.read_text())
    data["verdict"] = "fail"
    text = json.dumps(data)
    staged.report_path.write_text(text)
    (staged.path / STAGED_REPORT_NAME).write_text(text)
    manifest_path = staged.path / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())
    manifest["report_sha256"] = hashlib.sha256(text.encode()).hexdigest()
    manifest_path.write_text(json.dumps(manifest))
    assert check_rules(staged) == [(rules.REPORT_NOT_PASSED.id, None)]


def test_staged_folder_from_another_commit_is_refused(
        project: Project, cli: Callable[..., CliResult]) -> None:
    config = load_config(project.config)
    staged = stage_release(config, scan(config))
    built = read_manifest(staged.path).git_commit
    assert built is not None
    ok = cli("check", "--config", project.config)
    assert ok.code == 0 and f"built from {built} on branch main" in ok.err
    (project.code / "train.py").write_text("print('newer')\n")
    project.commit_code("newer")
    newer = git(project.code, "rev-parse", "HEAD").strip()
    stale = cli("check", "--config", project.config, "--format", "json")
    assert stale.code == 1
    [finding] = json.loads(stale.out)["findings"]
    assert finding["rule_id"] == rules.SOURCE_COMMIT_MISMATCH.id
    assert built in finding["message"] and newer in finding["message"]
    assert cli("check", staged.path, "--commit", built).code == 0
    assert cli("check", staged.path, "--commit", newer).code == 1


def test_release_built_outside_git_fails_only_an_explicit_commit(
        plain_project: Project, cli: Callable[..., CliResult]) -> None:
    config = load_config(plain_project.config)
    staged = stage_release(config, scan(config))
    assert cli("check", "--config", plain_project.config).code == 0
    assert cli("check", staged.path, "--commit", "0" * 40).code == 1
