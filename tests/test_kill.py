"""kill -9 at random points of prepare, index build and publish --to git: nothing half-written
is ever trusted, the re-run succeeds with the same bytes, and no leftovers remain after it."""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import TEST_INDEX_KEY
from tests.publish.conftest import git_out, make_publishable, remote_refs

pytestmark = pytest.mark.slow
TRIALS = 10
STAGED = "test-org--tiny-model-0.1.0"


def release(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "release", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600,
                          env=_environment())


def _environment() -> dict[str, str]:
    import os

    return {**os.environ, "RELEASE_INDEX_KEY": TEST_INDEX_KEY}


def killed(args: list[str | Path], cwd: Path, after: float) -> None:
    """Start `release ARGS` and kill it with SIGKILL `after` seconds in (if still running)."""
    process = subprocess.Popen([sys.executable, "-m", "release", *map(str, args)], cwd=cwd,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=_environment())
    try:
        process.wait(timeout=after)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()


def timed(args: list[str | Path], cwd: Path) -> float:
    start = time.monotonic()
    result = release(*args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return time.monotonic() - start


def leftovers(*folders: Path) -> list[str]:
    """Scratch release gives names to: .NAME.XXXXXXXX.partial, .NAME.old-XXXXXXXX, clones."""
    found = []
    for folder in folders:
        if folder.is_dir():
            found += [p.name for p in folder.iterdir()
                      if p.name.endswith(".partial") or ".old-" in p.name
                      or p.name.startswith(("release-publish-", "release-verify-"))]
    return found


def staged_files(folder: Path) -> dict[str, bytes]:
    """The staged release's bytes, but the manifest's and the report's, which carry the time
    of staging (the manifest's list of files is compared instead)."""
    files = {p.relative_to(folder).as_posix(): p.read_bytes()
             for p in sorted(folder.rglob("*")) if p.is_file()}
    manifest = json.loads(files.pop("release-manifest.json"))
    files["manifest files"] = json.dumps(manifest["files"]).encode()
    report = json.loads(files.pop("release-report.json"))
    files["report verdict"] = report["verdict"].encode()
    return files


def index_files(folder: Path) -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}
    meta = json.loads(files.pop("meta.json"))
    meta.pop("created")
    files["meta"] = json.dumps(meta).encode()
    return files


def test_prepare_killed_at_random_points(tmp_path: Path) -> None:
    target = make_publishable(tmp_path)
    root, config = target.project.root, target.config
    dist = root / "dist"
    shutil.rmtree(dist)
    duration = timed(["prepare", "--config", config], root)
    reference = staged_files(dist / STAGED)
    rng = random.Random(0)
    for _ in range(TRIALS):
        shutil.rmtree(dist)
        killed(["prepare", "--config", config], root, rng.uniform(0, duration))
        if (dist / STAGED).exists():  # what is there is whole, or it is not there at all
            checked = release("check", "--config", config, cwd=root)
            assert checked.returncode == 0, checked.stdout + checked.stderr
        rerun = release("prepare", "--config", config, cwd=root)
        assert rerun.returncode == 0, rerun.stderr
        assert staged_files(dist / STAGED) == reference
        assert leftovers(dist, root / ".release", root / ".release" / "scratch") == []


def test_index_build_killed_at_random_points(tmp_path: Path) -> None:
    target = make_publishable(tmp_path)
    root, config = target.project.root, target.config
    index = root / ".release" / "index"
    duration = timed(["index", "build", "--config", config], root)
    reference = index_files(index)
    rng = random.Random(1)
    for _ in range(TRIALS):
        killed(["index", "build", "--config", config], root, rng.uniform(0, duration))
        if index.exists():  # a complete index, usable as it is
            assert release("index", "info", "--config", config, cwd=root).returncode == 0
        rerun = release("index", "build", "--config", config, cwd=root)
        assert rerun.returncode == 0, rerun.stderr
        assert index_files(index) == reference
        assert leftovers(root / ".release") == []


def _tree(remote: Path) -> list[str]:
    """The tag's files and blobs; the manifest and the report (which carry the time of
    staging) by path only."""
    lines = git_out(remote, "ls-tree", "-r", "v0.1.0").splitlines()
    timed_files = ("release-manifest.json", "release-report.json")
    return [line if not line.endswith(timed_files) else line.rsplit("\t", 1)[-1]
            for line in lines]


def test_publish_to_git_killed_at_random_points(tmp_path: Path) -> None:
    reference_target = make_publishable(tmp_path / "reference")
    duration = timed(["publish", "--to", "git", "--config", reference_target.config],
                     reference_target.project.root)
    reference_tree = _tree(reference_target.remote)
    rng = random.Random(2)
    for trial in range(TRIALS):
        target = make_publishable(tmp_path / f"trial{trial}")
        root, config = target.project.root, target.config
        killed(["publish", "--to", "git", "--config", config], root, rng.uniform(0, duration))
        refs = remote_refs(target.remote)
        if "refs/tags/v0.1.0" in refs:  # a tag is only ever pushed with its whole release
            assert _tree(target.remote) == reference_tree
        rerun = release("publish", "--to", "git", "--config", config, cwd=root)
        assert rerun.returncode == 0, rerun.stderr
        assert _tree(target.remote) == reference_tree
        assert len(json.loads(target.staged.report_path.read_text())["publications"]) == 1
        assert leftovers(root / ".release" / "scratch", root / "dist") == []
