"""Tests for release.pipeline.inventory: release paths, git code, globs, links, special files."""

from __future__ import annotations

import os

import pytest

from release import rules
from release.config import load_config
from release.errors import ConfigError
from release.pipeline.globs import glob_match
from release.pipeline.inventory import build_inventory
from release.pipeline.kinds import classify_kind
from tests.conftest import Project, git


@pytest.mark.parametrize(
    ("path", "pattern", "expected"),
    [
        ("src/a/b.py", "src/**", True),
        ("src", "src/**", False),
        ("srcx/a.py", "src/**", False),
        ("train.py", "train.py", True),
        ("sub/train.py", "train.py", True),   # no slash: any depth, like gitignore
        ("sub/train.py", "/train.py", False),  # leading slash anchors
        ("notebooks/scratch/x.ipynb", "notebooks/scratch/**", True),
        ("notebooks/scratch/x.ipynb", "notebooks/scratch", True),  # a folder covers its files
        ("a/b/c.pyc", "*.pyc", True),
        ("a/b/c.py", "*.pyc", False),
        ("a/__pycache__/c.pyc", "**/__pycache__/**", True),
        ("configs/x.yaml", "configs/*.yaml", True),
        ("configs/deep/x.yaml", "configs/*.yaml", False),
        ("data1.csv", "data[0-9].csv", True),
        ("dataX.csv", "data[!0-9].csv", True),
    ],
)
def test_glob_match(path: str, pattern: str, expected: bool) -> None:
    assert glob_match(path, pattern) is expected


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("model.safetensors", "weights"), ("pytorch_model.bin", "weights"),
        ("tf_model.h5", "weights"), ("train.h5", "data"), ("tokenizer.json", "tokenizer"),
        ("vocab.txt", "tokenizer"), ("config.json", "config"), ("train.py", "code"),
        ("explore.ipynb", "notebook"), ("README.md", "doc"), ("LICENSE", "doc"),
        ("notes.csv", "data"), ("notes.csv.gz", "data"), ("notes.parquet", "data"),
        ("bundle.zip", "archive"), ("bundle.tar.gz", "archive"), ("blob", "other"),
        ("Makefile", "code"),
    ],
)
def test_classify_kind(name: str, kind: str) -> None:
    assert classify_kind(name) == kind


def paths(project: Project) -> dict[str, str]:
    inventory = build_inventory(load_config(project.config))
    return {item.path: item.origin for item in inventory.items}


def test_model_files_at_root_code_under_dest(project: Project) -> None:
    assert paths(project) == {
        "config.json": "model", "model.safetensors": "model", "tokenizer.json": "model",
        "training/README.md": "code", "training/train.py": "code",
    }


def test_only_git_tracked_code_ships(project: Project) -> None:
    (project.code / "scratch.py").write_text("print('untracked')\n")
    assert "training/scratch.py" not in paths(project)


def test_include_and_exclude(project: Project) -> None:
    (project.code / "src").mkdir()
    (project.code / "src" / "m.py").write_text("x = 1\n")
    (project.code / "src" / "skip.py").write_text("x = 2\n")
    project.commit_code()
    project.config.write_text(project.config.read_text().replace(
        'dest = "training"', 'dest = "training"\ninclude = ["src/**"]\nexclude = ["skip.py"]'))
    assert set(paths(project)) >= {"training/src/m.py"}
    assert "training/src/skip.py" not in paths(project)
    assert "training/train.py" not in paths(project)


def test_plain_folder_ships_every_file_but_own_outputs(plain_project: Project) -> None:
    config_text = plain_project.config.read_text().replace('path = "code"', 'path = "."')
    plain_project.config.write_text(config_text)
    (plain_project.root / "dist").mkdir()
    (plain_project.root / "dist" / "old.txt").write_text("old")
    (plain_project.root / ".release").mkdir()
    (plain_project.root / ".release" / "index.key").write_text("secret")
    found = paths(plain_project)
    assert "training/code/train.py" in found
    assert "training/data/train.jsonl" in found  # the data detector will flag it
    assert not any(p.startswith(("training/dist", "training/.release", "training/model/"))
                   for p in found)


def test_git_metadata_and_dirty_code(project: Project) -> None:
    config = load_config(project.config)
    clean = build_inventory(config)
    assert clean.git is not None and clean.git.commit and clean.git.branch == "main"
    assert clean.git.dirty == frozenset()
    (project.code / "train.py").write_text("print('edited')\n")
    dirty = build_inventory(config)
    assert dirty.git is not None and dirty.git.dirty == {"training/train.py"}
    assert [f.rule for f in dirty.findings] == [rules.UNCOMMITTED_CODE]


