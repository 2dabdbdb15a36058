"""Collects what the model card says: from the config, the model folder and the report."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import yaml

from release import __version__, rules
from release.card.sections import (
    evaluation_results,
    pipeline_tag_of,
    training_procedure,
    usage_snippet,
)
from release.config import Config, PrivacySettings
from release.errors import ConfigError
from release.extract.safetensors import header_problems, read_header
from release.licensing.attach import disclaimer
from release.licensing.catalog import Catalog
from release.licensing.policy import ADAPTER_CONFIG, LicensePlan, license_ids
from release.pipeline.context import MemorizationSummary
from release.pipeline.report import Report
from release.publish.plan import expand_tag
from release.regular import read_json_object

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n?", re.DOTALL)
DTYPE_NAMES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64",
               "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8",
               "BOOL": "bool", "F8_E4M3": "float8_e4m3", "F8_E5M2": "float8_e5m2"}


def _size_text(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def safetensors_summary(folder: Path) -> tuple[int, list[str]]:
    """Parameter count and dtypes from the safetensors headers alone (payloads are not read);
    files that are not valid safetensors (findings of their own) are left out."""
    parameters, dtypes = 0, set[str]()
    for path in sorted(folder.glob("*.safetensors")):
        if path.is_symlink() or not path.is_file():
            continue
        size = path.stat().st_size
        with path.open("rb") as handle:
            header = read_header(handle, size)
        if header_problems(header, size) or not isinstance(header.value, dict):
            continue
        for name, info in header.value.items():
            if name == "__metadata__" or not isinstance(info, dict):
                continue
            count = 1
            for dimension in info["shape"]:
                count *= dimension
            parameters += count
            dtypes.add(DTYPE_NAMES.get(str(info["dtype"]), str(info["dtype"])))
    return parameters, sorted(dtypes)


def _parameters_text(count: int) -> str:
    if count >= 1_000_000_000:
        return f"{count / 1e9:.2f}B"
    if count >= 1_000_000:
        return f"{count / 1e6:.1f}M"
    return f"{count:,}"


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """The YAML metadata and the prose of an existing README.md."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError:
        meta = {}
    return (meta if isinstance(meta, dict) else {}), text[match.end():]


def hf_license(expression: str | None, catalog: Catalog) -> dict[str, str]:
    """The card's licence metadata: the Hub id of a single known licence, or `other` with a
    name and a link to its text in LICENSES/."""
    if not expression:
        return {"license": "other"}
    ids, _alternatives = license_ids(expression)
    if len(ids) == 1 and catalog.get(ids[0]) is not None and catalog.licenses[ids[0]].hf:
        return {"license": str(catalog.licenses[ids[0]].hf)}
    first = ids[0] if ids else expression
    return {"license": "other", "license_name": expression.lower().replace(" ", "-"),
            "license_link": f"LICENSES/{first}.txt"}


def privacy_techniques(privacy: PrivacySettings) -> list[str]:
    """The privacy techniques the agreement's Attachment B says were applied, in words."""
    found = []
    if privacy.pseudonymization:
        found.append("Pseudonymization of personal data")
    if privacy.aggregation:
        found.append("Aggregation")
    if privacy.no_human_inspection:
        found.append("No human inspection of the data")
    if privacy.differential_privacy is not None:
        dp = privacy.differential_privacy
        found.append(f"Differential privacy (epsilon = {dp.epsilon:g}"
                     + (f", delta = {dp.delta:g}" if dp.delta is not None else "") + ")")
    if privacy.trusted_execution:
        found.append(f"Trusted execution: {privacy.trusted_execution}")
    return found


