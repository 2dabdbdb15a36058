"""Tests for `release init`: what it detects, that its config loads, and that it never clobbers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from release.config import load_config
from release.errors import ConfigError
from tests.conftest import CliResult, git, write_model

MIT = """MIT License

Copyright (c) 2026 Example

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
"""


def test_init_detects_model_git_license_and_data(tmp_path: Path,
                                                 cli: Callable[..., CliResult]) -> None:
    project = tmp_path / "my project"
    write_model(project / "checkpoints" / "final")
    (project / "LICENSE").write_text(MIT)
    (project / "train.py").write_text("print(1)\n")
    (project / "data").mkdir()
    (project / "data" / "train.csv").write_text("id,text\n1,a\n")
    git(project, "init", "-q")
    result = cli("init", project)
    assert result.code == 0, result.err
    assert "model folder checkpoints/final" in result.err and "licence MIT" in result.err
    config = load_config(project / "release.toml")
    assert config.model.path == project / "checkpoints" / "final"
    assert config.code is not None and config.code.license == "MIT"
    assert [s.path for s in config.data.sources] == [project / "data" / "train.csv"]
    assert [s.format for s in config.data.sources] == ["csv"]
    assert config.release.name == "my-project"


def test_init_without_anything_writes_placeholders_that_name_themselves(
        tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    assert cli("init", tmp_path).code == 0
    assert "TODO" in (tmp_path / "release.toml").read_text()
    with pytest.raises(ConfigError, match=r"model\.path: is still the placeholder"):
        load_config(tmp_path / "release.toml")


def test_init_refuses_to_overwrite(tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    (tmp_path / "release.toml").write_text("keep me")
    result = cli("init", tmp_path)
    assert result.code == 2 and "already exists" in result.err
    assert (tmp_path / "release.toml").read_text() == "keep me"
    assert cli("init", tmp_path, "--force").code == 0


def test_init_spdx_header_wins(tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    (tmp_path / "LICENSE").write_text("SPDX-License-Identifier: BSD-3-Clause\n")
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "model.safetensors").write_bytes(b"\0" * 8)
    (tmp_path / "w" / "config.json").write_text(json.dumps({}))
    (tmp_path / "train.jsonl").write_text('{"text": "one"}\n')
    assert cli("init", tmp_path).code == 0
    config = load_config(tmp_path / "release.toml")
    assert config.code is not None and config.code.license == "BSD-3-Clause"


def test_init_on_a_missing_folder(tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    assert cli("init", tmp_path / "nope").code == 2


def _tickets(count: int) -> list[dict[str, object]]:
    return [{"ticket_id": f"T-{i:05d}", "customer_name": f"Casey Example{i}",
             "contact": f"casey{i}@example.invalid", "callback": f"+1 555 010 {i:04d}",
             "priority": i % 3, "product_name": "Widget",
             "subject": f"Printer offline again {i}",
             "body": f"Hello, my printer number {i} stopped printing after the update and the "
                     "help page did not solve it, please advise on the next steps to take"}
            for i in range(count)]


def test_init_reads_every_source_kind_and_proposes_fields(
        tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    """JSON Lines, Parquet, a save_to_disk Dataset and a DatasetDict of splits: the fields
    are proposed from the data, shown with counts and never with a value."""
    datasets = pytest.importorskip("datasets")
    import pyarrow as pa
    import pyarrow.parquet as pq

    project = tmp_path / "proj"
    write_model(project / "out")
    (project / "LICENSE").write_text(MIT)
    rows = _tickets(300)
    data = project / "data"
    data.mkdir(parents=True)
    (data / "tickets.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    pq.write_table(pa.Table.from_pylist(rows), data / "tickets.parquet")
    datasets.Dataset.from_list(rows).save_to_disk(str(data / "tickets_hf"))
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows[:200]),
                          "test": datasets.Dataset.from_list(rows[200:])}
                         ).save_to_disk(str(data / "splits"))
    git(project, "init", "-q")
    result = cli("init", project)
    assert result.code == 0, result.err
    config = load_config(project / "release.toml")
    sources = {s.path.name: s for s in config.data.sources}
    assert set(sources) == {"tickets.jsonl", "tickets.parquet", "tickets_hf", "splits"}
    assert sources["tickets_hf"].format == sources["splits"].format == "hf-dataset"
    for source in sources.values():
        assert source.id_field == "ticket_id"
        assert source.text_fields == ("body", "subject")
        assert set(source.sensitive_fields) == {"customer_name", "contact", "callback"}
    assert "contact: sensitive: 300 of 300 values are emails" in result.err
    assert "callback: sensitive: 300 of 300 values are phone numbers" in result.err
    written = (project / "release.toml").read_text()
    for value in ("Casey", "example.invalid", "555", "printer"):
        assert value not in result.err and value not in written
    assert set(config.placeholders) == {"agreement.data_provider", "agreement.data_user",
                                        "agreement.effective_date"}


def test_init_keeps_the_index_and_output_out_of_git(tmp_path: Path,
                                                    cli: Callable[..., CliResult]) -> None:
    write_model(tmp_path / "out")
    (tmp_path / "train.jsonl").write_text('{"text": "one"}\n')
    (tmp_path / ".gitignore").write_text("*.pyc")
    git(tmp_path, "init", "-q")
    assert cli("init", tmp_path).code == 0
    assert (tmp_path / ".gitignore").read_text().splitlines()[0] == "*.pyc"
    (tmp_path / ".release").mkdir()
    (tmp_path / ".release" / "index.key").write_text("secret")
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "x.report.json").write_text("{}")
    git(tmp_path, "add", "-A")
    tracked = git(tmp_path, "ls-files").split()
    assert not [p for p in tracked if p.startswith((".release/", "dist/"))], tracked
    assert "train.jsonl" not in tracked  # the confidential data found in the project, too
    assert cli("init", tmp_path, "--force").code == 0  # a second init adds nothing twice
    assert (tmp_path / ".gitignore").read_text().count("/.release/") == 1


def test_placeholders_fail_the_gate_until_set(tmp_path: Path,
                                              cli: Callable[..., CliResult]) -> None:
    write_model(tmp_path / "out")
    (tmp_path / "LICENSE").write_text(MIT)
    (tmp_path / "train.jsonl").write_text(
        "".join(json.dumps({"id": f"r{i}", "text": f"a record of several words number {i}"})
                + "\n" for i in range(5)))
    (tmp_path / "train.py").write_text("print('train')\n")
    git(tmp_path, "init", "-q")
    assert cli("init", tmp_path).code == 0
    git(tmp_path, "add", "train.py", "LICENSE", ".gitignore")
    git(tmp_path, "commit", "-qm", "code")
    config_path = tmp_path / "release.toml"
    scanned = cli("scan", "--config", config_path, "--format", "json")
    assert scanned.code == 1
    found = {f["evidence"].get("key") or f["message"].split()[0]
             for f in json.loads(scanned.out)["findings"] if f["rule_id"] == "RL409"}
    assert found == {"agreement.data_provider", "agreement.data_user",
                     "agreement.effective_date"}
    text = config_path.read_text()
    text = text.replace('data_provider = "TODO: the Data Provider"', 'data_provider = "P"')
    text = text.replace('data_user = "TODO: your organisation"', 'data_user = "U"')
    text = "\n".join("effective_date = 2026-01-15" if line.startswith("effective_date") else line
                     for line in text.splitlines()) + "\n"
    config_path.write_text(text)
    rescanned = json.loads(cli("scan", "--config", config_path, "--format", "json").out)
    assert not [f for f in rescanned["findings"] if f["rule_id"] == "RL409"]
