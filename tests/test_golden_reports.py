"""Golden reports: every renderer's output for the example and for a leaking project, byte for
byte once the values that change from run to run are masked.

Regenerate the golden files with UPDATE_GOLDEN=1 (and say why in the commit)."""

from __future__ import annotations

import gzip
import json
import os
import pickle
import re
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import RECORDS, CliResult, git, make_project

GOLDEN = Path(__file__).parent / "golden"
FORMATS = ("text", "json", "sarif", "markdown")
SUFFIXES = {"text": "txt", "json": "json", "sarif": "sarif", "markdown": "md"}
FIXED_DATE = "2026-06-01T12:00:00+00:00"
LEAKING_CONFIG_EXTRA = """\
effective_date = 2026-01-01
term_end = 2099-12-31
release_url = "https://huggingface.co/test-org/tiny-model"

[publish.hub]
repo_id = "test-org/tiny-model"

[model.base_model]
name = "some-org/base"
license = "CC-BY-NC-4.0"
"""

LONG_NOTES = [
    "the patient arrived on a quiet morning and described a persistent ache in the left "
    "shoulder that had lasted for several weeks without improvement",
    "follow up visit after the second course of treatment showed steady progress and the "
    "plan is to continue the same exercises for another month",
]

pytestmark = pytest.mark.slow


