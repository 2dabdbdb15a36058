"""The model card: golden file for the example, no training data in it, metadata conflicts
with the model folder's README.md, user templates and strict rendering.

Regenerate the golden file with UPDATE_GOLDEN=1."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from tests.conftest import EXAMPLE, CliResult

GOLDEN = Path(__file__).parent / "golden" / "clinic-notes-README.md"


def prepare(example: Path, cli: Callable[..., CliResult]) -> tuple[CliResult, dict[str, object]]:
    result = cli("prepare", "--config", example / "release.toml", "--format", "json")
    return result, json.loads(result.out)


def staged_card(example: Path) -> str:
    return (example / "dist" / "example-org--clinic-notes-classifier-1.0.0" /
            "README.md").read_text()


def test_example_card_matches_the_golden_file(example_copy: Path,
                                              cli: Callable[..., CliResult]) -> None:
    pytest.importorskip("transformers")  # the not-audited reason names transformers
    result, _ = prepare(example_copy, cli)
    assert result.code == 0, result.err
    card = staged_card(example_copy)
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(card)
    assert card == GOLDEN.read_text()
    loaded = ModelCard(card)
    assert loaded.data.license == "apache-2.0" and "datasets" not in loaded.data.to_dict()
    assert cli("card", "--config", example_copy / "release.toml", "-q").out == card


def test_card_holds_no_training_data_even_with_empty_descriptions(
        example_copy: Path, cli: Callable[..., CliResult]) -> None:
    config = example_copy / "release.toml"
    text = config.read_text()
    for key in ("data_description", "data_limitations"):
        text = "\n".join(line for line in text.splitlines() if not line.startswith(key))
    config.write_text(text + "\n")
    result, _ = prepare(example_copy, cli)
    assert result.code == 0, result.err
    card = staged_card(example_copy).lower()
    for line in (EXAMPLE / "data" / "notes.jsonl").read_text().splitlines():
        record = json.loads(line)
        for value in (record["patient_name"], record["email"], record["mrn"]):
            assert value.lower() not in card
        assert " ".join(record["note"].split()[:8]).lower() not in card


def test_a_description_quoting_training_text_is_caught(example_copy: Path,
                                                       cli: Callable[..., CliResult]) -> None:
    first = json.loads((EXAMPLE / "data" / "notes.jsonl").read_text().splitlines()[0])
    config = example_copy / "release.toml"
    config.write_text(config.read_text().replace(
        'data_description = "Synthetic outpatient notes generated from templates by make_data.py."',
        f'data_description = "For example: {first["note"]}"'))
    result, report = prepare(example_copy, cli)
    assert result.code == 1
    assert ("RL201", "README.md") in {(f["rule_id"], f["path"])  # type: ignore[index]
                                      for f in report["findings"]}  # type: ignore[attr-defined]
    assert first["note"] not in result.out + result.err


@pytest.mark.parametrize(("front_matter", "rule", "member"), [
    ("license: mit\n", "RL502", "license"),
    ("base_model: someone/else\n", "RL502", "base_model"),
    ("datasets:\n- contoso/secret-notes\n", "RL503", "datasets"),
])
def test_metadata_conflicts_with_the_model_readme(example_copy: Path,
                                                  cli: Callable[..., CliResult],
                                                  front_matter: str, rule: str,
                                                  member: str) -> None:
    readme = example_copy / "outputs" / "final" / "README.md"
    readme.write_text(f"---\n{front_matter}---\n\nHow we trained it, in our words.\n")
    _result, report = prepare(example_copy, cli)
    found = {(f["rule_id"], f["member"]) for f in report["findings"]}  # type: ignore[attr-defined]
    assert (rule, member) in found
    if rule == "RL503":
        card = ModelCard(staged_card(example_copy))
        assert "datasets" not in card.data.to_dict()
        assert "How we trained it, in our words." in card.text  # prose kept, under a section


def test_user_template_and_strict_rendering(example_copy: Path,
                                            cli: Callable[..., CliResult]) -> None:
    template = example_copy / "card.md.j2"
    template.write_text("{{ front_matter }}\n# {{ model.title }} by {{ agreement.provider }}\n")
    config = example_copy / "release.toml"
    config.write_text(config.read_text().replace('template = "default"',
                                                 'template = "card.md.j2"'))
    result = cli("card", "--config", config, "-q")
    assert result.code == 0, result.err
    assert "# clinic-notes-classifier by Example Health (synthetic)" in result.out
    template.write_text("{{ front_matter }}\n{{ model.no_such_value }}\n")
    broken = cli("card", "--config", config)
    assert broken.code == 2 and "card.template" in broken.err


def test_minimal_template(example_copy: Path, cli: Callable[..., CliResult]) -> None:
    config = example_copy / "release.toml"
    config.write_text(config.read_text().replace('template = "default"',
                                                 'template = "minimal"'))
    card = cli("card", "--config", config, "-q").out
    assert card.startswith("---\nlicense: apache-2.0") and "not distributed" in card


def test_a_licence_without_a_hub_id_links_its_text(example_copy: Path,
                                                   cli: Callable[..., CliResult]) -> None:
    config = example_copy / "release.toml"
    config.write_text(config.read_text().replace('license = "Apache-2.0"',
                                                 'license = "Apache-2.0 OR MIT"'))
    result, _ = prepare(example_copy, cli)
    assert result.code == 0, result.err
    meta = ModelCard(staged_card(example_copy)).data.to_dict()
    assert meta["license"] == "other" and meta["license_link"] == "LICENSES/Apache-2.0.txt"


def test_check_finds_a_card_whose_licence_was_edited(example_copy: Path,
                                                     cli: Callable[..., CliResult]) -> None:
    result, _ = prepare(example_copy, cli)
    assert result.code == 0, result.err
    staged = example_copy / "dist" / "example-org--clinic-notes-classifier-1.0.0"
    assert cli("check", staged).code == 0
    card = staged / "README.md"
    card.write_text(card.read_text().replace("license: apache-2.0", "license: mit"))
    checked = cli("check", staged, "--format", "json")
    found = {(f["rule_id"], f["path"]) for f in json.loads(checked.out)["findings"]}
    assert {("RL602", "README.md"), ("RL502", "README.md")} <= found


def test_card_reads_the_staged_card_and_fails_with_the_release(
        example_copy: Path, cli: Callable[..., CliResult]) -> None:
    config = example_copy / "release.toml"
    result, _ = prepare(example_copy, cli)
    assert result.code == 0, result.err
    staged = cli("card", "--config", config)
    assert staged.code == 0 and staged.out == staged_card(example_copy)
    assert "staged from this config" in staged.err
    (example_copy / "outputs" / "final" / "eval.csv").write_text("id,note\n1,x\n")
    failing = cli("card", "--config", config, "-q")  # the model changed: rendered again
    assert failing.code == 1, failing.err
    assert "RL105" in failing.err and "FAIL" in failing.err
    assert failing.out.startswith("---\n")
