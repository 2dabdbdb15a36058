"""Nothing lost, nothing silently disabled: each case a hostile user found, reproduced, with the
clear error or the finding it must give and the user's files left as they were."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult, Project

Cli = Callable[..., CliResult]


def snapshot(folder: Path) -> dict[str, bytes]:
    """The user's files (not git's, and not the lock release keeps)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and ".git" not in p.parts
            and p.name != "release.lock"}


def edit_config(config: Path, old: str, new: str) -> None:
    text = config.read_text()
    assert old in text
    config.write_text(text.replace(old, new, 1))


# 1. a config value never deletes the user's data ------------------------------------------------

@pytest.mark.parametrize("index", ["model", "code", "."])
def test_an_index_path_naming_a_user_folder_is_refused(project: Project, cli: Cli,
                                                       index: str) -> None:
    edit_config(project.config, 'index = ".release/index"', f'index = "{index}"')
    before = snapshot(project.root)
    result = cli("scan", "--config", project.config)
    assert result.code == 2, result.err
    assert "data.index" in result.err and "not a fingerprint index" in result.err
    assert snapshot(project.root) == before
    assert (project.root / ".git").exists() or (project.code / ".git").exists()


def test_out_naming_a_user_folder_is_never_replaced(project: Project, cli: Cli) -> None:
    edit_config(project.config, 'out = "dist"', 'out = "outputs"')
    staged = project.root / "outputs" / "test-org--tiny-model-0.1.0"
    staged.mkdir(parents=True)
    (staged / "weights.bin").write_bytes(b"the user's own file")
    (project.root / "outputs" / "test-org--tiny-model-0.1.0.report.json").write_text("my notes\n")
    before = snapshot(project.root / "outputs")
    result = cli("prepare", "--config", project.config)
    assert result.code == 2 and "release.out" in result.err, result.err
    assert snapshot(project.root / "outputs") == before


def test_leftovers_of_a_killed_run_are_removed_by_the_next(project: Project, cli: Cli) -> None:
    dist = project.root / "dist"
    (dist / ".test-org--tiny-model-0.1.0.abcd1234.partial").mkdir(parents=True)
    (dist / ".test-org--tiny-model-0.1.0.old-0123abcd").mkdir()
    (dist / ".test-org--tiny-model-0.1.0.report.json.x1y2z3w4.partial").write_text("{}")
    (dist / "keep.txt").write_text("not ours")
    assert cli("prepare", "--config", project.config).code == 0
    assert sorted(p.name for p in dist.iterdir()) == [
        "keep.txt", "test-org--tiny-model-0.1.0", "test-org--tiny-model-0.1.0.report.json",
        "test-org--tiny-model-0.1.0.spdx"]


# 11. the staged output never ships inside the next release ---------------------------------------

@pytest.mark.parametrize("out", ["model/dist", "model/../model/dist", "./model//dist/"])
def test_out_inside_the_model_folder_is_not_shipped(project: Project, cli: Cli,
                                                     out: str) -> None:
    edit_config(project.config, 'out = "dist"', f'out = "{out}"')
    assert cli("prepare", "--config", project.config).code == 0
    second = cli("prepare", "--config", project.config, "--format", "json")
    assert second.code == 0, second.out
    paths = [f["path"] for f in json.loads(second.out)["files"]]
    assert not any(p.startswith("dist/") for p in paths), paths


def test_an_index_inside_the_model_folder_is_not_shipped(project: Project, cli: Cli) -> None:
    edit_config(project.config, 'index = ".release/index"', 'index = "model/.index"')
    result = cli("prepare", "--config", project.config, "--format", "json")
    assert result.code == 0, result.out + result.err
    paths = [f["path"] for f in json.loads(result.out)["files"]]
    assert (project.model / ".index" / "meta.json").is_file()
    assert not any(p.startswith(".index") for p in paths), paths


# 2. a configuration that would check nothing is an error, not a pass ---------------------------

LONG_NOTE = ("the patient arrived on a quiet morning and described a persistent ache in the "
             "left shoulder that had lasted for several weeks")


