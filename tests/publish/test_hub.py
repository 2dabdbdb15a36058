"""Publishing to a local Hub-compatible server through huggingface_hub, end to end."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from release.digests import sha256_file
from release.pipeline.manifest import MANIFEST_NAME, STAGED_REPORT_NAME, read_manifest
from tests.conftest import REPO_ROOT, CliResult
from tests.publish.conftest import HUB_TOKEN, Publishable, make_publishable
from tests.publish.hub_server import HubServer

REPO_ID = "test-org/tiny-model"


@pytest.fixture
def on_hub(tmp_path: Path, hub: HubServer) -> Publishable:
    return make_publishable(tmp_path, hub.url)


def publish(cli: Callable[..., CliResult], target: Publishable, *args: str) -> CliResult:
    return cli("publish", "--to", "hub", "--config", target.config, *args)


def before_commit(monkeypatch: pytest.MonkeyPatch,
                  action: Callable[[Path, str | None], None]) -> None:
    """Run `action(staged_dir, head)` just before the publisher sends its commit."""
    from release.publish.hub import HubPublisher

    original = HubPublisher._commit

    def wrapped(self: HubPublisher, plan: Any, staged_dir: Path, head: str | None,
                *rest: Any) -> tuple[str, str | None]:
        action(staged_dir, head)
        return original(self, plan, staged_dir, head, *rest)

    monkeypatch.setattr(HubPublisher, "_commit", wrapped)


def test_publish_download_back_then_noop_then_refusals(
        on_hub: Publishable, hub: HubServer, tmp_path: Path,
        cli: Callable[..., CliResult]) -> None:
    from huggingface_hub import hf_hub_download

    first = publish(cli, on_hub)
    assert first.code == 0, first.err + first.out
    repo = hub.state.repos[REPO_ID]
    assert repo.private and "v0.1.0" in repo.tags
    staged = on_hub.staged.path
    for entry in read_manifest(staged).files:
        local = hf_hub_download(REPO_ID, entry.path, revision="v0.1.0", endpoint=hub.url,
                                cache_dir=tmp_path / "cache")
        assert sha256_file(Path(local)) == entry.sha256, entry.path
    tree = repo.commits[repo.tags["v0.1.0"]].files
    assert tree["model.safetensors"].lfs_oid is not None
    assert set(tree) == {e.path for e in read_manifest(staged).files} | {
        MANIFEST_NAME, STAGED_REPORT_NAME, ".gitattributes"}
    record = json.loads(on_hub.staged.report_path.read_text())["publications"][0]
    assert record["target"] == "hub" and record["commit"] == repo.tags["v0.1.0"]

    hub.state.calls.clear()
    again = publish(cli, on_hub)
    assert again.code == 0 and "already published" in again.err
    assert not {"commit", "tag", "lfs_upload"} & set(hub.state.calls)

    (staged / "tokenizer.json").write_text("{}")
    hub.state.calls.clear()
    edited = publish(cli, on_hub)
    assert edited.code == 1 and "RL602" in edited.out
    assert hub.state.calls == []


def test_commit_failure_then_rerun_completes(on_hub: Publishable, hub: HubServer,
                                             cli: Callable[..., CliResult]) -> None:
    hub.state.fail_next["commit"] = 1
    first = publish(cli, on_hub)
    assert first.code == 3 and "run again" in first.err
    assert not hub.state.repos[REPO_ID].tags
    uploads = hub.state.calls.count("lfs_upload")
    assert uploads == 1
    second = publish(cli, on_hub)
    assert second.code == 0, second.err + second.out
    assert hub.state.calls.count("lfs_upload") == uploads, "uploaded objects are not re-sent"
    assert "v0.1.0" in hub.state.repos[REPO_ID].tags


def test_tag_failure_then_rerun_tags_the_existing_commit(on_hub: Publishable, hub: HubServer,
                                                         cli: Callable[..., CliResult]) -> None:
    hub.state.fail_next["tag"] = 1
    assert publish(cli, on_hub).code == 3
    head = hub.state.repos[REPO_ID].branches["main"]
    hub.state.calls.clear()
    second = publish(cli, on_hub, "--format", "json")
    assert second.code == 0
    assert json.loads(second.out)["publish"]["record"]["status"] == "tagged"
    assert "commit" not in hub.state.calls
    assert hub.state.repos[REPO_ID].tags["v0.1.0"] == head


def test_concurrent_push_fails_instead_of_merging(on_hub: Publishable, hub: HubServer,
                                                  cli: Callable[..., CliResult],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A commit landing between reading the head and committing makes the commit fail."""
    def racing(staged_dir: Path, head: str | None) -> None:
        repo = hub.state.repos[REPO_ID]
        repo.branches["main"] = repo.new_commit(head, {}, "someone else")

    before_commit(monkeypatch, racing)
    result = publish(cli, on_hub)
    assert result.code == 3 and "412" in result.err
    assert not hub.state.repos[REPO_ID].tags


def test_tag_elsewhere_is_refused(on_hub: Publishable, hub: HubServer,
                                  cli: Callable[..., CliResult]) -> None:
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub.url, token=HUB_TOKEN)
    api.create_repo(REPO_ID)
    api.create_tag(REPO_ID, tag="v0.1.0", revision="main")
    hub.state.calls.clear()
    result = publish(cli, on_hub)
    assert result.code == 1 and "RL608" in result.out
    assert "commit" not in hub.state.calls


