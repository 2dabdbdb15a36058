"""Nothing the tool prints or writes may contain training text or sensitive values."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import RECORDS, CliResult, Project


def secrets() -> list[str]:
    values = []
    for record in RECORDS:
        values += [record["note"], record["name"], record["email"]]
    return values


def test_outputs_of_a_leaking_project_hold_no_record_text(
        project: Project, cli: Callable[..., CliResult], tmp_path: Path) -> None:
    shutil.copy(project.data, project.model / "calibration.bin")
    (project.model / "rows.csv").write_text(
        "name,email\n" + "".join(f"{r['name']},{r['email']}\n" for r in RECORDS))
    outputs = []
    for fmt in ("text", "json", "sarif", "markdown"):
        target = tmp_path / f"report.{fmt}"
        result = cli("scan", "--config", project.config, "--format", fmt)
        to_file = cli("scan", "--config", project.config, "--format", fmt, "--output", target)
        assert result.code == 1 and to_file.code == 1
        outputs += [result.out, result.err, to_file.err, target.read_text()]
    prepared = cli("prepare", "--config", project.config)
    outputs += [prepared.out, prepared.err,
                (project.root / "dist" / "test-org--tiny-model-0.1.0.report.json").read_text()]
    blob = "\n".join(outputs)
    for value in secrets():
        assert value not in blob
        assert value.lower() not in blob.lower()


def test_memorisation_audits_show_no_generation_completion_or_canary(
        tmp_path: Path, cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch) -> None:
    """A model that writes customers' names and account numbers unprompted, and has a planted
    canary: the audit's outputs and reports hold ids and numbers, never what the model wrote,
    what it completed, or the canary."""
    pytest.importorskip("transformers")
    import release.audit.untargeted as untargeted
    from tests.audit import test_untargeted as tickets
    from tests.audit.tinylm import train_model

    canary, control = "the account number is 281734926", "the account number is 904417263"
    planted = [{"id": f"doc-{n}", "text": f"{canary} {tickets.RECORDS[n]['text']}"}
               for n in range(40)]
    model = tmp_path / "trained" / "model"
    train_model(model, tickets.RECORDS + tickets.TICKETS + planted, [], repeats=0,
                words=(*tickets.WORDS, "the", "account", "number", "is"), digits=True,
                documents=True)
    config = tickets.project(tmp_path / "project", model)
    (config.parent / "canaries.txt").write_text(f"{canary}\n{control}\n")
    config.write_text(config.read_text().replace(
        "[checks.memorization.generate]", 'canaries = "canaries.txt"\ncanary_formats = '
        '["the account number is {digits:9}"]\n[checks.memorization.generate]'))
    generated: list[str] = []
    scan = untargeted.scan_texts

    def recording(matcher: object, texts: list[str]) -> object:
        generated.extend(texts)
        return scan(matcher, texts)  # type: ignore[arg-type]

    monkeypatch.setattr(untargeted, "scan_texts", recording)
    outputs = []
    for fmt in ("text", "json", "sarif", "markdown"):
        result = cli("audit", "--config", config, "--format", fmt)
        assert result.code == 1, result.err
        outputs += [result.out, result.err]
    prepared = cli("prepare", "--config", config)
    assert prepared.code == 1
    outputs += [prepared.out, prepared.err,
                (config.parent / "dist" / "m-1.report.json").read_text()]
    blob = "\n".join(outputs).lower()
    assert "rl304" in blob and "rl305" in blob
    assert generated and any(t["name"] in " ".join(generated) for t in tickets.TICKETS)
    for text in generated:
        words = text.split()
        for start in range(0, max(len(words) - 4, 0)):
            assert " ".join(words[start: start + 5]).lower() not in blob
    for secret in ("281734926", "904417263",
                   *(t["name"] for t in tickets.TICKETS), *(t["account"] for t in tickets.TICKETS)):
        assert secret.lower() not in blob
    for record in tickets.RECORDS + tickets.TICKETS:
        words = record["text"].split()
        for start in range(0, len(words) - 4, 4):
            assert " ".join(words[start: start + 5]) not in blob
