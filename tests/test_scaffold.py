"""Tests for `release init`: what it detects, that its config loads, and that it never clobbers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from release.config import load_config
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


def test_init_without_anything_still_writes_a_loadable_config(
        tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    assert cli("init", tmp_path).code == 0
    config = load_config(tmp_path / "release.toml")
    assert config.model.path == tmp_path / "outputs" / "final"
    assert "TODO" in (tmp_path / "release.toml").read_text()


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
    assert cli("init", tmp_path).code == 0
    config = load_config(tmp_path / "release.toml")
    assert config.code is not None and config.code.license == "BSD-3-Clause"


def test_init_on_a_missing_folder(tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    assert cli("init", tmp_path / "nope").code == 2