@pytest.fixture
def leaking(project: Project) -> Project:
    """The project, with a record long enough to be found as text, planted in the code."""
    with project.data.open("a") as data:
        data.write(json.dumps({"id": "long", "name": "Quentin Leakworthy",
                               "email": "quentin@example.invalid", "note": LONG_NOTE}) + "\n")
    (project.code / "notes.md").write_text(f"# Notes\n\n{LONG_NOTE}\n")
    project.commit_code("notes")
    return project


def test_the_planted_leak_fails_with_the_config_as_written(leaking: Project, cli: Cli) -> None:
    result = cli("scan", "--config", leaking.config, "--format", "json")
    assert result.code == 1
    assert "RL201" in {f["rule_id"] for f in json.loads(result.out)["findings"]}


def test_text_fields_left_out_index_every_field(leaking: Project, cli: Cli) -> None:
    edit_config(leaking.config, 'text_fields = ["note"]\n', "")
    result = cli("scan", "--config", leaking.config, "--format", "json")
    assert result.code == 1, result.err
    assert "every field but the id was indexed as text" in result.err  # said once
    assert "RL201" in {f["rule_id"] for f in json.loads(result.out)["findings"]}


@pytest.mark.parametrize(("old", "new", "key"), [
    ('text_fields = ["note"]', "text_fields = []", "data.sources[0].text_fields"),
    ('text_fields = ["note"]', 'text_fields = ["body"]', "data.sources[0].text_fields"),
    ('sensitive_fields = ["name", "email"]', 'sensitive_fields = ["fullname"]',
     "data.sources[0].sensitive_fields"),
    ('format = "jsonl"', 'format = "csv"', "data.sources[0].format"),
    ("[agreement]", "[checks]\nmin_match_words = 10000\n\n[agreement]", "checks.min_match_words"),
    ("[agreement]", "[checks]\nmin_match_words = 2\n\n[agreement]", "checks.min_match_words"),
    ("[agreement]", "[checks]\nmin_sensitive_chars = 10000\n\n[agreement]",
     "checks.min_sensitive_chars"),
])
def test_a_config_that_would_check_nothing_is_an_error(leaking: Project, cli: Cli, old: str,
                                                       new: str, key: str) -> None:
    edit_config(leaking.config, old, new)
    result = cli("scan", "--config", leaking.config)
    assert result.code == 2, (result.out, result.err)
    assert key in result.err and "Traceback" not in result.err


def test_a_source_whose_records_hold_no_text_is_an_error(leaking: Project, cli: Cli) -> None:
    leaking.data.write_text("".join(json.dumps({"id": f"r{i}", "note": "", "name": "",
                                                "email": ""}) + "\n" for i in range(5)))
    result = cli("scan", "--config", leaking.config)
    assert result.code == 2 and "data.sources[0]" in result.err and "text" in result.err


# 3. one odd file is a finding on that file, and the rest is still scanned ----------------------

def safetensors_bytes(header: object, payload: bytes = b"\0" * 16) -> bytes:
    raw = json.dumps(header).encode()
    return len(raw).to_bytes(8, "little") + raw + payload


def tensor(offsets: list[int], dtype: str = "F32", shape: list[int] | None = None) -> object:
    return {"dtype": dtype, "shape": shape if shape is not None else [4],
            "data_offsets": offsets}


HOSTILE = {
    "reversed.safetensors": safetensors_bytes({"w": tensor([16, 0])}),
    "negative.safetensors": safetensors_bytes({"w": tensor([-16, 0])}),
    "past-end.safetensors": safetensors_bytes({"w": tensor([0, 64], shape=[16])}),
    "array.safetensors": safetensors_bytes([{"w": 1}]),
    "metadata.safetensors": safetensors_bytes({"__metadata__": {"n": 3}, "w": tensor([0, 16])}),
    "dtype.safetensors": safetensors_bytes({"w": tensor([0, 16], dtype="Q7")}),
    "shape.safetensors": safetensors_bytes({"w": tensor([0, 16], shape=[5])}),
    "garbage.gz": b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + bytes(range(256)) * 4,
}


