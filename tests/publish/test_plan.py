"""Tests for release.publish.plan: LFS routing, .gitattributes, redaction, printable remotes."""

from __future__ import annotations

import subprocess
from pathlib import Path

from release.publish.plan import (
    PlannedFile,
    PublishPlan,
    gitattributes_text,
    public_location,
    redact,
    routes_through_lfs,
)


def plan_of(*files: PlannedFile) -> PublishPlan:
    return PublishPlan("git", "remote", "release", "v1", "msg", "0" * 64, files)


def test_lfs_by_pattern_at_any_depth_and_by_size() -> None:
    assert routes_through_lfs("weights/model.safetensors", 10, ["*.safetensors"], 1000)
    assert routes_through_lfs("notes.txt", 1000, ["*.safetensors"], 1000)
    assert not routes_through_lfs("notes.txt", 999, ["*.safetensors"], 1000)


def test_gitattributes_routes_odd_names_that_git_lfs_then_stores(tmp_path: Path) -> None:
    odd = "data dir/big [v1]*.txt"
    text = gitattributes_text(plan_of(PlannedFile(odd, 5, "a" * 64, True),
                                      PlannedFile("w.safetensors", 5, "b" * 64, True),
                                      PlannedFile("small.txt", 5, "c" * 64, False)),
                              ["*.safetensors"])
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".gitattributes").write_text(text)
    attrs = subprocess.run(["git", "check-attr", "filter", "--", odd, "w.safetensors",
                            "small.txt"], cwd=repo, capture_output=True, text=True,
                           check=True).stdout.splitlines()
    assert attrs == [f"{odd}: filter: lfs", "w.safetensors: filter: lfs",
                     "small.txt: filter: unspecified"]


def test_redact_tokens_and_url_credentials() -> None:
    secret = "hf_" + "secret123"  # split: no literal credential in the source
    message = f"push to https://user:{secret}@example.org/x.git failed with {secret}"
    cleaned = redact(message, [secret])
    assert secret not in cleaned and "user" not in cleaned
    assert public_location("https://me:pw@example.org/r.git") == "https://example.org/r.git"
    assert public_location("git@example.org:org/r.git") == "git@example.org:org/r.git"
