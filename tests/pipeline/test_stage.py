"""Tests for release.pipeline.stage: the staged layout, the manifest, atomicity under failure."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from release.config import load_config
from release.errors import IntegrityError, UsageError
from release.pipeline import stage as stage_module
from release.pipeline.manifest import MANIFEST_NAME, STAGED_REPORT_NAME, read_manifest
from release.pipeline.scan import ScanOptions, scan
from release.pipeline.stage import stage_release
from tests.conftest import Project

REPORT = "test-org--tiny-model-0.1.0.report.json"


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir()) if out.exists() else []


def test_stage_writes_folder_manifest_and_report(project: Project) -> None:
    config = load_config(project.config)
    staged = stage_release(config, scan(config, ScanOptions(command="prepare")))
    assert staged.path == project.root / "dist" / "test-org--tiny-model-0.1.0"
    assert sorted(p.relative_to(staged.path).as_posix() for p in staged.path.rglob("*")
                  if p.is_file()) == [
        "config.json", "model.safetensors", MANIFEST_NAME, STAGED_REPORT_NAME,
        "tokenizer.json", "training/README.md", "training/train.py"]
    manifest = read_manifest(staged.path)
    for entry in manifest.files:
        data = (staged.path / entry.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry.sha256 and len(data) == entry.size
    report_bytes = staged.report_path.read_bytes()
    assert staged.report_path == (project.root / "dist"
                                  / "test-org--tiny-model-0.1.0.report.json")
    assert hashlib.sha256(report_bytes).hexdigest() == manifest.report_sha256
    assert manifest.config_sha256 == config.digest
    assert manifest.git_commit is not None and manifest.git_branch == "main"
    report = json.loads(report_bytes)
    assert report["verdict"] == "pass" and report["staged"]["path"] == staged.path.name
    assert leftovers(project.root / "dist") == sorted([REPORT, staged.path.name])


def test_failing_scan_is_not_staged(project: Project) -> None:
    (project.model / "train.csv").write_text("a,b\n1,2\n3,4\n5,6\n")
    config = load_config(project.config)
    with pytest.raises(UsageError):
        stage_release(config, scan(config))
    assert leftovers(project.root / "dist") == []


def test_injected_failure_leaves_nothing_behind(project: Project,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(project.config)
    result = scan(config)
    calls = []
    real_copy = stage_module.copy_verified

    def failing_copy(*args: object, **kwargs: object) -> None:
        calls.append(1)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real_copy(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(stage_module, "copy_verified", failing_copy)
    with pytest.raises(OSError):
        stage_release(config, result)
    assert leftovers(project.root / "dist") == []


def test_failed_restage_keeps_the_previous_release(project: Project,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(project.config)
    first = stage_release(config, scan(config))
    before = {p: p.read_bytes() for p in first.path.rglob("*") if p.is_file()}
    report_before = first.report_path.read_bytes()

    def broken_manifest(self: object) -> str:
        raise RuntimeError("injected")

    monkeypatch.setattr(stage_module.Manifest, "to_json", broken_manifest)
    with pytest.raises(RuntimeError):
        stage_release(config, scan(config))
    assert {p: p.read_bytes() for p in first.path.rglob("*") if p.is_file()} == before
    assert first.report_path.read_bytes() == report_before
    assert leftovers(project.root / "dist") == sorted([REPORT, first.path.name])


def test_restaging_replaces_the_folder(project: Project) -> None:
    config = load_config(project.config)
    stage_release(config, scan(config))
    (project.code / "extra.py").write_text("z = 3\n")
    project.commit_code()
    staged = stage_release(config, scan(config))
    assert (staged.path / "training" / "extra.py").exists()
    assert leftovers(project.root / "dist") == sorted([REPORT, staged.path.name])


def test_file_changed_after_scan_is_refused(project: Project) -> None:
    config = load_config(project.config)
    result = scan(config)
    (project.model / "config.json").write_text('{"model_type": "changed"}')
    with pytest.raises(IntegrityError) as info:
        stage_release(config, result)
    assert "changed between scanning and staging" in str(info.value)
    assert leftovers(project.root / "dist") == []
