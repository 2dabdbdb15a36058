"""The CI integrations: the composite action run for real, the workflow and hook manifests valid,
and the pre-commit hook installed with the real pre-commit tool refusing a leaking commit."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.conftest import EXAMPLE, REPO_ROOT, git

DATA = Path(__file__).parent / "data"
ACTION = REPO_ROOT / "action.yml"
WORKFLOW = REPO_ROOT / "examples" / "ci" / "release-gate.yml"
BIN = Path(sys.executable).parent
# Actions the composite action may use; everything else it does is in its own run steps.
KNOWN_ACTIONS = {"actions/setup-python", "actions/cache/restore", "actions/upload-artifact",
                 "github/codeql-action/upload-sarif"}


class Yaml12Loader(yaml.SafeLoader):
    """YAML as GitHub reads it (1.2 booleans): `on` is a key, not true."""


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"),
                                   list("tf"))


def load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=Yaml12Loader)


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DATA / name).read_text(encoding="utf-8"))
    return loaded


def test_action_and_workflow_validate_against_the_github_schemas() -> None:
    jsonschema.validate(load_yaml(ACTION), schema("github-actions.json"))
    workflow = load_yaml(WORKFLOW)
    jsonschema.validate(workflow, schema("github-workflows.json"))
    triggers = workflow["on"]
    assert triggers["push"]["branches"] == ["release/**"]
    assert triggers["pull_request"]["branches"] == ["release/**"]
    publish = workflow["jobs"]["publish"]
    assert "refs/tags/" in publish["if"] and publish["needs"] == "gate"
    commands = [step.get("run", "") for step in publish["steps"]]
    assert any(c.startswith("release check") for c in commands)
    assert any(c.startswith("release publish") for c in commands)


def test_pre_commit_manifest_is_valid() -> None:
    subprocess.run([BIN / "pre-commit", "validate-manifest", REPO_ROOT / ".pre-commit-hooks.yaml"],
                   check=True, capture_output=True)
    [hook] = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["entry"].startswith("release scan --files")


class ActionRunner:
    """Runs the composite action's `run` steps in order with the runner's files and variables,
    evaluating the small expression language subset the action uses (and refusing any other)."""

    def __init__(self, workdir: Path, inputs: dict[str, str], temp: Path) -> None:
        self.action = load_yaml(ACTION)
        self.workdir = workdir
        self.inputs = {name: spec.get("default", "")
                       for name, spec in self.action["inputs"].items()} | inputs
        self.temp = temp
        self.summary = temp / "step-summary.md"
        self.outputs: dict[str, dict[str, str]] = {}
        self.failed = False
        self.ran: list[str] = []

    def value(self, expression: str) -> str:
        expression = expression.strip()
        if match := re.fullmatch(r"inputs\.([\w-]+)", expression):
            return self.inputs[match[1]]
        if match := re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression):
            return self.outputs.get(match[1], {}).get(match[2], "")
        if expression == "github.action_path":
            return str(REPO_ROOT)
        if match := re.fullmatch(r"'([^']*)'", expression):
            return match[1]
        raise AssertionError(f"expression outside the tested subset: {expression}")

    def substitute(self, text: str) -> str:
        return re.sub(r"\$\{\{(.*?)\}\}", lambda m: self.value(m[1]), text)

    def condition(self, text: str | None) -> bool:
        if text is None:
            return not self.failed
        verdict = not self.failed
        for part in text.split("&&"):
            part = part.strip()
            if part == "always()":
                verdict = True
            elif match := re.fullmatch(r"(.+?)\s*(==|!=)\s*(.+)", part):
                left, right = self.value(match[1]), self.value(match[3])
                if (left == right) != (match[2] == "=="):
                    return False
            else:
                raise AssertionError(f"condition outside the tested subset: {part}")
        return verdict

    def run(self) -> None:
        for step in self.action["runs"]["steps"]:
            if not self.condition(step.get("if")):
                continue
            if "uses" in step:
                assert step["uses"].split("@")[0] in KNOWN_ACTIONS, step["uses"]
                continue
            if step.get("id") == "install":
                continue  # the test environment has this checkout installed already
            output = self.temp / f"output-{step['id']}"
            output.write_text("")
            inherited = {k: v for k, v in os.environ.items() if k != "RELEASE_INDEX_KEY"}
            env = {**inherited, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
                   "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(self.summary),
                   "RUNNER_TEMP": str(self.temp), "GITHUB_ACTION_PATH": str(REPO_ROOT),
                   **{k: self.substitute(str(v)) for k, v in step.get("env", {}).items()}}
            shell = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"]
            result = subprocess.run([*shell, step["run"]], cwd=self.workdir,
                                    env=env, capture_output=True, text=True, timeout=600)
            self.ran.append(step["id"])
            self.outputs[step["id"]] = dict(line.split("=", 1) for line in
                                            output.read_text().splitlines() if "=" in line)
            if result.returncode != 0:
                self.failed = True
                self.outputs[step["id"]]["_exit"] = str(result.returncode)


@pytest.fixture
def release_branch(tmp_path: Path) -> tuple[Path, str, str]:
    """The example as its own repository on `release/1.0`, its index built where the data is
    and handed over as CI would get it (a base64 secret), the data and index then removed."""
    from tests.conftest import TEST_INDEX_KEY

    repo = tmp_path / "clinic-notes"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns("dist", ".release",
                                                                 "__pycache__"))
    (repo / ".gitignore").write_text("dist/\n.release/\ndata/\n")
    git(repo, "init", "-q")
    git(repo, "checkout", "-q", "-b", "release/1.0")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "release 1.0")
    env = {**os.environ, "RELEASE_INDEX_KEY": TEST_INDEX_KEY}
    subprocess.run([BIN / "release", "index", "build", "--config", repo / "release.toml", "-q"],
                   check=True, env=env, capture_output=True)
    packed = subprocess.run(["tar", "-C", repo / ".release", "-czf", "-", "index"], check=True,
                            capture_output=True).stdout
    index_b64 = base64.b64encode(packed).decode()
    shutil.rmtree(repo / ".release")
    shutil.rmtree(repo / "data")
    return repo, index_b64, TEST_INDEX_KEY


@pytest.mark.slow
def test_composite_action_gates_a_release_branch(release_branch: tuple[Path, str, str],
                                                 tmp_path: Path) -> None:
    repo, index_b64, key = release_branch
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    runner = ActionRunner(repo, {"index-key": key, "index-base64": index_b64}, temp)
    runner.run()
    assert runner.ran == ["locate", "restore", "gate"], runner.outputs
    assert runner.outputs["gate"]["exit-code"] == "0" and not runner.failed
    sarif = json.loads(Path(runner.outputs["gate"]["sarif"]).read_text())
    jsonschema.validate(sarif, schema("sarif-2.1.0-rtm.5.json"))
    summary = runner.summary.read_text()
    assert "`release prepare`: pass" in summary and "on `release/1.0`" in summary
    staged = Path(runner.outputs["locate"]["staged"])
    assert (staged / "release-manifest.json").is_file()
    head = git(repo, "rev-parse", "HEAD").strip()
    checked = subprocess.run([BIN / "release", "check", "--config", repo / "release.toml"],
                             cwd=repo, capture_output=True, text=True)
    assert checked.returncode == 0 and head in checked.stderr and "release/1.0" in checked.stderr


@pytest.mark.slow
def test_composite_action_fails_the_job_on_a_leak(release_branch: tuple[Path, str, str],
                                                  tmp_path: Path) -> None:
    repo, index_b64, key = release_branch
    leaked = json.loads((EXAMPLE / "data" / "notes.jsonl").read_text().splitlines()[5])
    (repo / "training" / "fixture.txt").write_text(leaked["note"] + "\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "add a fixture")
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    runner = ActionRunner(repo, {"index-key": key, "index-base64": index_b64}, temp)
    runner.run()
    assert runner.outputs["gate"]["exit-code"] == "1"
    assert runner.ran == ["locate", "restore", "gate", "verdict"] and runner.failed
    assert runner.outputs["verdict"]["_exit"] == "1"
    jsonschema.validate(json.loads(Path(runner.outputs["gate"]["sarif"]).read_text()),
                        schema("sarif-2.1.0-rtm.5.json"))
    summary = runner.summary.read_text()
    assert "RL201" in summary and leaked["note"] not in summary


def _snapshot_of_this_checkout(target: Path) -> str:
    """This working tree (tracked and untracked, not ignored) as a fresh one-commit repository,
    so pre-commit installs the hook from exactly the code under test."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=REPO_ROOT, capture_output=True,
                            check=True).stdout.split(b"\0")
    for raw in filter(None, listed):
        name = os.fsdecode(raw)
        source = REPO_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    git(target, "init", "-q")
    git(target, "add", "-A")
    git(target, "commit", "-qm", "snapshot")
    return git(target, "rev-parse", "HEAD").strip()