def test_every_malformed_file_is_a_finding_and_the_leak_is_still_found(
        leaking: Project, cli: Cli) -> None:
    import os

    for name, data in HOSTILE.items():
        (leaking.model / name).write_bytes(data)
    (leaking.model / "line\nbreak.txt").write_text("x\n")
    with open(os.fsencode(leaking.model) + b"/bad-\xfe.bin", "wb") as handle:
        handle.write(b"x")
    for command in ("scan", "prepare"):
        result = cli(command, "--config", leaking.config, "--format", "json")
        assert result.code == 1, result.err
        report = json.loads(result.out)
        flagged = {f["path"] for f in report["findings"]
                   if f["rule_id"] in ("RL110", "RL112", "RL113")}
        assert flagged >= set(HOSTILE) | {"line\nbreak.txt", "bad-\\xfe.bin"}, flagged
        leaks = {(f["rule_id"], f["path"]) for f in report["findings"]}
        assert ("RL201", "training/notes.md") in leaks
        assert not (leaking.root / "dist" / "test-org--tiny-model-0.1.0").exists()


# 12. text output cannot be forged by a file name ----------------------------------------------

def test_a_file_name_cannot_forge_a_pass_line(project: Project, cli: Cli) -> None:
    (project.model / "x\nPASS  0 errors, 0 warnings\x1b[32m [bold]y.txt").write_text("x")
    for fmt in ("text", "markdown"):
        result = cli("scan", "--config", project.config, "--format", fmt)
        assert result.code == 1
        lines = result.out.splitlines()
        assert not any(line.startswith("PASS") for line in lines), result.out
        assert "\x1b" not in result.out
        assert "\\nPASS  0 errors" in result.out and "\\x1b[32m" in result.out
    text = cli("scan", "--config", project.config).out
    assert "[bold]y.txt" in text  # shown as written, not taken for markup


# 4. nothing blocks on a special file or a stalled server ----------------------------------------

@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_data_source_that_is_not_a_regular_file_is_refused(project: Project, cli: Cli,
                                                             kind: str) -> None:
    import os

    project.data.unlink()
    if kind == "fifo":
        os.mkfifo(project.data)
    else:
        os.symlink("/dev/zero", project.data)
    result = cli("scan", "--config", project.config)
    assert result.code in (2, 3), result.err
    assert "data.sources[0]" in result.err and "regular file" in result.err


