"""The AI bill of materials staged beside the card: CycloneDX 1.6 ML-BOM JSON naming the model, the
confidential training data (by its provider, size and handling, never where it lies or what it
says), the training code and base model with their licences, and every staged file's sha256."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from release import TOOL_NAME, __version__
from release.card.data import privacy_techniques
from release.config import Config
from release.licensing.policy import LicensePlan
from release.pipeline.manifest import AIBOM_NAME, ManifestFile
from release.regular import read_json_object

__all__ = ["AIBOM_NAME", "render_aibom"]
SPEC_VERSION = "1.6"
# the data stays with its provider: not for disclosure (TLP:RED, SPDX 3's confidentialityLevel)
CONFIDENTIALITY = "red"


def _licenses(expression: str | None) -> list[dict[str, str]]:
    return [{"expression": expression}] if expression else []


def _model_component(config: Config, plan: LicensePlan) -> dict[str, Any]:
    model_config = read_json_object(config.model.path / "config.json") or {}
    architectures = model_config.get("architectures") or []
    parameters: dict[str, Any] = {"datasets": [{"ref": "training-data"}]}
    if config.card.pipeline_tag:
        parameters["task"] = config.card.pipeline_tag
    if isinstance(model_config.get("model_type"), str):
        parameters["architectureFamily"] = model_config["model_type"]
    if architectures and isinstance(architectures[0], str):
        parameters["modelArchitecture"] = architectures[0]
    parameters["approach"] = {"type": "supervised" if config.card.pipeline_tag in (
        "text-classification", "token-classification") else "self-supervised"}
    component: dict[str, Any] = {
        "type": "machine-learning-model", "bom-ref": "model",
        "name": config.release.name, "version": config.release.version,
        "licenses": _licenses(plan.model),
        "modelCard": {
            "modelParameters": parameters,
            "considerations": {
                "technicalLimitations": [config.agreement.data_limitations]
                if config.agreement.data_limitations else [],
                "ethicalConsiderations": [{
                    "name": "Trained on confidential data under a data use agreement; the data "
                            "is not distributed and no licence in this release covers it."}],
            },
        },
    }
    if config.agreement.release_url:
        component["externalReferences"] = [{"type": "distribution",
                                            "url": config.agreement.release_url}]
    if config.model.base_model is not None:
        component["pedigree"] = {"ancestors": [{"bom-ref": "base-model"}]}
    return component


def _data_component(config: Config, records: int | None, text_bytes: int | None
                    ) -> dict[str, Any]:
    """The training data as its provider and the agreement describe it: no path, no URL, no
    record."""
    agreement = config.agreement
    properties = [{"name": "release:confidentialityLevel", "value": CONFIDENTIALITY},
                  {"name": "release:agreement", "value": agreement.type
                   + (f" {agreement.version}" if agreement.version else "")},
                  {"name": "release:sensitivePersonalInformation",
                   "value": "unknown" if agreement.personal_data is None
                   else str(agreement.personal_data).lower()}]
    properties += [{"name": "release:anonymizationMethodUsed", "value": technique}
                   for technique in privacy_techniques(agreement.privacy)]
    if records is not None:
        properties.append({"name": "release:recordCount", "value": str(records)})
    if text_bytes is not None:
        properties.append({"name": "release:textBytes", "value": str(text_bytes)})
    dataset: dict[str, Any] = {
        "type": "dataset", "name": f"training data of {config.release.name}",
        "classification": "confidential",
        "governance": {
            "owners": [{"organization": {"name": agreement.data_provider
                                         or "the Data Provider"}}],
            "custodians": [{"organization": {"name": agreement.data_user or "the Data User"}}],
        },
    }
    if agreement.data_description:
        dataset["description"] = agreement.data_description
    if agreement.personal_data:
        dataset["sensitiveData"] = ["personal data (see the agreement's privacy terms)"]
    return {"type": "data", "bom-ref": "training-data", "name": dataset["name"],
            "data": [dataset], "properties": properties}


def render_aibom(config: Config, plan: LicensePlan, files: Sequence[ManifestFile],
                 records: int | None, text_bytes: int | None) -> str:
    """The ML-BOM of a staged release whose other files are `files`; record count and text size
    from the index (None where there is none). The same release gives the same bytes: no
    timestamp (the manifest and the report say when), a serial number derived from the files."""
    components = [_model_component(config, plan), _data_component(config, records, text_bytes)]
    depends = ["training-data"]
    if config.code is not None:
        components.append({"type": "application", "bom-ref": "training-code",
                           "name": f"{config.release.name} training code",
                           "version": config.release.version,
                           "licenses": _licenses(plan.code)})
        depends.append("training-code")
    base = config.model.base_model
    if base is not None:
        component: dict[str, Any] = {"type": "machine-learning-model", "bom-ref": "base-model",
                                     "name": base.name, "licenses": _licenses(base.license)}
        if base.source:
            component["externalReferences"] = [{"type": "distribution", "url": base.source}]
        components.append(component)
        depends.append("base-model")
    components += [{"type": "file", "bom-ref": f"file:{f.path}", "name": f.path,
                    "hashes": [{"alg": "SHA-256", "content": f.sha256}]}
                   for f in sorted(files, key=lambda f: f.path)]
    listing = json.dumps([(f.path, f.sha256) for f in sorted(files, key=lambda f: f.path)])
    bom = {
        "bomFormat": "CycloneDX", "specVersion": SPEC_VERSION,
        "serialNumber": uuid.uuid5(uuid.NAMESPACE_URL,
                                   f"{config.release.name}@{config.release.version}:"
                                   f"{listing}").urn,
        "version": 1,
        "metadata": {
            "tools": {"components": [{"type": "application", "name": TOOL_NAME,
                                      "version": __version__}]},
            "component": {"type": "machine-learning-model", "bom-ref": "release",
                          "name": config.release.name, "version": config.release.version},
        },
        "components": components,
        "dependencies": [{"ref": "model", "dependsOn": depends}],
    }
    return json.dumps(bom, indent=2, ensure_ascii=False) + "\n"
