"""Shared fixtures: small real projects (model folder, git-tracked code, data) built per test."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings
from safetensors.numpy import save_file

from release.cli.main import main

# a busy or slow machine must not fail a property test: no example has a time limit
settings.register_profile("release", deadline=None)
settings.load_profile("release")

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = REPO_ROOT / "examples" / "clinic-notes"

RECORDS = [
    {"id": f"r{i}", "name": f"Testperson Number{i}", "email": f"person{i}@example.invalid",
     "note": f"synthetic note {i} describing a fictional visit with several ordinary words"}
    for i in range(20)
]

CONFIG = """\
[release]
name = "test-org/tiny-model"
version = "0.1.0"
out = "dist"

[model]
path = "model"
license = "Apache-2.0"

[code]
path = "code"
license = "MIT"
dest = "training"

[data]
index = ".release/index"

[[data.sources]]
path = "data/train.jsonl"
format = "jsonl"
id_field = "id"
text_fields = ["note"]
sensitive_fields = ["name", "email"]

[agreement]
data_provider = "Test Provider"
data_user = "Test Lab"
"""


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.invalid",
         "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
        cwd=cwd, check=True, capture_output=True, text=True)
    return result.stdout


@dataclass
class Project:
    root: Path
    config: Path

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def code(self) -> Path:
        return self.root / "code"

    @property
    def data(self) -> Path:
        return self.root / "data" / "train.jsonl"

    def commit_code(self, message: str = "update") -> None:
        git(self.code, "add", "-A")
        git(self.code, "commit", "-qm", message, "--allow-empty")


def write_model(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    save_file({"w": rng.normal(size=(8, 4)).astype(np.float32)}, str(folder / "model.safetensors"),
              metadata={"format": "np"})
    (folder / "config.json").write_text(json.dumps({"model_type": "tiny", "hidden": 4}))
    (folder / "tokenizer.json").write_text(json.dumps({"model": {"vocab": {"a": 0, "b": 1}}}))


def make_project(root: Path, *, use_git: bool = True, config: str = CONFIG) -> Project:
    root.mkdir(parents=True, exist_ok=True)
    write_model(root / "model")
    code = root / "code"
    code.mkdir()
    (code / "train.py").write_text("import json\n\nprint('training')\n")
    (code / "README.md").write_text("# Training code\n\nHow the model was trained.\n")
    data = root / "data"
    data.mkdir()
    (data / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    (root / "release.toml").write_text(config)
    project = Project(root, root / "release.toml")
    if use_git:
        git(code, "init", "-q")
        project.commit_code("initial")
    return project


TEST_INDEX_KEY = "release-test-suite-index-key-0123456789abcdef"


@pytest.fixture(autouse=True)
def fixed_index_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """One known index key for every test, so chance agreements of check bits are repeatable
    (tests about key handling unset or replace it)."""
    monkeypatch.setenv("RELEASE_INDEX_KEY", TEST_INDEX_KEY)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "project")


@pytest.fixture
def plain_project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "project", use_git=False)


@pytest.fixture
def example_copy(tmp_path: Path) -> Path:
    """A copy of the bundled example outside git (so every code file is walked)."""
    target = tmp_path / "clinic-notes"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("dist", ".release",
                                                                   "__pycache__"))
    return target


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run `release ARGS` in this process and capture its exit code and output."""

    def run(*args: str | Path) -> CliResult:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            main([str(a) for a in args])
        captured = capsys.readouterr()
        code = exit_info.value.code
        return CliResult(code if isinstance(code, int) else 0, captured.out, captured.err)

    return run


def run_module(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m release ARGS` in a subprocess."""
    return subprocess.run([sys.executable, "-m", "release", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)
