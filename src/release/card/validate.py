"""Checks a rendered card offline: it loads with huggingface_hub, its metadata follows the Hub's
rules we can check locally, agrees with the attached licences, and with the model folder's own
README.md where there was one."""

from __future__ import annotations

from typing import Any

from release import rules
from release.findings import Finding
from release.licensing.catalog import Catalog
from release.licensing.policy import LicensePlan

CARD_PATH = "README.md"


def _is_strings(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list)
                                      and all(isinstance(v, str) for v in value))


def check_card(text: str, plan: LicensePlan, catalog: Catalog,
               existing: dict[str, Any]) -> list[Finding]:
    from huggingface_hub import ModelCard

    try:
        meta = ModelCard(text, ignore_metadata_errors=False).data.to_dict()  # type: ignore[no-untyped-call]
    except Exception as exc:
        return [Finding(rules.CARD_METADATA_INVALID, CARD_PATH,
                        f"the card does not load with huggingface_hub ({type(exc).__name__})")]
    findings = []

    def invalid(key: str, message: str) -> None:
        findings.append(Finding(rules.CARD_METADATA_INVALID, CARD_PATH, f"{key}: {message}",
                                member=key, basis=key))

    known = {info.hf for info in catalog.licenses.values() if info.hf} | {"other"}
    license_id = meta.get("license")
    if license_id not in known:
        invalid("license", f"{license_id!r} is not a Hugging Face licence id")
    if license_id == "other":
        link = meta.get("license_link")
        if not meta.get("license_name") or not isinstance(link, str):
            invalid("license", "'other' needs license_name and license_link")
        elif link.removeprefix("LICENSES/").removesuffix(".txt") not in plan.ids:
            invalid("license_link", "does not point to a licence text in LICENSES/")
    for key in ("language", "tags", "base_model"):
        if key in meta and not _is_strings(meta[key]):
            invalid(key, "must be a string or a list of strings")
    if "pipeline_tag" in meta and not isinstance(meta["pipeline_tag"], str):
        invalid("pipeline_tag", "must be a string")
    if "datasets" in meta:
        invalid("datasets", "the card must not name the confidential training data")
    findings += _conflicts(meta, existing)
    return findings


def _conflicts(meta: dict[str, Any], existing: dict[str, Any]) -> list[Finding]:
    findings = []
    for key in ("license", "license_name", "base_model"):
        if key in existing and existing[key] != meta.get(key):
            findings.append(Finding(
                rules.CARD_METADATA_CONFLICT, CARD_PATH,
                f"the model folder's README.md says {key} = {existing[key]!r} but the release "
                f"says {meta.get(key)!r}; fix one of them", member=key, basis=key))
    if "datasets" in existing:
        findings.append(Finding(
            rules.CARD_NAMES_DATASET, CARD_PATH,
            "the model folder's README.md lists datasets; they are left out of the card, "
            "since the confidential training data must not be named there", member="datasets",
            basis="datasets"))
    return findings
