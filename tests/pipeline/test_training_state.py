"""Tests for release.pipeline.training_state and how the inventory leaves training state out."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from release.config import load_config
from release.errors import ConfigError
from release.pipeline.inventory import build_inventory
from release.pipeline.training_state import STATE_FILES, STATE_FOLDERS, names_state, state_pattern
from tests.conftest import CliResult, Project

TRAINER_OUTPUT = [
    "optimizer.pt", "scheduler.pt", "rng_state.pth", "training_args.bin", "trainer_state.json",
    "checkpoint-500/model.safetensors", "checkpoint-500/optimizer.pt",
    "checkpoint-1000/config.json", "runs/Dec01_10-00-00_host/events.out.tfevents.1.host.0.0",
]


def _write(root: Path, paths: list[str]) -> None:
    for path in paths:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"\x80\x02}q\x00." if target.suffix in (".pt", ".pth", ".bin")
                           else b"{}")


@pytest.mark.parametrize(("path", "pattern"), [
    ("optimizer.pt", "optimizer.pt"),
    ("rng_state_3.pth", "rng_state_*.pth"),
    ("checkpoint-500/model.safetensors", "checkpoint-*/"),
    ("sub/lightning_logs/version_0/checkpoints/epoch=1.ckpt", "lightning_logs/"),
    ("random_states_0.pkl", "random_states_*.pkl"),
    ("model.safetensors", None),
    ("tokenizer.json", None),
    ("checkpoint.json", None),  # a file, not a checkpoint-N folder
    ("adapter_model.safetensors", None),
])
def test_state_pattern(path: str, pattern: str | None) -> None:
    assert state_pattern(path) == pattern


def test_names_state_needs_the_name_not_a_wildcard() -> None:
    assert names_state("optimizer.pt", "optimizer.pt")
    assert names_state("checkpoint-500/**", "checkpoint-*/")
    assert names_state("/checkpoint-*/config.json", "checkpoint-*/")
    assert not names_state("*.json", "trainer_state.json")
    assert not names_state("**", "checkpoint-*/")
    assert not names_state("*.safetensors", "checkpoint-*/")


def test_patterns_cover_what_transformers_writes() -> None:
    trainer = pytest.importorskip("transformers.trainer")
    utils = pytest.importorskip("transformers.trainer_utils")
    for name in (trainer.TRAINING_ARGS_NAME, trainer.TRAINER_STATE_NAME, trainer.OPTIMIZER_NAME,
                 trainer.OPTIMIZER_NAME_BIN, trainer.SCHEDULER_NAME, trainer.SCALER_NAME):
        assert name in STATE_FILES
    assert f"{utils.PREFIX_CHECKPOINT_DIR}-*" in STATE_FOLDERS
    assert f"{trainer.FSDP_MODEL_NAME}*" in STATE_FOLDERS


def test_inventory_leaves_training_state_out(project: Project) -> None:
    _write(project.model, TRAINER_OUTPUT)
    inventory = build_inventory(load_config(project.config))
    shipped = {i.path for i in inventory.items if i.origin == "model"}
    assert shipped == {"model.safetensors", "config.json", "tokenizer.json"}
    assert sorted(x.path for x in inventory.left_out) == sorted(TRAINER_OUTPUT)
    assert {x.reason for x in inventory.left_out} == {"training-state"}
    assert not inventory.findings  # nothing pickled reaches the scan


def _with_model_keys(project: Project, keys: str) -> None:
    text = project.config.read_text()
    project.config.write_text(text.replace('[model]\n', f'[model]\n{keys}\n', 1))


def test_include_naming_state_ships_it_and_wildcards_do_not(project: Project) -> None:
    _write(project.model, TRAINER_OUTPUT)
    _with_model_keys(project, 'include = ["*.safetensors", "*.json", "trainer_state.json"]')
    inventory = build_inventory(load_config(project.config))
    shipped = {i.path for i in inventory.items if i.origin == "model"}
    assert shipped == {"model.safetensors", "config.json", "tokenizer.json", "trainer_state.json"}
    reasons = {x.path: x.reason for x in inventory.left_out}
    assert reasons["checkpoint-500/model.safetensors"] == "training-state"
    assert reasons["optimizer.pt"] == "config"  # not in include at all


def test_exclude_wins_and_nothing_left_is_an_error(project: Project) -> None:
    _write(project.model, TRAINER_OUTPUT)
    _with_model_keys(project, 'exclude = ["tokenizer.json"]')
    inventory = build_inventory(load_config(project.config))
    assert "tokenizer.json" not in {i.path for i in inventory.items}
    assert {x.path: x.reason for x in inventory.left_out}["tokenizer.json"] == "config"
    _with_model_keys(project, 'exclude = ["*.safetensors", "*.json"]')
    project.config.write_text(project.config.read_text().replace(
        'exclude = ["tokenizer.json"]\n', ""))
    with pytest.raises(ConfigError, match=r"model\.path.*left out"):
        build_inventory(load_config(project.config))


def test_cli_summarises_and_lists_with_verbose(project: Project,
                                               cli: Callable[..., CliResult]) -> None:
    _write(project.model, TRAINER_OUTPUT)
    result = cli("scan", "--config", project.config)
    assert result.code == 0, result.out
    summary = [line for line in result.out.splitlines() if "training-state" in line]
    assert summary == ["9 training-state files left out (checkpoint-1000/, checkpoint-500/, "
                       "runs/, optimizer.pt, +4 more); list them with -v; ship one by naming it "
                       "in [model].include"], result.out
    verbose = cli("scan", "--config", project.config, "-v")
    listed = [line for line in verbose.err.splitlines() if line.startswith("left out")]
    assert len(listed) == len(TRAINER_OUTPUT)
    report = json.loads(cli("scan", "--config", project.config, "--format", "json").out)
    assert sorted(report["left_out"]["training_state"]) == sorted(TRAINER_OUTPUT)