def _deterministic_commit(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A git repository whose one commit has the same id on every run."""
    for name in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"):
        monkeypatch.setenv(name, FIXED_DATE)
    if not (root / ".git").exists():
        git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "golden", "--allow-empty")


def _example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from tests.conftest import EXAMPLE

    target = tmp_path / "clinic-notes"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("dist", ".release",
                                                                   "__pycache__"))
    (target / ".gitignore").write_text("dist/\n.release/\n")
    _deterministic_commit(target, monkeypatch)
    return target / "release.toml"


def _leaking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with one of each kind of problem the file and leak checks report."""
    from tests.conftest import CONFIG

    project = make_project(tmp_path / "leaking", use_git=False,
                           config=CONFIG + LEAKING_CONFIG_EXTRA)
    code, model = project.code, project.model
    with project.data.open("a") as data:  # records long enough to be found as training text
        for number, note in enumerate(LONG_NOTES):
            data.write(json.dumps({"id": f"long{number}", "name": f"Longperson Number{number}",
                                   "email": f"long{number}@example.invalid", "note": note})
                       + "\n")
    notebook = {"cells": [{"cell_type": "code", "source": ["print(rows)"], "outputs": [
        {"output_type": "stream", "name": "stdout",
         "text": [LONG_NOTES[0] + "\n", "contact " + RECORDS[4]["email"] + "\n"]}]}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (code / "explore.ipynb").write_text(json.dumps(notebook))
    (code / "notes.txt").write_text("header\n" + "\n".join(r["note"] for r in RECORDS[:5])
                                    + "\nseen by " + RECORDS[7]["name"] + "\n")
    shutil.copy(project.data, code / "train_copy.jsonl")
    with zipfile.ZipFile(code / "bundle.zip", "w") as archive:
        archive.writestr(zipfile.ZipInfo("docs/sample.md"), LONG_NOTES[1] + "\n")
        archive.writestr(zipfile.ZipInfo("rows.csv"), "a,b\n1,2\n3,4\n5,6\n")
    (code / "broken.gz").write_bytes(gzip.compress(b"some words " * 100, mtime=0)[:-12])
    (code / "blob.dat").write_bytes(bytes(range(256)) * 4)
    (model / "pytorch_model.bin").write_bytes(pickle.dumps({"w": [0.0] * 4}, protocol=4))
    os.symlink("/etc", code / "etc")
    _deterministic_commit(code, monkeypatch)
    return project.config


PROJECTS: dict[str, Callable[[Path, pytest.MonkeyPatch], Path]] = {
    "example": _example, "leaking": _leaking}


def _mask(text: str, volatile: dict[str, str]) -> str:
    """The output with what differs between runs replaced by placeholders: times, the release
    date (today), the tool version, day counts, and the digests that cover them (named in
    `volatile`)."""
    from release import __version__

    for value, name in volatile.items():
        text = text.replace(value, f"<{name}>")
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\+00:00|Z)?", "<time>", text)
    text = re.sub(r'("days_until_data_deletion": )\d+', r"\1<days>", text)
    text = re.sub(r'("release_date": )"\d{4}-\d\d-\d\d"', r'\1"<date>"', text)
    text = re.sub(r"\(\d+ days\)", "(<days> days)", text)
    return text.replace(__version__, "<version>")


def _volatile(config: Path) -> dict[str, str]:
    """Digests that change with every run because what they cover holds a timestamp."""
    found: dict[str, str] = {}
    dist = config.parent / "dist"
    report = next(dist.glob("*.report.json"), dist / "none.report.json")
    for manifest in dist.glob("*/release-manifest.json"):
        import hashlib

        raw = manifest.read_bytes()
        found[hashlib.sha256(raw).hexdigest()] = "manifest-sha256"
        found[json.loads(raw)["report_sha256"]] = "report-sha256"
    if report.is_file():
        import hashlib

        found.setdefault(hashlib.sha256(report.read_bytes()).hexdigest(), "report-sha256")
    return found


def _outputs(config: Path, cli: Callable[..., CliResult]) -> dict[str, str]:
    """Every report the commands print for this project, by golden file name."""
    outputs: dict[str, str] = {}
    for command in ("scan", "prepare"):
        for fmt in FORMATS:
            result = cli(command, "--config", config, "--format", fmt)
            assert result.code in (0, 1), result.err
            outputs[f"{command}.{SUFFIXES[fmt]}"] = f"exit {result.code}\n{result.out}"
        written = list((config.parent / "dist").glob("*.report.json"))
        if command == "prepare" and written:
            outputs["release-report.json"] = written[0].read_text()
    if not list((config.parent / "dist").glob("*/release-manifest.json")):
        return outputs  # nothing was staged: nothing to check or publish
    for fmt in FORMATS:
        result = cli("check", "--config", config, "--format", fmt)
        outputs[f"check.{SUFFIXES[fmt]}"] = f"exit {result.code}\n{result.out}"
    result = cli("publish", "--to", "hub", "--dry-run", "--config", config, "--format",
                 "json", "-q")
    outputs["publish-dry-run.json"] = f"exit {result.code}\n{result.out}"
    return outputs


def _accept_one(config: Path, cli: Callable[..., CliResult]) -> None:
    """Accept the first warning (or, without one, the first finding) so accepted findings
    are rendered too."""
    scanned = json.loads(cli("scan", "--config", config, "--format", "json", "-q").out)
    findings = scanned["findings"]
    chosen = next((f for f in findings if f["severity"] == "warning"), None)
    chosen = chosen or (findings[0] if findings else None)
    if chosen is None:
        return
    result = cli("accept", chosen["fingerprint"], "--config", config, "--reason",
                 "golden test", "--by", "tester", "--expires", "2099-01-01", "-q")
    assert result.code == 0, result.err


@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_reports_match_the_golden_files(name: str, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch,
                                        cli: Callable[..., CliResult]) -> None:
    pytest.importorskip("transformers")  # the not-audited reason names transformers
    config = PROJECTS[name](tmp_path, monkeypatch)
    if name == "leaking":
        _accept_one(config, cli)
    outputs = _outputs(config, cli)
    volatile = _volatile(config)
    folder = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for file_name, text in outputs.items():
            (folder / file_name).write_text(_mask(text, volatile))
    expected = {p.name: p.read_text() for p in folder.iterdir()}
    assert sorted(outputs) == sorted(expected)
    for file_name, text in outputs.items():
        assert _mask(text, volatile) == expected[file_name], file_name
