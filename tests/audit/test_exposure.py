"""Canary exposure on a tiny GPT-2 trained here: a canary planted many times ranks far above
random strings of its format and fails the gate; one of the same format never planted does not."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from release.audit.run import run_audit
from release.config import load_config
from tests.audit.tinylm import VOCAB, make_records, train_model, write_project
from tests.conftest import CliResult

pytest.importorskip("transformers")
pytestmark = pytest.mark.slow

RECORDS = make_records(160, seed=1)
FORMAT = "the account number is {digits:9}"
PLANTED = "the account number is 281734926"
UNPLANTED = "the account number is 904417263"
SHORT_FORMAT = "pin {digits:3}"  # 1,000 strings: ranked exactly
SHORT_PLANTED = "pin 417"
SHORT_UNPLANTED = "pin 802"


@pytest.fixture(scope="module")
def canary_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = random.Random(5)
    planted = [{"id": f"doc-{n}", "text": f"{canary} " + " ".join(
        rng.choice(VOCAB) for _ in range(60))}
        for n, canary in enumerate([PLANTED] * 40 + [SHORT_PLANTED] * 40)]
    folder = tmp_path_factory.mktemp("canary") / "model"
    train_model(folder, RECORDS + planted, [], repeats=0, digits=True, documents=True,
                words=("the", "account", "number", "is", "pin"))
    return folder


def project(root: Path, model: Path, extra: str = "") -> Path:
    (root / "canaries.txt").parent.mkdir(parents=True, exist_ok=True)
    (root / "canaries.txt").write_text(
        "\n".join([PLANTED, UNPLANTED, SHORT_PLANTED, SHORT_UNPLANTED, "not of any format"])
        + "\n")
    config = write_project(root, RECORDS, extra=(
        'canaries = "canaries.txt"\n'
        f'canary_formats = ["{FORMAT}", "{SHORT_FORMAT}"]\n'
        "[checks.memorization.generate]\nsamples = 0\n" + extra))
    shutil.copytree(model, root / "model")
    return config


def test_a_planted_canary_is_exposed_and_an_unplanted_one_is_not(
        tmp_path: Path, canary_model: Path) -> None:
    result = run_audit(load_config(project(tmp_path, canary_model)))
    exposures = {e.canary: e for e in result.summary.exposures}
    # canaries by line: 1 planted, 2 unplanted, 3 planted (short), 4 unplanted (short); line 5
    # matches no format and has no exposure
    assert set(exposures) == {"canary:1", "canary:2", "canary:3", "canary:4"}
    long_planted, long_control = exposures["canary:1"], exposures["canary:2"]
    assert long_planted.method == "extrapolated" and long_planted.below == 0
    assert long_planted.exposure > 20 and long_planted.space_bits > 29.8
    assert long_control.exposure < 5 and long_control.method == "sampled"
    assert long_planted.candidates == 2000
    short_planted, short_control = exposures["canary:3"], exposures["canary:4"]
    assert short_planted.method == short_control.method == "exact"
    assert short_planted.candidates == 999  # the space but the canary
    assert short_planted.exposure > 8 and short_control.exposure < 5
    failed = {f.evidence["canary"] for f in result.findings if f.rule.id == "RL305"}
    assert failed == {"canary:1"}  # the default limit is 10 bits; the short space has 9.97


def test_exposure_through_the_cli_shows_ids_never_canaries(
        tmp_path: Path, canary_model: Path, cli: Callable[..., CliResult]) -> None:
    config = project(tmp_path, canary_model, )
    for fmt in ("json", "text", "markdown", "sarif"):
        result = cli("audit", "--config", config, "--format", fmt)
        assert result.code == 1, result.err
        output = result.out + result.err
        assert "RL305" in output
        for secret in ("281734926", "904417263", "417", "802"):
            assert secret not in output.replace('"line": ', "")
    report = json.loads(cli("audit", "--config", config, "--format", "json").out)
    exposures = report["memorization"]["exposures"]
    assert [e["canary"] for e in exposures] == ["canary:1", "canary:2", "canary:3",
                                                "canary:4"]
    assert report["memorization"]["max_exposure"] == 10.0


def test_a_format_no_canary_matches_is_an_error(tmp_path: Path, canary_model: Path,
                                                 cli: Callable[..., CliResult]) -> None:
    config = project(tmp_path, canary_model)
    config.write_text(config.read_text().replace(SHORT_FORMAT, "code {hex:6}"))
    result = cli("audit", "--config", config)
    assert result.code == 2
    assert "canary_formats entry 2 matches no line" in result.err
    no_file = tmp_path / "nofile"
    config = project(no_file, canary_model)
    config.write_text(config.read_text().replace('canaries = "canaries.txt"\n', ""))
    result = cli("audit", "--config", config)
    assert result.code == 2 and "canary_formats is set but canaries is not" in result.err
