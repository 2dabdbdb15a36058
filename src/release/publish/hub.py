"""Hugging Face Hub target: one commit pinned to its parent, a tag, and the tree read back."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from release import rules
from release.config import Config, HubPublishSettings
from release.digests import git_blob_sha1
from release.errors import InputError, IntegrityError, UsageError
from release.findings import Finding
from release.pipeline.manifest import GITATTRIBUTES, Manifest
from release.publish import register
from release.publish.plan import (
    CHANGED_AFTER_GATE,
    PlannedFile,
    PublishPlan,
    PublishRecord,
    PushOutcome,
    make_plan,
    public_location,
    redact,
    tag_conflict,
)

T = TypeVar("T")
IN_MEMORY_BYTES = 16 * 1024 * 1024
# What a new Hub repository's .gitattributes routes through LFS, and the Hub's size cut-off:
# the plan's prediction; the Hub itself decides at upload time.
HUB_LFS_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.pth", "*.ckpt", "*.h5", "*.onnx",
                    "*.gguf", "*.msgpack", "*.model", "*.npy", "*.npz", "*.zip", "*.gz", "*.tar",
                    "*.zst")
HUB_LFS_THRESHOLD = 10 * 1024 * 1024


def hub_token() -> str:
    """`HF_TOKEN` or the token saved by `hf auth login`; never printed."""
    from huggingface_hub import get_token

    token = get_token()
    if not token:
        raise UsageError("no Hugging Face token: set HF_TOKEN or run `hf auth login` before "
                         "`release publish --to hub`")
    return token


@register("hub")
def hub_publisher(config: Config) -> HubPublisher:
    if config.publish_hub is None:
        raise UsageError("[publish.hub] is not configured", path=config.path)
    return HubPublisher(config.publish_hub)


class HubPublisher:
    """Pushes with huggingface_hub; Xet or LFS is the library's choice, as for any upload. The
    token is asked for only when something is sent (a dry run needs none)."""

    def __init__(self, settings: HubPublishSettings) -> None:
        from huggingface_hub import constants

        self.settings = settings
        self.endpoint = (settings.endpoint or constants.ENDPOINT).rstrip("/")
        self._api: Any = None
        self.token: str | None = None

    @property
    def api(self) -> Any:
        if self._api is None:
            from huggingface_hub import HfApi, get_session

            self.token = hub_token()
            self._api = HfApi(endpoint=self.settings.endpoint, token=self.token)
            # the library's shared client waits forever by default; a stalled Hub must fail
            get_session().timeout = self.settings.timeout
        return self._api

    @property
    def destination(self) -> str:
        return public_location(f"{self.endpoint}/{self.settings.repo_id}")

    @contextmanager
    def _step(self, what: str) -> Iterator[None]:
        """Turn any Hub or network error into an InputError with the token redacted."""
        from huggingface_hub.errors import HfHubHTTPError

        try:
            yield
        except HfHubHTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            detail = redact(str(exc).splitlines()[0] if str(exc) else "", [self.token])
            raise InputError(f"the Hub refused to {what} ({status}): {detail}; nothing past "
                             "this step was done, run again to resume") from None
        except Exception as exc:  # network errors of the HTTP client have no common base
            detail = redact(str(exc), [self.token])
            raise InputError(f"could not {what} on {self.destination}: {type(exc).__name__}: "
                             f"{detail}; run again to resume") from None

    def _call(self, what: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self._step(what):
            return function(*args, **kwargs)

    def _files_at(self, revision: str) -> dict[str, Any]:
        """The files of the remote tree at `revision`, by path, without `.gitattributes`."""
        from huggingface_hub.hf_api import RepoFile

        # listed whole inside the step: the library yields lazily, and a network error while
        # it does is one of this step's
        listing = self._call("list the files", lambda: list(self.api.list_repo_tree(
            self.settings.repo_id, revision=revision, recursive=True)))
        return {entry.path: entry for entry in listing
                if isinstance(entry, RepoFile) and entry.path != GITATTRIBUTES}

    @staticmethod
    def differences(plan: PublishPlan, staged_dir: Path, remote: dict[str, Any]
                    ) -> list[tuple[str | None, str]]:
        """How a remote tree (from `_files_at`) differs from the plan; empty when it matches."""
        planned = {f.path: f for f in plan.files}
        problems: list[tuple[str | None, str]] = []
        for path in sorted(set(remote) | set(planned)):
            entry, wanted = remote.get(path), planned.get(path)
            if wanted is None:
                problems.append((path, "is on the Hub but not in the release"))
            elif entry is None:
                problems.append((path, "is missing on the Hub"))
            elif entry.lfs is not None:
                if entry.lfs.sha256 != wanted.sha256 or entry.lfs.size != wanted.size:
                    problems.append((path, "has a different LFS sha256 or size on the Hub"))
            elif entry.size != wanted.size or entry.blob_id != git_blob_sha1(staged_dir / path):
                problems.append((path, "has a different git blob id or size on the Hub"))
        return problems

    def _record(self, plan: PublishPlan, commit: str, status: str,
                pull_request: str | None = None) -> PublishRecord:
        return PublishRecord(target="hub", destination=self.settings.repo_id, ref=plan.ref,
                             tag=plan.tag, commit=commit,
                             url=f"{self.destination}/tree/{plan.tag}", status=status,
                             manifest_sha256=plan.manifest_sha256, pull_request=pull_request)

    def plan(self, staged_dir: Path, manifest: Manifest) -> PublishPlan:
        return make_plan("hub", self.destination, self.settings.revision, self.settings.tag,
                         staged_dir, manifest, HUB_LFS_PATTERNS, HUB_LFS_THRESHOLD)

    def push(self, plan: PublishPlan, staged_dir: Path) -> PushOutcome:
        repo_id = self.settings.repo_id
        self._call("create the repository", self.api.create_repo, repo_id,
                   private=self.settings.private, exist_ok=True)
        info = self._call("read the repository's settings", self.api.model_info, repo_id)
        if getattr(info, "gated", False):
            return PushOutcome(None, (Finding(
                rules.GATED_REPOSITORY, None,
                f"{repo_id} is gated (access requests: {info.gated}): users must accept extra "
                "terms to download the model, a restriction on its use that DUA-OAI §4(c) "
                "rules out; turn off the 'gated' setting (Settings, Access requests) and "
                "publish again", basis=str(info.gated), config_key="publish.hub.repo_id"),))
        refs = self._call("list refs", self.api.list_repo_refs, repo_id,
                          include_pull_requests=self.settings.create_pr)
        tagged = next((t.target_commit for t in refs.tags if t.name == plan.tag), None)
        if tagged is not None:
            if not self.differences(plan, staged_dir, self._files_at(tagged)):
                return PushOutcome(self._record(plan, tagged, "unchanged"))
            return tag_conflict(plan, self.destination, tagged)
        head = next((b.target_commit for b in refs.branches if b.name == plan.ref), None)
        head_files = self._files_at(head) if head is not None else {}
        done = head if head is not None and not self.differences(plan, staged_dir,
                                                                 head_files) else None
        if done is None and self.settings.create_pr:
            done = next((pr.target_commit for pr in refs.pull_requests or []
                         if not self.differences(plan, staged_dir,
                                                 self._files_at(pr.target_commit))), None)
        if done is not None:
            commit, status, pull_request = done, "tagged", None
        else:
            commit, pull_request = self._commit(plan, staged_dir, head, head_files)
            status = "published"
        self._call("create the tag", self.api.create_tag, repo_id, tag=plan.tag,
                   tag_message=plan.message, revision=commit, exist_ok=True)
        return PushOutcome(self._record(plan, commit, status, pull_request))

    def _commit(self, plan: PublishPlan, staged_dir: Path, head: str | None,
                head_files: dict[str, Any]) -> tuple[str, str | None]:
        """One commit of every planned file that also deletes the head's other files."""
        from huggingface_hub import CommitOperationDelete

        planned = {f.path for f in plan.files}
        operations: list[Any] = [self._addition(f, staged_dir) for f in plan.files]
        operations += [CommitOperationDelete(path_in_repo=path) for path in head_files
                       if path not in planned]
        summary, _, description = plan.message.partition("\n\n")
        info = self._call("commit the release", self.api.create_commit, self.settings.repo_id,
                          operations, commit_message=summary, commit_description=description,
                          revision=plan.ref, create_pr=self.settings.create_pr,
                          parent_commit=head)
        return info.oid, info.pr_url

    @staticmethod
    def _addition(planned: PlannedFile, staged_dir: Path) -> Any:
        """An upload of exactly the bytes the gate verified: small files are read and checked
        here and sent from memory; a large one is checked by the sha256 the library computes
        for its LFS upload (which the LFS server verifies in turn)."""
        from huggingface_hub import CommitOperationAdd

        source = staged_dir / planned.path
        if planned.size <= IN_MEMORY_BYTES:
            data = source.read_bytes()
            if hashlib.sha256(data).hexdigest() != planned.sha256:
                raise IntegrityError(CHANGED_AFTER_GATE, path=source)
            return CommitOperationAdd(path_in_repo=planned.path, path_or_fileobj=data)
        addition = CommitOperationAdd(path_in_repo=planned.path, path_or_fileobj=str(source))
        if addition.upload_info.sha256.hex() != planned.sha256:
            raise IntegrityError(CHANGED_AFTER_GATE, path=source)
        return addition

    def verify(self, plan: PublishPlan, staged_dir: Path, record: PublishRecord
               ) -> list[Finding]:
        """List the tree at the tag and compare every size and hash with the manifest."""
        refs = self._call("list refs", self.api.list_repo_refs, self.settings.repo_id)
        tagged = next((t.target_commit for t in refs.tags if t.name == plan.tag), None)
        problems = (self.differences(plan, staged_dir, self._files_at(plan.tag))
                    if tagged else [])
        if tagged != record.commit:
            problems.insert(0, (None, f"tag {plan.tag} points at {str(tagged)[:12]}, not at "
                                      f"the pushed commit {record.commit[:12]}"))
        return [Finding(rules.REMOTE_DIFFERS, path, f"{message} ({self.destination})")
                for path, message in problems]
