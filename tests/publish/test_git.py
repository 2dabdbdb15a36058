"""Publishing to a bare git remote on disk, with git-lfs, end to end through the CLI."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from release.digests import sha256_file
from release.pipeline.manifest import MANIFEST_NAME, STAGED_REPORT_NAME, read_manifest
from tests.conftest import CliResult
from tests.publish.conftest import Publishable, git_out, remote_refs


def clone(remote: Path, into: Path, ref: str) -> Path:
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(remote), str(into)], check=True)
    git_out(into, "lfs", "install", "--local")
    git_out(into, "checkout", "-q", ref)
    return into


def test_publish_then_noop_then_refusals(publishable: Publishable, tmp_path: Path,
                                         cli: Callable[..., CliResult]) -> None:
    staged = publishable.staged
    first = cli("publish", "--to", "git", "--config", publishable.config)
    assert first.code == 0, first.err + first.out
    assert "published v0.1.0" in first.err

    copy = clone(publishable.remote, tmp_path / "clone", "v0.1.0")
    manifest = read_manifest(staged.path)
    for entry in manifest.files:
        assert sha256_file(copy / entry.path) == entry.sha256, entry.path
    assert (copy / MANIFEST_NAME).read_bytes() == (staged.path / MANIFEST_NAME).read_bytes()
    stored = git_out(copy, "cat-file", "-p", "HEAD:model.safetensors")
    assert stored.startswith("version https://git-lfs.github.com/spec/v1\noid sha256:")
    assert git_out(copy, "cat-file", "-t", "v0.1.0").strip() == "tag"
    message = git_out(copy, "log", "-1", "--format=%B")
    assert "Release-Manifest: sha256:" in message
    assert git_out(copy, "rev-parse", "origin/release") == git_out(copy, "rev-parse", "HEAD")

    report = json.loads(staged.report_path.read_text())
    [record] = report["publications"]
    assert record["target"] == "git" and record["tag"] == "v0.1.0"
    assert record["commit"] == git_out(copy, "rev-parse", "HEAD").strip()
    assert cli("check", staged.path).code == 0, "the record must not break the pinned digest"

    before = remote_refs(publishable.remote)
    again = cli("publish", "--to", "git", "--config", publishable.config, "--format", "json")
    assert again.code == 0 and "already published" in again.err
    assert json.loads(again.out)["publish"]["record"]["status"] == "unchanged"
    assert remote_refs(publishable.remote) == before
    assert len(json.loads(staged.report_path.read_text())["publications"]) == 1

    (staged.path / "config.json").write_text('{"edited": true}')
    edited = cli("publish", "--to", "git", "--config", publishable.config)
    assert edited.code == 1 and "RL602" in edited.out and "nothing was published" in edited.err
    assert remote_refs(publishable.remote) == before


def _fail_report(publishable: Publishable) -> None:
    """Turn the staged report into a failing one that the manifest still pins."""
    staged = publishable.staged
    data = json.loads(staged.report_path.read_text())
    data["verdict"] = "fail"
    text = json.dumps(data, indent=2) + "\n"
    staged.report_path.write_text(text)
    manifest_path = staged.path / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())
    import hashlib

    manifest["report_sha256"] = hashlib.sha256(text.encode()).hexdigest()
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    os.utime(staged.report_path)


def test_failing_report_pushes_nothing(publishable: Publishable,
                                       cli: Callable[..., CliResult]) -> None:
    _fail_report(publishable)
    result = cli("publish", "--to", "git", "--config", publishable.config)
    assert result.code == 1 and "RL606" in result.out
    assert remote_refs(publishable.remote) == ""


def test_stale_report_refused(publishable: Publishable, cli: Callable[..., CliResult]) -> None:
    newer = publishable.staged.report_path.stat().st_mtime + 60
    os.utime(publishable.staged.path / "config.json", (newer, newer))
    result = cli("publish", "--to", "git", "--config", publishable.config)
    assert result.code == 1 and "RL607" in result.out
    assert remote_refs(publishable.remote) == ""


def test_dry_run_prints_plan_and_changes_nothing(publishable: Publishable,
                                                 cli: Callable[..., CliResult]) -> None:
    result = cli("publish", "--to", "git", "--dry-run", "--config", publishable.config,
                 "--format", "json")
    assert result.code == 0, result.err
    plan = json.loads(result.out)["publish"]["plan"]
    files = {f["path"]: f for f in plan["files"]}
    assert plan["ref"] == "release" and plan["tag"] == "v0.1.0"
    assert files["model.safetensors"]["lfs"] and not files["config.json"]["lfs"]
    assert set(files) == {e.path for e in read_manifest(publishable.staged.path).files} | {
        MANIFEST_NAME, STAGED_REPORT_NAME}
    text = cli("publish", "--to", "git", "--dry-run", "--config", publishable.config)
    assert "dry run" in text.out and "lfs" in text.out and "model.safetensors" in text.out
    assert remote_refs(publishable.remote) == ""
    assert "publications" not in json.loads(publishable.staged.report_path.read_text())


def test_interrupted_push_is_completed_by_a_rerun(publishable: Publishable,
                                                  cli: Callable[..., CliResult]) -> None:
    hook = publishable.remote / "hooks" / "pre-receive"
    marker = publishable.remote / "failed-once"
    hook.write_text(f"#!/bin/sh\nif [ ! -e '{marker}' ]; then touch '{marker}'; "
                    "echo 'remote: connection dropped' >&2; exit 1; fi\nexit 0\n")
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    first = cli("publish", "--to", "git", "--config", publishable.config)
    assert first.code == 3 and "git push failed" in first.err
    assert remote_refs(publishable.remote) == ""
    second = cli("publish", "--to", "git", "--config", publishable.config)
    assert second.code == 0, second.err + second.out
    assert "refs/tags/v0.1.0" in remote_refs(publishable.remote)


def test_existing_tag_elsewhere_is_refused(publishable: Publishable, tmp_path: Path,
                                           cli: Callable[..., CliResult]) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "file.txt").write_text("an older release\n")
    for args in (["init", "-q"], ["add", "-A"],
                 ["-c", "user.name=T", "-c", "user.email=t@example.invalid", "commit", "-qm",
                  "old"],
                 ["tag", "v0.1.0"], ["push", "-q", str(publishable.remote), "HEAD:refs/heads/old",
                                     "v0.1.0"]):
        git_out(other, *args)
    before = remote_refs(publishable.remote)
    result = cli("publish", "--to", "git", "--config", publishable.config)
    assert result.code == 1 and "RL608" in result.out and "v0.1.0" in result.out
    assert remote_refs(publishable.remote) == before


def test_new_version_replaces_the_tree_on_the_branch(publishable: Publishable, tmp_path: Path,
                                                     cli: Callable[..., CliResult]) -> None:
    from release.config import load_config
    from release.pipeline.scan import scan
    from release.pipeline.stage import stage_release

    assert cli("publish", "--to", "git", "--config", publishable.config).code == 0
    project = publishable.project
    (project.code / "train.py").unlink()
    (project.code / "fit.py").write_text("print('fit')\n")
    project.commit_code("rename")
    project.config.write_text(project.config.read_text().replace('"0.1.0"', '"0.2.0"'))
    config = load_config(project.config)
    stage_release(config, scan(config))
    result = cli("publish", "--to", "git", "--config", project.config)
    assert result.code == 0, result.err + result.out
    copy = clone(publishable.remote, tmp_path / "v2", "v0.2.0")
    assert (copy / "training" / "fit.py").is_file()
    assert not (copy / "training" / "train.py").exists()
    assert git_out(copy, "rev-list", "--count", "HEAD").strip() == "2"


def test_file_changed_after_the_gate_is_not_pushed(publishable: Publishable,
                                                   cli: Callable[..., CliResult],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from release.publish.git import GitPublisher

    original = GitPublisher._commit

    def tamper(self: GitPublisher, repo: object, plan: object, staged_dir: Path) -> str:
        (staged_dir / "config.json").write_text('{"swapped": true}')
        return original(self, repo, plan, staged_dir)  # type: ignore[arg-type]

    monkeypatch.setattr(GitPublisher, "_commit", tamper)
    result = cli("publish", "--to", "git", "--config", publishable.config)
    assert result.code == 3 and "changed after the publish gate" in result.err
    assert remote_refs(publishable.remote) == ""


def test_a_folder_staged_before_a_new_commit_is_not_published(
        publishable: Publishable, cli: Callable[..., CliResult]) -> None:
    """After a commit, the staged folder no longer is the code at HEAD: publish refuses it as
    check does, unless --commit names the commit it was built from."""
    project = publishable.project
    built_from = read_manifest(publishable.staged.path).git_commit
    assert built_from is not None
    (project.code / "train.py").write_text("print('changed')\n")
    project.commit_code("change after staging")
    refused = cli("publish", "--to", "git", "--config", project.config)
    assert refused.code == 1 and "RL610" in refused.out, refused.out + refused.err
    assert remote_refs(publishable.remote) == ""
    named = cli("publish", "--to", "git", "--config", project.config, "--commit", built_from)
    assert named.code == 0, named.out + named.err
    assert "refs/tags/v0.1.0" in remote_refs(publishable.remote)


def test_preparing_a_new_version_keeps_the_old_one_checkable(
        publishable: Publishable, cli: Callable[..., CliResult]) -> None:
    project = publishable.project
    old = publishable.staged.path
    project.config.write_text(project.config.read_text().replace('"0.1.0"', '"0.2.0"'))
    assert cli("prepare", "--config", project.config).code == 0
    dist = old.parent
    assert (dist / "test-org--tiny-model-0.2.0.report.json").is_file()
    assert (dist / "test-org--tiny-model-0.1.0.report.json").is_file()
    for version in ("0.1.0", "0.2.0"):
        checked = cli("check", dist / f"test-org--tiny-model-{version}")
        assert checked.code == 0, checked.out


def test_a_clone_of_the_published_tree_checks_and_lints(
        publishable: Publishable, tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    """What a downstream user gets from the remote verifies on its own: `release check` on a
    clone passes (the files publish adds are known to it) and `reuse lint` passes."""
    prepared = cli("prepare", "--config", publishable.config)  # with licensing and card
    assert prepared.code == 0, prepared.out
    assert cli("publish", "--to", "git", "--config", publishable.config).code == 0
    copy = clone(publishable.remote, tmp_path / "downstream", "v0.1.0")
    assert (copy / ".gitattributes").is_file()
    checked = cli("check", copy, "-q")
    assert checked.code == 0, checked.out + checked.err
    linted = subprocess.run([os.fspath(Path(sys.executable).with_name("reuse")), "lint"],
                            cwd=copy, capture_output=True, text=True)
    assert linted.returncode == 0, linted.stdout
