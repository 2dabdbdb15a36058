"""Tests for release.baseline: file validation, atomic save, and `release accept` end to end."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from release.baseline import Acceptance, Baseline, load_baseline, save_baseline
from release.errors import ConfigError
from tests.conftest import CliResult, Project


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "release.baseline.json"
    entry = Acceptance("f" * 32, "reviewed", "dana", dt.date(2027, 3, 1), "RL105", "x.csv")
    save_baseline(Baseline(path, (entry,)))
    assert load_baseline(path).acceptances == (entry,)
    assert [p.name for p in tmp_path.iterdir()] == ["release.baseline.json"]


def test_missing_file_is_an_empty_baseline(tmp_path: Path) -> None:
    assert load_baseline(tmp_path / "none.json").acceptances == ()


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ({"accepted": [{"fingerprint": "a", "accepted_by": "d", "expires": "2027-01-01"}]},
         "accepted[0].reason"),
        ({"accepted": [{"fingerprint": "a", "reason": "r", "accepted_by": "d",
                        "expires": "soon"}]}, "accepted[0].expires"),
        ({"accepted": [{"fingerprint": "a", "reason": "r", "accepted_by": "d",
                        "expires": "2027-01-01", "note": "x"}]}, "accepted[0].note"),
        ({"accepted": {}}, "accepted"),
    ],
)
def test_malformed_baseline_names_the_key(tmp_path: Path, body: object, key: str) -> None:
    path = tmp_path / "b.json"
    path.write_text(json.dumps(body))
    with pytest.raises(ConfigError) as info:
        load_baseline(path)
    assert info.value.key == key and str(path) in str(info.value)


def test_accept_then_expire_through_the_cli(project: Project, cli: Callable[..., CliResult],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(project.data, project.model / "copy.bin")
    first = cli("scan", "--config", project.config, "--format", "json")
    assert first.code == 1
    fingerprints = [f["fingerprint"] for f in json.loads(first.out)["findings"]]
    accepted = cli("accept", *fingerprints, "--reason", "synthetic sample", "--by", "dana",
                   "--expires", "2099-01-01", "--config", project.config)
    assert accepted.code == 0, accepted.err
    baseline = json.loads((project.root / "release.baseline.json").read_text())
    assert {a["rule_id"] for a in baseline["accepted"]} == {"RL203", "RL105", "RL202"}
    second = cli("scan", "--config", project.config, "--format", "json")
    assert second.code == 0
    assert json.loads(second.out)["summary"]["accepted"] == len(fingerprints)

    class Later(dt.date):
        @classmethod
        def today(cls) -> dt.date:
            return dt.date(2099, 1, 2)

    monkeypatch.setattr("release.pipeline.report.dt.date", Later)
    expired = cli("scan", "--config", project.config, "--format", "json")
    assert expired.code == 1
    assert all("acceptance_expired" in f for f in json.loads(expired.out)["findings"])


def test_accept_refuses_unknown_fingerprints_and_past_dates(
        project: Project, cli: Callable[..., CliResult]) -> None:
    unknown = cli("accept", "0" * 32, "--reason", "r", "--by", "d", "--expires", "2099-01-01",
                  "--config", project.config)
    assert unknown.code == 2 and "no current finding" in unknown.err
    past = cli("accept", "0" * 32, "--reason", "r", "--by", "d", "--expires", "2000-01-01",
               "--config", project.config)
    assert past.code == 2 and "in the past" in past.err


def test_code_execution_cannot_be_accepted(project: Project, cli: Callable[..., CliResult],
                                           tmp_path: Path) -> None:
    import pickle

    from tests.executable_corpus import _System

    canary = tmp_path / "canary"
    (project.model / "extra.dat").write_bytes(pickle.dumps(_System(canary), protocol=0))
    first = cli("scan", "--config", project.config, "--format", "json")
    assert first.code == 1
    found = json.loads(first.out)["findings"]
    code = [f for f in found if f["rule_id"] == "RL114"]
    assert [f["path"] for f in code] == ["extra.dat"]
    assert "touch" not in first.out and str(canary) not in first.out
    refused = cli("accept", code[0]["fingerprint"], "--reason", "r", "--by", "d",
                  "--expires", "2099-01-01", "--config", project.config)
    assert refused.code == 2 and "cannot be accepted" in refused.err
    # a baseline written by hand does not accept it either
    (project.root / "release.baseline.json").write_text(json.dumps({"version": 1, "accepted": [
        {"fingerprint": code[0]["fingerprint"], "reason": "r", "accepted_by": "d",
         "expires": "2099-01-01"}]}))
    again = cli("scan", "--config", project.config, "--format", "json")
    assert again.code == 1 and json.loads(again.out)["summary"]["accepted"] == 0
    assert not canary.exists()
