"""Git target: one commit on a branch, an annotated tag, LFS for weights, verified by a clone."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from release import rules
from release.config import Config, GitPublishSettings
from release.digests import copy_verified, git_blob_sha1_of, sha256_file
from release.errors import InputError, UsageError
from release.findings import Finding
from release.lock import state_folder
from release.pipeline.manifest import GITATTRIBUTES, Manifest
from release.publish import register
from release.publish.plan import (
    CHANGED_AFTER_GATE,
    MIB,
    PublishPlan,
    PublishRecord,
    PushOutcome,
    expected_blobs,
    gitattributes_text,
    make_plan,
    public_location,
    redact,
    tag_conflict,
)

_SCP_LIKE = re.compile(r"^[^/\s@]+@[\w.-]+:")
_FALLBACK_IDENTITY = {"name": "release", "email": "release@localhost"}


def resolve_remote(remote: str, config_root: Path) -> str:
    """URLs and scp-style remotes as written; a local path relative to the config file."""
    if "://" in remote or _SCP_LIKE.match(remote) or Path(remote).is_absolute():
        return remote
    return str((config_root / remote).resolve())


@register("git")
def git_publisher(config: Config) -> GitPublisher:
    if config.publish_git is None:
        raise UsageError("[publish.git] is not configured", path=config.path)
    return GitPublisher(config.publish_git, config.root)


class GitPublisher:
    """Pushes with the git command line (via GitPython) and git-lfs, never with a force push."""

    def __init__(self, settings: GitPublishSettings, config_root: Path) -> None:
        self.settings = settings
        self.remote = resolve_remote(settings.remote, config_root)
        # scratch clones live in the project, where the next run (holding the project lock)
        # removes what a killed one left, not in the system's temporary folder
        self.scratch = state_folder(config_root) / "scratch"

    @property
    def threshold_bytes(self) -> int:
        return int(self.settings.lfs_threshold_mb * MIB)

    @property
    def destination(self) -> str:
        return public_location(self.remote)

    # -- running git ---------------------------------------------------------------------------

    @contextmanager
    def _repository(self, purpose: str) -> Iterator[Any]:
        """A scratch repository with `origin` set and git-lfs hooks installed, removed after."""
        import git

        self.scratch.mkdir(parents=True, exist_ok=True)
        for leftover in self.scratch.glob("release-*-*"):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
        scratch = Path(tempfile.mkdtemp(prefix=f"release-{purpose}-", dir=self.scratch))
        try:
            repo = git.Repo.init(scratch / "repo")
            stall = str(int(self.settings.timeout))
            # a transfer slower than 1 KB/s for `timeout` seconds fails instead of hanging
            # (http: git's low-speed limit; ssh: keep-alives and a connect timeout)
            repo.git.update_environment(
                GIT_TERMINAL_PROMPT="0", GIT_LFS_SKIP_SMUDGE="1", GIT_ASKPASS="", SSH_ASKPASS="",
                GIT_HTTP_LOW_SPEED_LIMIT="1000", GIT_HTTP_LOW_SPEED_TIME=stall,
                GIT_SSH_COMMAND=os.environ.get("GIT_SSH_COMMAND") or (
                    f"ssh -o BatchMode=yes -o ConnectTimeout={stall} "
                    "-o ServerAliveInterval=15 -o ServerAliveCountMax=4"))
            self._run(repo, "remote", "add", "origin", self.remote)
            self._run(repo, "lfs", "install", "--local")
            yield repo
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _run(self, repo: Any, *args: str) -> str:
        import git

        try:
            return str(repo.git.execute(["git", *args]))
        except git.GitCommandError as exc:
            detail = redact(str(exc.stderr or "").strip(), [self.remote]) or f"exit {exc.status}"
            raise InputError(f"git {args[0]} failed for {self.destination}: {detail}") from None

    def _remote_refs(self, repo: Any) -> tuple[dict[str, str], dict[str, str]]:
        """Branch and tag heads on the remote; annotated tags are peeled to their commit."""
        heads: dict[str, str] = {}
        tags: dict[str, str] = {}
        for line in self._run(repo, "ls-remote", "origin").splitlines():
            sha, _, ref = line.partition("\t")
            if ref.startswith("refs/heads/"):
                heads[ref.removeprefix("refs/heads/")] = sha
            elif ref.startswith("refs/tags/") and ref.endswith("^{}"):
                tags[ref.removeprefix("refs/tags/")[:-3]] = sha
            elif ref.startswith("refs/tags/"):
                tags.setdefault(ref.removeprefix("refs/tags/"), sha)
        return heads, tags

    def _fetch_tag(self, repo: Any, tag: str) -> str:
        """Fetch a tag from the remote; the commit it points at."""
        self._run(repo, "fetch", "-q", "--no-tags", "origin", f"+refs/tags/{tag}:refs/tags/{tag}")
        return self._run(repo, "rev-parse", f"refs/tags/{tag}^{{commit}}")

    def _tree(self, repo: Any, commit: str) -> dict[str, str]:
        listing = self._run(repo, "ls-tree", "-r", "-z", "--full-tree", commit)
        tree = {}
        for entry in filter(None, listing.split("\0")):
            meta, _, path = entry.partition("\t")
            tree[path] = meta.split()[2]
        return tree

    def _identity(self, repo: Any) -> list[str]:
        """`-c user.*` options where git has no identity configured (a fresh CI machine)."""
        options = []
        reader = repo.config_reader()
        for key, fallback in _FALLBACK_IDENTITY.items():
            if not reader.get_value("user", key, default=""):
                options += ["-c", f"user.{key}={fallback}"]
        return options

    # -- the push ------------------------------------------------------------------------------

    def expected_tree(self, plan: PublishPlan, staged_dir: Path) -> dict[str, str]:
        tree = expected_blobs(plan, staged_dir)
        attributes = gitattributes_text(plan, self.settings.lfs).encode("utf-8")
        tree[GITATTRIBUTES] = git_blob_sha1_of(attributes)
        return tree

    def _record(self, plan: PublishPlan, commit: str, status: str) -> PublishRecord:
        return PublishRecord(target="git", destination=self.destination, ref=plan.ref,
                             tag=plan.tag, commit=commit, url=self.destination, status=status,
                             manifest_sha256=plan.manifest_sha256)

    def plan(self, staged_dir: Path, manifest: Manifest) -> PublishPlan:
        return make_plan("git", self.destination, self.settings.branch, self.settings.tag,
                         staged_dir, manifest, self.settings.lfs, self.threshold_bytes)

    def push(self, plan: PublishPlan, staged_dir: Path) -> PushOutcome:
        ensure_git_lfs()
        expected = self.expected_tree(plan, staged_dir)
        with self._repository("publish") as repo:
            heads, tags = self._remote_refs(repo)
            if plan.tag in tags:
                commit = self._fetch_tag(repo, plan.tag)
                if self._tree(repo, commit) == expected:
                    return PushOutcome(self._record(plan, commit, "unchanged"))
                return tag_conflict(plan, self.destination, commit)
            head = heads.get(plan.ref)
            status = "published"
            if head is not None:
                self._run(repo, "fetch", "-q", "--no-tags", "origin",
                          f"+refs/heads/{plan.ref}:refs/remotes/origin/{plan.ref}")
                self._run(repo, "checkout", "-q", "-B", plan.ref, f"origin/{plan.ref}")
            else:
                self._run(repo, "checkout", "-q", "--orphan", plan.ref)
            if head is not None and self._tree(repo, head) == expected:
                commit, status = head, "tagged"
            else:
                commit = self._commit(repo, plan, staged_dir)
            self._run(repo, *self._identity(repo), "tag", "-a", plan.tag, "-m", plan.message,
                      commit)
            self._run(repo, "push", "-q", "--atomic", "origin",
                      f"{commit}:refs/heads/{plan.ref}", f"refs/tags/{plan.tag}")
        return PushOutcome(self._record(plan, commit, status))

    def _commit(self, repo: Any, plan: PublishPlan, staged_dir: Path) -> str:
        work = Path(repo.working_tree_dir)
        self._run(repo, "rm", "-r", "-q", "--cached", "--ignore-unmatch", ".")
        for child in work.iterdir():
            if child.name == ".git":
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        for planned in plan.files:
            copy_verified(staged_dir / planned.path, work / planned.path, planned.sha256,
                          CHANGED_AFTER_GATE)
        (work / GITATTRIBUTES).write_text(gitattributes_text(plan, self.settings.lfs),
                                          encoding="utf-8")
        self._run(repo, "add", "-A", "--", ".")
        self._run(repo, *self._identity(repo), "commit", "-q", "--no-verify", "-m", plan.message)
        return self._run(repo, "rev-parse", "HEAD")

    # -- reading it back -----------------------------------------------------------------------

    def verify(self, plan: PublishPlan, staged_dir: Path, record: PublishRecord
               ) -> list[Finding]:
        """Clone the tag with LFS content and compare every file and every blob with the plan."""
        expected = self.expected_tree(plan, staged_dir)
        with self._repository("verify") as repo:
            commit = self._fetch_tag(repo, plan.tag)
            problems: list[tuple[str | None, str]] = []
            if commit != record.commit:
                problems.append((None, f"tag {plan.tag} points at {commit[:12]}, not at the "
                                       f"pushed commit {record.commit[:12]}"))
            tree = self._tree(repo, commit)
            for path in sorted(set(tree) | set(expected)):
                if path not in expected:
                    problems.append((path, "is on the remote but not in the release"))
                elif path not in tree:
                    problems.append((path, "is missing on the remote"))
                elif tree[path] != expected[path]:
                    problems.append((path, "is stored differently on the remote (blob or LFS "
                                           "pointer differs)"))
            repo.git.update_environment(GIT_LFS_SKIP_SMUDGE="0")
            self._run(repo, "checkout", "-q", "--detach", commit)
            work = Path(repo.working_tree_dir)
            for planned in plan.files:
                local = work / planned.path
                if local.is_file() and not local.is_symlink() and sha256_file(local) != \
                        planned.sha256:
                    problems.append((planned.path, "checked out from the remote, its bytes "
                                                   "differ from the manifest (LFS content "
                                                   "missing?)"))
        return [Finding(rules.REMOTE_DIFFERS, path, f"{message} at {self.destination}")
                for path, message in problems]


def ensure_git_lfs() -> None:
    """git-lfs must be installed: weights must never land in plain git history by accident."""
    if shutil.which("git-lfs") is None:
        raise UsageError("git-lfs is not installed; install it (e.g. `apt-get install "
                         "git-lfs`) before `release publish --to git`")
