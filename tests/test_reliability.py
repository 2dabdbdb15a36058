"""Nothing lost, nothing silently disabled: each case a hostile user found, reproduced, with the
clear error or the finding it must give and the user's files left as they were."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult, Project

Cli = Callable[..., CliResult]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and ".git" not in p.parts}


def edit_config(config: Path, old: str, new: str) -> None:
    text = config.read_text()
    assert old in text
    config.write_text(text.replace(old, new, 1))


# 1. a config value never deletes the user's data ------------------------------------------------

@pytest.mark.parametrize("index", ["model", "code", "."])
def test_an_index_path_naming_a_user_folder_is_refused(project: Project, cli: Cli,
                                                       index: str) -> None:
    edit_config(project.config, 'index = ".release/index"', f'index = "{index}"')
    before = snapshot(project.root)
    result = cli("scan", "--config", project.config)
    assert result.code == 2, result.err
    assert "data.index" in result.err and "not a fingerprint index" in result.err
    assert snapshot(project.root) == before
    assert (project.root / ".git").exists() or (project.code / ".git").exists()


def test_out_naming_a_user_folder_is_never_replaced(project: Project, cli: Cli) -> None:
    edit_config(project.config, 'out = "dist"', 'out = "outputs"')
    staged = project.root / "outputs" / "test-org--tiny-model-0.1.0"
    staged.mkdir(parents=True)
    (staged / "weights.bin").write_bytes(b"the user's own file")
    (project.root / "outputs" / "release-report.json").write_text("my notes\n")
    before = snapshot(project.root / "outputs")
    result = cli("prepare", "--config", project.config)
    assert result.code == 2 and "release.out" in result.err, result.err
    assert snapshot(project.root / "outputs") == before


def test_leftovers_of_a_killed_run_are_removed_by_the_next(project: Project, cli: Cli) -> None:
    dist = project.root / "dist"
    (dist / ".test-org--tiny-model-0.1.0.abcd1234.partial").mkdir(parents=True)
    (dist / ".test-org--tiny-model-0.1.0.old-0123abcd").mkdir()
    (dist / ".release-report.json.x1y2z3w4.partial").write_text("{}")
    (dist / "keep.txt").write_text("not ours")
    assert cli("prepare", "--config", project.config).code == 0
    assert sorted(p.name for p in dist.iterdir()) == [
        "keep.txt", "release-report.json", "test-org--tiny-model-0.1.0",
        "test-org--tiny-model-0.1.0.spdx"]


# 11. the staged output never ships inside the next release ---------------------------------------

@pytest.mark.parametrize("out", ["model/dist", "model/../model/dist", "./model//dist/"])
def test_out_inside_the_model_folder_is_not_shipped(project: Project, cli: Cli,
                                                     out: str) -> None:
    edit_config(project.config, 'out = "dist"', f'out = "{out}"')
    assert cli("prepare", "--config", project.config).code == 0
    second = cli("prepare", "--config", project.config, "--format", "json")
    assert second.code == 0, second.out
    paths = [f["path"] for f in json.loads(second.out)["files"]]
    assert not any(p.startswith("dist/") for p in paths), paths


def test_an_index_inside_the_model_folder_is_not_shipped(project: Project, cli: Cli) -> None:
    edit_config(project.config, 'index = ".release/index"', 'index = "model/.index"')
    result = cli("prepare", "--config", project.config, "--format", "json")
    assert result.code == 0, result.out + result.err
    paths = [f["path"] for f in json.loads(result.out)["files"]]
    assert (project.model / ".index" / "meta.json").is_file()
    assert not any(p.startswith(".index") for p in paths), paths