@pytest.mark.slow
def test_pre_commit_hook_refuses_a_commit_with_training_text(tmp_path: Path) -> None:
    if not (REPO_ROOT / ".git").exists():
        pytest.fail("the pre-commit test needs this repository's git checkout")
    hooks_repo = tmp_path / "release-hooks"
    hooks_repo.mkdir()
    rev = _snapshot_of_this_checkout(hooks_repo)
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("dist", ".release",
                                                                    "__pycache__"))
    code = project / "training"
    (code / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {hooks_repo}\n  rev: {rev}\n  hooks:\n  - id: release-scan\n"
        "    args: [--config, ../release.toml]\n")
    git(code, "init", "-q")
    git(code, "add", "-A")
    git(code, "commit", "-qm", "initial", "--no-verify")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-cache"),
           "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run([BIN / "pre-commit", "install"], cwd=code, env=env, check=True,
                   capture_output=True)

    def commit(name: str, text: str) -> subprocess.CompletedProcess[str]:
        (code / name).write_text(text)
        subprocess.run(["git", "add", name], cwd=code, check=True)
        return subprocess.run(["git", "-c", "user.name=T", "-c", "user.email=t@example.invalid",
                               "commit", "-qm", f"add {name}"], cwd=code, env=env,
                              capture_output=True, text=True, timeout=900)

    record = json.loads((EXAMPLE / "data" / "notes.jsonl").read_text().splitlines()[2])
    refused = commit("fixture.txt", f"expected output:\n{record['note']}\n")
    assert refused.returncode != 0, refused.stdout + refused.stderr
    assert "RL201" in refused.stdout + refused.stderr
    assert record["note"] not in refused.stdout + refused.stderr
    assert "add fixture.txt" not in git(code, "log", "--format=%s")
    subprocess.run(["git", "reset", "-q", "HEAD", "fixture.txt"], cwd=code, check=True)
    (code / "fixture.txt").unlink()
    clean = commit("notes.md", "# Notes\n\nNothing from the data here.\n")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "add notes.md" in git(code, "log", "--format=%s")
