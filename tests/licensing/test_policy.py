"""Each DUA-OAI licence policy fails with its rule id and clause; a compliant config passes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from release.config import parse_config
from release.licensing.catalog import load_catalog
from release.licensing.policy import plan_licenses

COMPLIANT = """\
[release]
name = "org/model"
version = "1.0"
[model]
path = "model"
license = "Apache-2.0"
base_model = { name = "base", license = "MIT", source = "https://example.invalid/base" }
[code]
license = "MIT OR Apache-2.0"
[agreement]
data_provider = "Provider"
effective_date = 2026-01-01
release_url = "https://huggingface.co/org/model"
[publish.hub]
repo_id = "org/model"
"""
TODAY = dt.date(2026, 6, 1)


def findings(text: str, today: dt.date = TODAY) -> list[tuple[str, str]]:
    config = parse_config(Path("/p/release.toml"), text)
    plan = plan_licenses(config, load_catalog(), today=today)
    return [(f.rule.id, f.message) for f in plan.findings]


def test_compliant_config_passes() -> None:
    assert findings(COMPLIANT) == []


@pytest.mark.parametrize(("change", "rule", "clause"), [
    (('license = "Apache-2.0"', 'license = "LicenseRef-scancode-bigscience-open-rail-m"'),
     "RL402", "§4(c)"),
    (('license = "MIT OR Apache-2.0"', 'license = "MIT OR CC-BY-NC-4.0"'), "RL401", "§3(c)"),
    (('license = "Apache-2.0"', 'license = "Apache-2.0 AND CC-BY-4.0"'), "RL401", "§3(c)"),
    (('license = "Apache-2.0"', 'license = "Made-Up-License-1.0"'), "RL403", "license_texts"),
    (('license = "Apache-2.0"', 'license = "MIT OR"'), "RL403", "not a valid SPDX"),
    (('data_provider = "Provider"\n', ""), "RL404", "§3(c)"),
    (('effective_date = 2026-01-01', 'effective_date = 2024-01-01'), "RL405", "§3(b)"),
    (('license = "MIT", source', 'license = "LicenseRef-scancode-bigscience-rail-1.0", source'),
     "RL406", "§5(c)"),
    (('base_model = { name = "base", license = "MIT", ', 'base_model = { name = "base", '),
     "RL406", "§5(c)"),
    (('repo_id = "org/model"', 'repo_id = "org/other"'), "RL407", "publish target"),
])
def test_each_policy(change: tuple[str, str], rule: str, clause: str) -> None:
    old, new = change
    assert old in COMPLIANT
    found = findings(COMPLIANT.replace(old, new))
    assert rule in [r for r, _ in found], found
    assert any(clause in message for r, message in found if r == rule)


def test_base_model_under_terms_release_does_not_know(tmp_path: Path) -> None:
    (tmp_path / "LicenseRef-Vendor-EULA.txt").write_text("no redistribution")
    text = COMPLIANT.replace('license = "MIT", source',
                             'license = "LicenseRef-Vendor-EULA", source')
    config = parse_config(Path("/p/release.toml"), text)
    plan = plan_licenses(config, load_catalog(tmp_path), today=TODAY)
    assert [f.rule.id for f in plan.findings] == ["RL406"]
    assert "redistribute" in plan.findings[0].message


def test_model_licence_is_required() -> None:
    found = findings(COMPLIANT.replace('license = "Apache-2.0"\n', "", 1))
    assert ("RL403", found[0][1]) in found and "model.license is not set" in found[0][1]


def test_survival_window_and_data_deletion_deadline() -> None:
    text = COMPLIANT.replace("effective_date = 2026-01-01\n",
                             "effective_date = 2025-01-01\nterm_end = 2026-05-01\n"
                             "survival_days = 45\ndeletion_days = 60\n")
    config = parse_config(Path("/p/release.toml"), text)
    inside = plan_licenses(config, load_catalog(), today=dt.date(2026, 6, 1))
    assert inside.findings == []
    assert inside.dates is not None and inside.dates.to_dict() == {
        "release_date": "2026-06-01", "term_end": "2026-05-01",
        "survival_window_end": "2026-06-15", "in_survival_window": True,
        "data_deletion_deadline": "2026-06-30", "days_until_data_deletion": 29,
        "agreement": "DUA-OAI", "version": None, "effective_date": "2025-01-01"}
    after = findings(text, today=dt.date(2026, 6, 16))
    assert [rule for rule, _ in after] == ["RL405"]
    assert "survival window ended on 2026-06-15" in after[0][1]
    assert "deleted by 2026-06-30" in after[0][1]
    no_window = findings(COMPLIANT.replace("effective_date = 2026-01-01",
                                           "effective_date = 2025-01-01"))
    assert [rule for rule, _ in no_window] == ["RL405"]


def test_negative_windows_are_config_errors() -> None:
    from release.errors import ConfigError

    with pytest.raises(ConfigError, match=r"agreement\.survival_days"):
        parse_config(Path("/p/release.toml"),
                     COMPLIANT.replace("[agreement]\n", "[agreement]\nsurvival_days = -1\n"))


def test_peft_adapter_must_name_its_base_model(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "adapter_config.json").write_text(
        '{"peft_type": "LORA", "base_model_name_or_path": "openai-community/gpt2"}')
    without_base = COMPLIANT.replace(
        'base_model = { name = "base", license = "MIT", source = "https://example.invalid/base" }'
        '\n', "")
    config = parse_config(tmp_path / "release.toml", without_base)
    plan = plan_licenses(config, load_catalog(), today=TODAY)
    assert [f.rule.id for f in plan.findings] == ["RL406"]
    assert "PEFT adapter" in plan.findings[0].message
    assert "'openai-community/gpt2'" in plan.findings[0].message
    named = plan_licenses(parse_config(tmp_path / "release.toml", COMPLIANT), load_catalog(),
                          today=TODAY)
    assert named.findings == []


@pytest.mark.parametrize(("written", "meant"), [
    ("Apache 2.0", "Apache-2.0"), ("BSD 3-Clause", "BSD-3-Clause"), ("MIT License", "MIT")])
def test_a_loosely_written_licence_gets_its_spdx_id_suggested(written: str, meant: str) -> None:
    found = findings(COMPLIANT.replace('license = "Apache-2.0"', f'license = "{written}"', 1))
    assert [r for r, _ in found] == ["RL403"]
    assert f"did you mean {meant!r}" in found[0][1] and ".txt" not in found[0][1]