def test_tracked_key_file_is_a_finding(project: Project) -> None:
    project.config.write_text(project.config.read_text().replace(
        'index = ".release/index"', 'index = "code/.release/index"\nkey_file = "code/index.key"'))
    (project.code / "index.key").write_text("secret")
    project.commit_code()
    inventory = build_inventory(load_config(project.config))
    assert [(f.rule, f.path) for f in inventory.findings] == [
        (rules.SECRET_SHIPPED, "training/index.key")]
    message = inventory.findings[0].message  # how to rotate, not only that it happened
    for step in ("git rm --cached", ".gitignore", "release index build", "RELEASE_INDEX_KEY"):
        assert step in message


def test_symlinks_are_judged(project: Project) -> None:
    (project.model / "etc").symlink_to("/etc")
    (project.model / "passwd").symlink_to("/etc/passwd")
    (project.model / "broken").symlink_to(project.model / "missing")
    (project.model / "alias.json").symlink_to("config.json")
    (project.model / "sub").mkdir()
    (project.model / "subdir-link").symlink_to("sub")
    inventory = build_inventory(load_config(project.config))
    judged = {f.path: f.rule for f in inventory.findings}
    assert judged == {
        "etc": rules.SYMLINK_OUTSIDE,
        "passwd": rules.SYMLINK_OUTSIDE,
        "broken": rules.SYMLINK_OUTSIDE,
        "subdir-link": rules.DIRECTORY_SYMLINK,
    }
    assert "alias.json" in {i.path for i in inventory.items if i.problem is None}


def test_fifo_is_a_special_file(project: Project) -> None:
    os.mkfifo(project.model / "pipe")
    inventory = build_inventory(load_config(project.config))
    assert [(f.rule, f.path) for f in inventory.findings] == [(rules.SPECIAL_FILE, "pipe")]


def test_invalid_utf8_name_is_a_finding_on_that_file(project: Project) -> None:
    """Issue 15: one odd name is a finding, not an abort of the whole inventory."""
    bad = os.fsencode(project.model) + b"/weird-\xff.txt"
    with open(bad, "wb") as handle:
        handle.write(b"x")
    inventory = build_inventory(load_config(project.config))
    assert [(f.rule, f.path) for f in inventory.findings] == [
        (rules.BAD_FILE_NAME, "weird-\\xff.txt")]
    assert "not valid UTF-8" in inventory.findings[0].message
    assert len(inventory.items) == 6  # the other files (model and code) are still there


def test_control_characters_in_a_name_are_a_finding(project: Project) -> None:
    (project.model / "forged\nPASS  0 errors.txt").write_text("x")
    inventory = build_inventory(load_config(project.config))
    assert [f.rule for f in inventory.findings] == [rules.BAD_FILE_NAME]


def test_missing_or_empty_model_folder(project: Project) -> None:
    for child in project.model.iterdir():
        child.unlink()
    with pytest.raises(ConfigError) as info:
        build_inventory(load_config(project.config))
    assert info.value.key == "model.path" and "no files" in str(info.value)
    project.model.rmdir()
    with pytest.raises(ConfigError) as info:
        build_inventory(load_config(project.config))
    assert info.value.key == "model.path" and "does not exist" in str(info.value)


def test_reserved_and_colliding_paths(project: Project) -> None:
    (project.model / "release-manifest.json").write_text("{}")
    project.config.write_text(project.config.read_text().replace('dest = "training"',
                                                                 'dest = "."'))
    (project.model / "train.py").write_text("x = 1\n")
    inventory = build_inventory(load_config(project.config))
    collisions = {(f.path, f.rule) for f in inventory.findings}
    assert ("release-manifest.json", rules.PATH_COLLISION) in collisions
    assert ("train.py", rules.PATH_COLLISION) in collisions


def test_code_outside_git_repo_subfolder(project: Project) -> None:
    """A code path that is a subfolder of a repository lists only files under it."""
    sub = project.code / "pkg"
    sub.mkdir()
    (sub / "mod.py").write_text("y = 2\n")
    project.commit_code()
    project.config.write_text(project.config.read_text().replace('path = "code"',
                                                                 'path = "code/pkg"'))
    assert {p for p, o in paths(project).items() if o == "code"} == {"training/mod.py"}
    assert git(project.code, "rev-parse", "--is-inside-work-tree").strip() == "true"