def card_data(config: Config, report: Report, plan: LicensePlan, catalog: Catalog,
              model_files: list[tuple[str, int]]) -> dict[str, Any]:
    """Everything a card template may use; the front matter is rendered here as YAML."""
    model_config: dict[str, Any] = {}
    config_path = config.model.path / "config.json"
    if config_path.is_file():
        try:
            loaded = json.loads(config_path.read_text(encoding="utf-8"))
            model_config = loaded if isinstance(loaded, dict) else {}
        except (ValueError, OSError):
            model_config = {}
    architectures = model_config.get("architectures") or []
    architecture = str(architectures[0]) if architectures else str(
        model_config.get("model_type", "unknown"))
    parameters, dtypes = safetensors_summary(config.model.path)
    meta: dict[str, Any] = hf_license(plan.model, catalog)
    base = config.model.base_model
    if base is not None:
        meta["base_model"] = base.name
    if "transformers_version" in model_config:  # written by save_pretrained
        meta["library_name"] = "transformers"
    if config.card.pipeline_tag:
        meta["pipeline_tag"] = config.card.pipeline_tag
    if config.card.language:
        meta["language"] = list(config.card.language)
    meta["tags"] = [*config.card.tags, "dua-oai-release"]
    _, existing = split_front_matter(_existing_readme(config.model.path))
    sections = _user_sections(config, model_config)
    counts = report.summary["findings"]
    memorization = (report.context.memorization
                    or MemorizationSummary.not_audited("the audit did not run"))
    agreement = config.agreement
    name = config.release.name
    return {
        "front_matter": "---\n" + yaml.safe_dump(meta, sort_keys=False).strip() + "\n---\n",
        "meta": meta,
        "model": {
            "title": name.split("/")[-1], "name": name, "version": config.release.version,
            "summary": f"`{name}` version {config.release.version}.",
            "architecture": architecture, "parameters": parameters,
            "parameters_text": _parameters_text(parameters) if parameters else "unknown",
            "dtypes": dtypes,
            "files": [{"path": p, "size_text": _size_text(s)} for p, s in model_files],
        },
        "base_model": ({"name": base.name, "license": base.license, "source": base.source}
                       if base else None),
        "card": {"pipeline_tag": config.card.pipeline_tag},
        **sections,
        "agreement": {
            "type": agreement.type, "version": agreement.version,
            "effective_date": _iso(agreement.effective_date),
            "term_end": _iso(agreement.term_end),
            "provider": agreement.data_provider or "the Data Provider",
            "user": agreement.data_user or "the Data User",
            "description": agreement.data_description or "",
            "limitations": agreement.data_limitations or "",
            "personal_data": agreement.personal_data,
        },
        "privacy": privacy_techniques(config.agreement.privacy),
        "checks": {
            "files": report.summary["files"], "scanned": report.summary["scanned"],
            "leaks": sum(1 for f in report.findings if f.rule in rules.TRAINING_DATA_IN_FILES),
            "errors": counts["error"], "warnings": counts["warning"],
            "accepted": report.summary["accepted"],
        },
        "memorization": memorization,
        "licenses": {"model": plan.model or "not set", "code": plan.code,
                     "code_dest": (config.code.dest or ".") if config.code else ".",
                     "docs": plan.docs or "CC-BY-4.0"},
        "disclaimer": disclaimer(config.agreement),
        "original": existing.strip(),
        "citation": f"{name}, version {config.release.version}"
                    + (f", {agreement.release_url}" if agreement.release_url else ""),
        "generated_by": __version__,
    }


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _user_sections(config: Config, model_config: dict[str, Any]) -> dict[str, Any]:
    """Usage, training procedure and evaluation, for a Hub user: from config.json, the
    adapter's config, Trainer's metadata and [card].eval_results (numbers only)."""
    hub = config.publish_hub
    repo_id = hub.repo_id if hub is not None else config.release.name
    revision = (expand_tag(hub.tag, config.release.name, config.release.version)
                if hub is not None else None)
    adapter = read_json_object(config.model.path / ADAPTER_CONFIG)
    base = config.model.base_model
    adapter_base = (base.name if base is not None else f"named in {ADAPTER_CONFIG}") \
        if adapter is not None else None
    tag = config.card.pipeline_tag or pipeline_tag_of(model_config)
    given = config.card.eval_results
    evaluation = evaluation_results(config.model.path, given)
    if evaluation is None and given is not None:
        raise ConfigError(config.path, "card.eval_results",
                          f"{given.name} is not a JSON object of metric names and numbers")
    return {
        "usage": usage_snippet(repo_id, revision, tag, model_config, adapter_base),
        "training": training_procedure(config.model.path),
        "evaluation": evaluation,
        "tokenizer": {
            "ships": any((config.model.path / name).is_file()
                         for name in ("tokenizer.json", "tokenizer.model", "vocab.json",
                                      "vocab.txt")),
            "from_data": config.model.tokenizer_from_data,
        },
    }


def _existing_readme(model_path: Path) -> str:
    path = model_path / "README.md"
    try:
        return path.read_text(encoding="utf-8") if path.is_file() else ""
    except (OSError, UnicodeDecodeError):
        return ""


def existing_metadata(model_path: Path) -> dict[str, Any]:
    """The metadata of the model folder's own README.md, if it has one."""
    return split_front_matter(_existing_readme(model_path))[0]