def test_a_key_file_that_is_a_fifo_is_refused(project: Project, cli: Cli,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.delenv("RELEASE_INDEX_KEY")
    (project.root / ".release").mkdir()
    os.mkfifo(project.root / ".release" / "index.key")
    result = cli("scan", "--config", project.config)
    assert result.code == 2 and "index.key" in result.err and "FIFO" in result.err


@pytest.mark.parametrize("name", ["release.baseline.json", "canaries.txt"])
def test_other_inputs_that_are_fifos_are_refused(project: Project, cli: Cli, name: str) -> None:
    import os

    os.mkfifo(project.root / name)
    if name == "canaries.txt":
        edit_config(project.config, "[agreement]",
                    '[checks.memorization]\ncanaries = "canaries.txt"\n\n[agreement]')
    result = cli("prepare" if name == "canaries.txt" else "scan", "--config", project.config)
    assert result.code in (0, 1, 2, 3) and "Traceback" not in result.err


def test_a_stalled_hub_fails_with_the_step_named(tmp_path: Path) -> None:
    """A server that accepts the connection and never answers: each request times out."""
    import socket
    import threading

    from tests.conftest import run_module
    from tests.publish.conftest import HUB_TOKEN, make_publishable

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    threading.Thread(target=lambda: [held.append(listener.accept()[0]) for _ in range(8)],
                     daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    target = make_publishable(tmp_path, url, extra="timeout = 2\n")
    import os

    os.environ["HF_TOKEN"] = HUB_TOKEN
    try:
        result = run_module("publish", "--to", "hub", "--config", target.config)
    finally:
        del os.environ["HF_TOKEN"]
        listener.close()
    assert result.returncode == 3, result.stderr
    assert "could not create the repository" in result.stderr


# 7. the key file is written whole or not at all --------------------------------------------------

def test_an_empty_key_file_is_replaced_while_nothing_was_built_with_it(
        project: Project, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELEASE_INDEX_KEY")
    key = project.root / ".release" / "index.key"
    key.parent.mkdir()
    key.write_text("")  # what a run killed between creating and writing it left
    assert cli("scan", "--config", project.config).code == 0
    assert len(key.read_text().strip()) == 64 and oct(key.stat().st_mode)[-3:] == "600"
    key.write_text("")  # now an index was built with the lost key: that is an error
    result = cli("scan", "--config", project.config)
    assert result.code == 2 and "index.key" in result.err


def test_concurrent_first_builds_agree_on_one_key(project: Project,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    monkeypatch.delenv("RELEASE_INDEX_KEY")
    runs = [subprocess.Popen([sys.executable, "-m", "release", "index", "build", "--config",
                              str(project.config), "-q"], stderr=subprocess.PIPE, text=True)
            for _ in range(3)]
    errors = [run.communicate(timeout=300)[1] for run in runs]
    key = (project.root / ".release" / "index.key").read_text()
    assert len(key.strip()) == 64
    assert all("Traceback" not in e for e in errors)
    again = subprocess.run([sys.executable, "-m", "release", "scan", "--config",
                            str(project.config), "-q"], capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr


# 6. a staged file edited together with its manifest entry is refused ---------------------------

def _staged(project: Project, cli: Cli) -> Path:
    assert cli("prepare", "--config", project.config).code == 0
    return project.root / "dist" / "test-org--tiny-model-0.1.0"


def _rewrite_manifest(staged: Path, change: Callable[[dict[str, object]], None]) -> None:
    manifest = staged / "release-manifest.json"
    data = json.loads(manifest.read_text())
    change(data)
    manifest.write_text(json.dumps(data, indent=2) + "\n")


def test_a_file_edited_with_its_manifest_entry_is_refused(project: Project, cli: Cli) -> None:
    import hashlib

    staged = _staged(project, cli)
    forged = b'{"model_type": "never scanned"}'
    (staged / "config.json").write_bytes(forged)

    def follow(data: dict[str, object]) -> None:
        for entry in data["files"]:  # type: ignore[attr-defined]
            if entry["path"] == "config.json":
                entry["sha256"] = hashlib.sha256(forged).hexdigest()
                entry["size"] = len(forged)

    _rewrite_manifest(staged, follow)
    checked = cli("check", "--config", project.config, "--format", "json")
    assert checked.code == 1
    assert ("RL611", "config.json") in {(f["rule_id"], f["path"])
                                        for f in json.loads(checked.out)["findings"]}
    assert cli("publish", "--to", "git", "--config", project.config).code in (1, 2)


def test_a_manifest_with_another_version_is_refused(project: Project, cli: Cli) -> None:
    staged = _staged(project, cli)
    _rewrite_manifest(staged, lambda data: data.update(version="9.9.9"))
    checked = cli("check", "--config", project.config, "--format", "json")
    assert checked.code == 1
    assert "RL611" in {f["rule_id"] for f in json.loads(checked.out)["findings"]}


# 5. bad values are usage errors naming the key, and a full disk is said as such ----------------

@pytest.mark.parametrize(("old", "new", "key"), [
    ("[agreement]\n", "[agreement]\neffective_date = 9999-12-31\n", "agreement.effective_date"),
    ("[agreement]\n", "[agreement]\nsurvival_days = 1000000000000\n", "agreement.survival_days"),
    ("[agreement]\n", "[agreement]\nterm_end = 9999-12-31\ndeletion_days = 30\n",
     "agreement.term_end"),
    ('name = "test-org/tiny-model"', f'name = "test-org/{"m" * 300}"', "release.name"),
    ('version = "0.1.0"', f'version = "{"1" * 10_000_000}"', "release.version"),
    ('out = "dist"', 'out = "release.toml"', "release.out"),
    ("[agreement]", '[publish.git]\nremote = "x.git"\nlfs_threshold_mb = nan\n\n[agreement]',
     "publish.git.lfs_threshold_mb"),
    ("[agreement]", '[publish.git]\nremote = "a\\u0000b"\n\n[agreement]', "publish.git.remote"),
    ("[agreement]", "deep = " + "[" * 3000 + "]" * 3000 + "\n\n[agreement]", "nested"),
])
def test_bad_values_name_their_key(project: Project, cli: Cli, old: str, new: str,
                                   key: str) -> None:
    edit_config(project.config, old, new)
    result = cli("scan", "--config", project.config)
    assert result.code == 2, (result.code, result.err[:300])
    assert key in result.err and "internal error" not in result.err


def test_a_full_disk_is_said_with_the_path(project: Project, cli: Cli,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from release import atomic

    def full(path: Path, text: str, mode: int = 0o644) -> atomic.PendingFile:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(atomic, "prepare_file", full)
    monkeypatch.setattr("release.pipeline.stage.prepare_file", full)
    result = cli("prepare", "--config", project.config)
    assert result.code == 3
    assert "No space left on device" in result.err and ".spdx" in result.err
    assert "internal error" not in result.err
    assert not (project.root / "dist" / "test-org--tiny-model-0.1.0").exists()


# 10. credentials in a URL are never printed ------------------------------------------------------

def test_credentials_in_urls_are_redacted_everywhere(project: Project, cli: Cli) -> None:
    edit_config(project.config, "[agreement]", '''[publish.hub]
repo_id = "test-org/tiny-model"
endpoint = "http://bob:HUBPASS@127.0.0.1:9"

[publish.git]
remote = "alice:GITPASS@example.invalid:/x.git"

[agreement]
release_url = "https://example.invalid/elsewhere"''')
    outputs = []
    for fmt in ("text", "json", "sarif", "markdown"):
        result = cli("prepare", "--config", project.config, "--format", fmt)
        outputs += [result.out, result.err]
    assert "RL407" in outputs[0]
    outputs.append((project.root / "dist" / "test-org--tiny-model-0.1.0.report.json").read_text())
    for target in ("hub", "git"):
        dry = cli("publish", "--to", target, "--config", project.config, "--dry-run",
                  "--format", "json")
        outputs += [dry.out, dry.err]
    blob = "\n".join(outputs)
    assert "HUBPASS" not in blob and "GITPASS" not in blob
    assert "***@example.invalid:/x.git" in blob


def test_scp_like_remotes_with_a_password_are_remotes_not_paths() -> None:
    from release.publish.git import resolve_remote
    from release.publish.plan import public_location, redact

    assert resolve_remote("alice:PASS@host:/x.git", Path("/p")) == "alice:PASS@host:/x.git"
    assert public_location("alice:PASS@host:/x.git") == "***@host:/x.git"
    assert public_location("git@host:org/x.git") == "git@host:org/x.git"
    assert "PASS" not in redact("fatal: could not read alice:PASS@host:/x.git", [])


# 8. one run at a time ----------------------------------------------------------------------------

def test_a_second_run_while_one_holds_the_lock_is_refused(project: Project, cli: Cli) -> None:
    import subprocess
    import sys

    from release.lock import project_lock

    with project_lock(project.root):
        other = subprocess.run([sys.executable, "-m", "release", "prepare", "--config",
                                str(project.config)], capture_output=True, text=True,
                               timeout=300)
        assert other.returncode == 2
        assert f"process {os.getpid()} is running release" in other.stderr
    assert cli("prepare", "--config", project.config).code == 0  # released with the holder


def test_a_dead_holder_leaves_no_stale_lock(project: Project, cli: Cli) -> None:
    import subprocess
    import sys

    holder = subprocess.Popen([sys.executable, "-c", (
        "import time, pathlib; from release.lock import project_lock\n"
        f"with project_lock(pathlib.Path({str(project.root)!r})):\n"
        "    print('held', flush=True); time.sleep(60)")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait()
    assert cli("prepare", "--config", project.config).code == 0


# 9. publish records what landed, even after a run killed once the push was done ----------------

def test_a_rerun_records_a_publication_the_killed_run_did_not(tmp_path: Path, cli: Cli) -> None:
    from tests.publish.conftest import make_publishable

    target = make_publishable(tmp_path)
    assert cli("publish", "--to", "git", "--config", target.config).code == 0
    report = target.staged.report_path
    data = json.loads(report.read_text())
    del data["publications"]  # as if killed after the push, before the record was written
    report.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    again = cli("publish", "--to", "git", "--config", target.config)
    assert again.code == 0 and "already published" in again.err
    assert [r["status"] for r in json.loads(report.read_text())["publications"]] == [
        "unchanged"]
    assert cli("check", "--config", target.config).code == 0
