"""Fixtures for publishing: a staged release, a bare git remote, a local Hub server."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from release.config import load_config
from release.pipeline.scan import scan
from release.pipeline.stage import StagedRelease, stage_release
from tests.conftest import CONFIG, Project, make_project
from tests.publish.hub_server import HubServer

HUB_TOKEN = "hf_" + "releaseTestToken0123456789abcdefXYZ"  # split: no literal token in the source


@dataclass
class Publishable:
    project: Project
    staged: StagedRelease
    remote: Path

    @property
    def config(self) -> Path:
        return self.project.config


def git_out(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def remote_refs(remote: Path) -> str:
    return git_out(remote, "for-each-ref", "--format=%(refname) %(objectname)")


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[HubServer]:
    """The local Hub with a known token; Xet is switched off here, in the tests only."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setenv("HF_TOKEN", HUB_TOKEN)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    with HubServer(HUB_TOKEN) as server:
        yield server


def make_publishable(root: Path, hub_url: str = "http://127.0.0.1:9", *,
                     extra: str = "") -> Publishable:
    remote = root / "remote.git"
    config = CONFIG + f"""
[publish.git]
remote = "{remote}"
branch = "release"
tag = "v{{version}}"
lfs = ["*.safetensors"]

[publish.hub]
repo_id = "test-org/tiny-model"
endpoint = "{hub_url}"
{extra}"""
    project = make_project(root / "project", config=config)
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    loaded = load_config(project.config)
    staged = stage_release(loaded, scan(loaded))
    return Publishable(project, staged, remote)


@pytest.fixture
def publishable(tmp_path: Path) -> Publishable:
    return make_publishable(tmp_path)
