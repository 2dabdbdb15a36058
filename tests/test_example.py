"""The bundled example passes clean; planted data, a pickle and a link fail at their paths."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

from tests.conftest import EXAMPLE, CliResult

PLANTED = {
    ("RL105", "training/data/train.csv"),
    ("RL203", "calibration.bin"),
    ("RL104", "pytorch_model.bin"),
    ("RL101", "training/etc"),
}


def test_clean_example_passes(example_copy: Path, cli: Callable[..., CliResult]) -> None:
    result = cli("scan", "--config", example_copy / "release.toml", "--format", "json")
    assert result.code == 0, result.out
    report = json.loads(result.out)
    assert report["summary"]["failed"] == 0
    assert {f["path"] for f in report["files"]} >= {"model.safetensors", "config.json",
                                                    "tokenizer.json", "training/train.py"}


def test_planted_problems_are_each_reported_at_their_path(
        example_copy: Path, cli: Callable[..., CliResult]) -> None:
    model = example_copy / "outputs" / "final"
    (example_copy / "training" / "data").mkdir()
    (example_copy / "training" / "data" / "train.csv").write_text(
        "id,note\n1,first fake note\n2,second fake note\n3,third fake note\n")
    shutil.copy(example_copy / "data" / "notes.jsonl", model / "calibration.bin")
    (model / "pytorch_model.bin").write_bytes(pickle.dumps({"weights": [0.0] * 8}, protocol=4))
    os.symlink("/etc", example_copy / "training" / "etc")
    result = cli("scan", "--config", example_copy / "release.toml", "--format", "json")
    assert result.code == 1
    found = {(f["rule_id"], f["path"]) for f in json.loads(result.out)["findings"]}
    assert found >= PLANTED
    assert {path for _, path in found} == {path for _, path in PLANTED}


def test_example_in_the_repository_scans_clean(cli: Callable[..., CliResult]) -> None:
    """The example as committed (its code is git-tracked in this repository)."""
    if not (EXAMPLE.parents[1] / ".git").exists():
        return
    result = cli("scan", "--config", EXAMPLE / "release.toml", "--format", "json", "-q")
    report = json.loads(result.out)
    codes = [f["rule_id"] for f in report["findings"]]
    assert set(codes) <= {"RL109"}, codes  # local edits to the example are only warnings
    assert result.code == 0


def test_example_model_is_small_and_reproducible(tmp_path: Path) -> None:
    import subprocess
    import sys

    sizes = sum(p.stat().st_size for p in (EXAMPLE / "outputs" / "final").iterdir())
    assert sizes < 3 * 1024 * 1024
    out = tmp_path / "final"
    subprocess.run([sys.executable, EXAMPLE / "training" / "train.py", "--data",
                    EXAMPLE / "data" / "notes.jsonl", "--out", out], check=True,
                   capture_output=True)
    for name in ("config.json", "tokenizer.json"):
        assert (out / name).read_bytes() == (EXAMPLE / "outputs" / "final" / name).read_bytes()
    # float results differ in the last bits from one CPU to another: same tensors, same
    # shapes and dtypes, values within a tolerance
    retrained = load_file(str(out / "model.safetensors"))
    shipped = load_file(str(EXAMPLE / "outputs" / "final" / "model.safetensors"))
    assert sorted(retrained) == sorted(shipped)
    for name, tensor in shipped.items():
        assert retrained[name].shape == tensor.shape and retrained[name].dtype == tensor.dtype
        np.testing.assert_allclose(retrained[name], tensor, rtol=1e-4, atol=1e-6)
