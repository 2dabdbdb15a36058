"""The staged AI-BOM: CycloneDX 1.6 that validates offline against the official schema, names the
model, data, code and files, and says nothing of where the training data lies or what it holds."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from release.digests import sha256_file
from release.pipeline.manifest import AIBOM_NAME, read_manifest
from tests.conftest import RECORDS, CliResult, Project

pytest.importorskip("cyclonedx.validation.json")


def validate(text: str) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, str(error)


def staged_bom(cli: Callable[..., CliResult], config: Path) -> tuple[Path, dict[str, Any], str]:
    prepared = cli("prepare", "--config", config, "--format", "json")
    assert prepared.code == 0, prepared.out + prepared.err
    staged = Path(json.loads(prepared.out)["staged"]["path"])
    if not staged.is_absolute():
        staged = config.parent / "dist" / staged.name
    text = (staged / AIBOM_NAME).read_text()
    return staged, json.loads(text), text


def components(bom: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [c for c in bom["components"] if c["type"] == kind]


def test_the_example_bom_validates_and_lists_every_file(example_copy: Path,
                                                        cli: Callable[..., CliResult]) -> None:
    staged, bom, text = staged_bom(cli, example_copy / "release.toml")
    validate(text)
    assert bom["specVersion"] == "1.6"
    (model,) = [c for c in components(bom, "machine-learning-model") if c["bom-ref"] == "model"]
    assert model["licenses"] == [{"expression": "Apache-2.0"}]
    assert model["modelCard"]["modelParameters"]["task"] == "text-classification"
    assert model["modelCard"]["modelParameters"]["datasets"] == [{"ref": "training-data"}]
    (data,) = components(bom, "data")
    properties = {p["name"]: p["value"] for p in data["properties"]}
    assert properties["release:confidentialityLevel"] == "red"
    assert properties["release:sensitivePersonalInformation"] == "false"
    assert int(properties["release:recordCount"]) > 0
    assert int(properties["release:textBytes"]) > 0
    techniques = [p["value"] for p in data["properties"]
                  if p["name"] == "release:anonymizationMethodUsed"]
    assert len(techniques) == 2  # pseudonymization, no human inspection
    assert data["data"][0]["governance"]["owners"][0]["organization"]["name"] == \
        "Example Health (synthetic)"
    (code,) = components(bom, "application")
    assert code["licenses"] == [{"expression": "MIT"}]
    listed = {c["name"]: c["hashes"][0]["content"] for c in components(bom, "file")}
    manifest = read_manifest(staged)
    assert {f.path for f in manifest.files} - set(listed) == {AIBOM_NAME}
    for path, digest in listed.items():
        assert sha256_file(staged / path) == digest
    assert "data/notes.jsonl" not in text and "notes.jsonl" not in text
    assert cli("check", staged, "-q").code == 0  # in the manifest, and REUSE-annotated


def test_a_project_bom_names_no_data_location_and_no_record(
        project: Project, cli: Callable[..., CliResult]) -> None:
    config = project.config
    config.write_text(config.read_text() + """
[agreement.privacy]
differential_privacy = { epsilon = 8.0, delta = 1e-5 }
""")
    _staged, bom, text = staged_bom(cli, config)
    validate(text)
    for forbidden in (str(project.data), project.data.name, str(project.data.parent),
                      "file://", "s3://"):
        assert forbidden not in text
    for record in RECORDS:
        for value in record.values():
            if isinstance(value, str) and len(value) >= 6:
                assert value not in text
    (data,) = components(bom, "data")
    techniques = [p["value"] for p in data["properties"]
                  if p["name"] == "release:anonymizationMethodUsed"]
    assert techniques and "epsilon = 8" in techniques[0]