def test_pull_request_mode(tmp_path: Path, hub: HubServer,
                           cli: Callable[..., CliResult]) -> None:
    target = make_publishable(tmp_path, hub.url, extra="create_pr = true\n")
    result = publish(cli, target, "--format", "json")
    assert result.code == 0, result.err
    record = json.loads(result.out)["publish"]["record"]
    repo = hub.state.repos[REPO_ID]
    assert record["pull_request"].endswith("/discussions/1")
    assert repo.tags["v0.1.0"] == repo.pulls[0] != repo.branches["main"]
    hub.state.calls.clear()
    assert publish(cli, target).code == 0 and "commit" not in hub.state.calls


def test_no_token_in_any_output(on_hub: Publishable, hub: HubServer,
                                cli: Callable[..., CliResult]) -> None:
    outputs = []
    hub.state.fail_next["commit"] = 1
    for args in ((), (), ("--format", "json"), ("--dry-run",), ("-v",)):
        result = publish(cli, on_hub, *args)
        outputs += [result.out, result.err]
    outputs.append(on_hub.staged.report_path.read_text())
    assert all(HUB_TOKEN not in text for text in outputs)
    assert any("412" in t or "500" in t for t in outputs)


def test_missing_token_is_a_usage_error(on_hub: Publishable, cli: Callable[..., CliResult],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_TOKEN")
    result = publish(cli, on_hub)
    assert result.code == 2 and "HF_TOKEN" in result.err


def test_production_code_leaves_xet_alone() -> None:
    """Only the tests switch Xet off (the local server has no Xet storage)."""
    sources = (REPO_ROOT / "src").rglob("*.py")
    assert not [p for p in sources if "DISABLE_XET" in p.read_text(encoding="utf-8")]


def test_unreachable_hub_is_a_clear_tool_error(tmp_path: Path, hub: HubServer,
                                               cli: Callable[..., CliResult]) -> None:
    target = make_publishable(tmp_path, "http://127.0.0.1:9")
    result = publish(cli, target)
    assert result.code == 3 and "could not create the repository" in result.err
    assert "internal error" not in result.err and HUB_TOKEN not in result.err


def test_file_changed_after_the_gate_is_not_pushed(on_hub: Publishable, hub: HubServer,
                                                   cli: Callable[..., CliResult],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def tamper(staged_dir: Path, head: str | None) -> None:
        (staged_dir / "config.json").write_text('{"swapped": true}')

    before_commit(monkeypatch, tamper)
    result = publish(cli, on_hub)
    assert result.code == 3 and "changed after the publish gate" in result.err
    assert "commit" not in hub.state.calls and not hub.state.repos[REPO_ID].tags


def test_an_error_while_reading_the_tree_back_names_the_step(on_hub: Publishable, hub: HubServer,
                                                             cli: Callable[..., CliResult]
                                                             ) -> None:
    """Issue 15, item 9: the library lists a tree lazily; a failure while it does is exit 3
    naming the step, not an internal error, and the re-run completes."""
    hub.state.fail_next["tree"] = 1
    hub.state.fail_status["tree"] = 403  # not retried by the library
    first = publish(cli, on_hub)
    assert first.code == 3 and "list the files" in first.err, first.err
    assert "internal error" not in first.err
    assert publish(cli, on_hub).code == 0


def test_a_push_whose_read_back_differs_says_so_once() -> None:
    from release import rules
    from release.findings import Finding
    from release.pipeline.report import Report
    from release.publish.plan import PublishRecord
    from release.publish.run import PublishResult

    record = PublishRecord("hub", "org/m", "main", "v1", "c" * 40, "http://hub/org/m", "published",
                           "0" * 64)
    failing = Report.create("publish", [Finding(rules.REMOTE_DIFFERS, "x", "differs")], [])
    outcome = PublishResult(failing, None, record).outcome
    assert outcome is not None and outcome.startswith("pushed v1")
    assert "differences" in outcome and "nothing was published" not in outcome


def test_a_download_of_the_published_repo_checks(on_hub: Publishable, hub: HubServer,
                                                 tmp_path: Path,
                                                 cli: Callable[..., CliResult]) -> None:
    """A downstream user's snapshot of the tag verifies with `release check` on its own: the
    report travels inside the tree, .gitattributes and the download cache are known."""
    from huggingface_hub import snapshot_download

    assert cli("prepare", "--config", on_hub.config).code == 0
    assert publish(cli, on_hub).code == 0
    local = Path(snapshot_download(REPO_ID, revision="v0.1.0", endpoint=hub.url,
                                   local_dir=tmp_path / "downstream"))
    assert (local / "release-report.json").is_file()
    checked = cli("check", local, "-q")
    assert checked.code == 0, checked.out + checked.err


def test_a_gated_repository_is_refused_naming_the_setting(on_hub: Publishable, hub: HubServer,
                                                          cli: Callable[..., CliResult]) -> None:
    """DUA-OAI §4(c): no restriction on the use of the trained model, so no access terms."""
    assert publish(cli, on_hub).code == 0
    hub.state.repos[REPO_ID].gated = "manual"
    bumped = on_hub.config.read_text().replace('version = "0.1.0"', 'version = "0.1.1"')
    on_hub.config.write_text(bumped)
    assert cli("prepare", "--config", on_hub.config).code == 0
    hub.state.calls.clear()
    refused = publish(cli, on_hub, "--format", "json")
    assert refused.code == 1, refused.out + refused.err
    (finding,) = [f for f in json.loads(refused.out)["findings"] if f["rule_id"] == "RL613"]
    assert "gated" in finding["message"] and "§4(c)" in finding["message"]
    assert not {"commit", "tag", "lfs_upload"} & set(hub.state.calls)
    assert "v0.1.1" not in hub.state.repos[REPO_ID].tags
