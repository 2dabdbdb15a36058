"""Checks a rendered card offline: it loads with huggingface_hub, its metadata follows the Hub's
rules we can check locally, agrees with the attached licences, and with the model folder's own
README.md where there was one."""

from __future__ import annotations

from pathlib import Path
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


def agrees_with_licensing(folder: Path, catalog: Catalog) -> list[Finding]:
    """In a staged release: the card's licence is the one REUSE.toml gives the model files and
    NOTICE names, and its text is in LICENSES/."""
    import tomllib

    from release.card.data import split_front_matter

    card, reuse, notice = (folder / CARD_PATH, folder / "REUSE.toml", folder / "NOTICE")
    if not (card.is_file() and reuse.is_file() and notice.is_file()):
        return []
    meta, _ = split_front_matter(card.read_text(encoding="utf-8", errors="replace"))
    try:
        annotations = tomllib.loads(reuse.read_text(encoding="utf-8")).get("annotations", [])
        model_expression = str(annotations[0]["SPDX-License-Identifier"])
    except (tomllib.TOMLDecodeError, IndexError, KeyError, TypeError):
        return [Finding(rules.CARD_METADATA_CONFLICT, "REUSE.toml", "cannot be read",
                        basis="reuse")]
    problems = []
    license_id = meta.get("license")
    if license_id == "other":
        link = str(meta.get("license_link", ""))
        if not (folder / link).is_file():
            problems.append(f"license_link {link!r} is not a file of the release")
    else:
        ids = {info.id for info in catalog.licenses.values() if info.hf == license_id}
        if model_expression not in ids:
            problems.append(f"license {license_id!r} is not {model_expression!r} of REUSE.toml")
        if not any((folder / "LICENSES" / f"{i}.txt").is_file() for i in ids):
            problems.append(f"no text for {license_id!r} in LICENSES/")
    if model_expression not in notice.read_text(encoding="utf-8", errors="replace"):
        problems.append(f"NOTICE does not name {model_expression!r}")
    return [Finding(rules.CARD_METADATA_CONFLICT, CARD_PATH,
                    f"the card's licence disagrees with the release's licensing: {problem}",
                    member="license", basis=problem) for problem in problems]
