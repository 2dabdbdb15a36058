"""Each table and key of a config file is found at its line, so findings and errors name it."""

from __future__ import annotations

from pathlib import Path

import pytest

from release import rules
from release.config import parse_config
from release.config.lines import key_line, key_lines
from release.errors import ConfigError
from release.findings import Finding
from release.pipeline.scan import placed_in_config

SHARED_EXAMPLE = Path(__file__).resolve().parents[3] / "shared" / "release.example.toml"

DOCUMENT = '''\
# a comment = not a key
[release]
name = "m"
version = "1"  # trailing comment
description = """
[model]
path = "not a key"
"""
[model]
path = "model"
license = 'Apache-2.0'
"base_model" = { name = "gpt2", license = "MIT" }
[code]
include = [
  "src/**",  # [agreement]
  "path = x",
]
exclude = ["[x]"]
[[data.sources]]
path = "a.jsonl"
[[ data.sources ]]
path = "b.jsonl"
[agreement]
"term.end" = 2027-01-01
privacy.pseudonymization = true
literal = \'\'\'
effective_date = 2026-01-01
\'\'\'
effective_date = 2026-01-01
'''


def test_tables_keys_and_array_items_are_found_at_their_lines() -> None:
    lines = key_lines(DOCUMENT)
    assert lines["release"] == 2
    assert lines["release.version"] == 4
    assert lines["model"] == 9  # not the "[model]" inside the multi-line string
    assert lines["model.path"] == 10
    assert lines["model.license"] == 11
    assert lines["model.base_model"] == 12
    assert lines["code.include"] == 14
    assert lines["code.exclude"] == 18  # not a key inside the multi-line array
    assert lines["data.sources"] == 19
    assert lines["data.sources[0].path"] == 20
    assert lines["data.sources[1]"] == 21
    assert lines["data.sources[1].path"] == 22
    assert lines["agreement.term.end"] == 24
    assert lines["agreement.privacy.pseudonymization"] == 25
    assert lines["agreement.effective_date"] == 29  # not the one in the literal string
    assert "agreement" in lines and "path = x" not in "".join(lines)


def test_a_key_left_at_its_default_points_at_its_table() -> None:
    lines = key_lines(DOCUMENT)
    assert key_line(lines, "model.base_model.license") == 12
    assert key_line(lines, "agreement.provider_disclaimer") == 23
    assert key_line(lines, "card.template") is None


@pytest.mark.skipif(not SHARED_EXAMPLE.exists(), reason="shared/ is not beside this checkout")
def test_every_key_of_the_reference_config_is_at_the_line_that_sets_it() -> None:
    text = SHARED_EXAMPLE.read_text()
    numbered = text.splitlines()
    lines = key_lines(text)
    for key in ("model.license", "agreement.term_end", "agreement.release_url",
                "checks.memorization.samples", "publish.hub.repo_id", "data.sources[1].path"):
        written = numbered[lines[key] - 1].split("=")[0].strip()
        assert written == key.rsplit(".", 1)[1], key
    assert numbered[lines["data.sources[1]"] - 1].strip() == "[[data.sources]]"


def test_config_errors_name_the_line_of_the_key() -> None:
    text = '[release]\nname = "m"\nversion = "1"\n[model]\npath = "model"\n' \
           '[checks]\nfail_on = "never"\n'
    with pytest.raises(ConfigError) as info:
        parse_config(Path("/project/release.toml"), text)
    assert info.value.key == "checks.fail_on" and info.value.line == 7
    assert str(info.value).startswith("/project/release.toml: line 7: checks.fail_on: ")


def test_findings_about_a_setting_point_at_its_line() -> None:
    text = '[release]\nname = "m"\nversion = "1"\n[model]\npath = "model"\n' \
           'license = "CC-BY-NC-4.0"\n[agreement]\nterm_end = 2020-01-01\n'
    config = parse_config(Path("/project/release.toml"), text)
    findings = [Finding(rules.NOT_OSI_APPROVED, None, "m", config_key="model.license"),
                Finding(rules.OUTSIDE_TERM, None, "t", config_key="agreement.term_end"),
                Finding(rules.MISSING_DISCLAIMER, None, "d", config_key="agreement"),
                Finding(rules.NO_DATA_SOURCES, None, "n", config_key="data"),
                Finding(rules.TRAINING_TEXT, "a.md", "x", line=3, config_key="model.license")]
    assert [f.line for f in placed_in_config(findings, config)] == [6, 8, 7, None, 3]
