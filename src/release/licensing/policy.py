"""The DUA-OAI licence policy: OSI-approved open licences without use restrictions for the
model and code, a Data Provider disclaimer, the base model's terms, the agreement's term."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from license_expression import ExpressionError, get_spdx_licensing

from release import rules
from release.config import AgreementSettings, BaseModel, Config
from release.findings import Finding, Severity
from release.licensing.catalog import Catalog
from release.pipeline.context import AgreementDates
from release.publish.plan import public_location
from release.regular import read_json_object

CLAUSE_OPEN = "DUA-OAI §3(c)"
CLAUSE_NO_RESTRICTIONS = "DUA-OAI §4(c)"
CLAUSE_BASE_MODEL = "DUA-OAI §5(c)"
CLAUSE_TERM = "DUA-OAI §3(b), §8"
MANIFEST_LICENSE = "CC0-1.0"


@dataclass
class LicensePlan:
    """What each component ships under, and every licence id whose text must be attached."""

    model: str | None = None
    code: str | None = None
    docs: str | None = None
    ids: set[str] = field(default_factory=set)
    findings: list[Finding] = field(default_factory=list)
    dates: AgreementDates | None = None  # term, survival window, deletion deadline


def license_ids(expression: str) -> tuple[list[str], list[list[str]]]:
    """The licence ids of an SPDX expression, and its alternatives: every OR branch as the list
    of ids that branch requires together (AND, WITH)."""
    licensing = get_spdx_licensing()
    parsed = licensing.parse(expression, validate=False, strict=True)
    ids = sorted(licensing.license_keys(parsed, unique=True))
    dnf = licensing.dedup(parsed)
    alternatives = [sorted(licensing.license_keys(branch, unique=True))
                    for branch in (dnf.args if type(dnf).__name__ == "OR" else [dnf])]
    return ids, alternatives


_NAME_NOISE = re.compile(r"\b(the|licen[cs]e|version|v(?=\d))\b", re.IGNORECASE)


def _comparable(text: str) -> str:
    """A licence name or id reduced to letters, digits, dots and plus signs, without the
    words that people add or leave out ("Apache License, Version 2.0" → "apache2.0")."""
    return re.sub(r"[^a-z0-9.+]+", "", _NAME_NOISE.sub("", text).lower())


def suggest_license(written: str, catalog: Catalog) -> str | None:
    """The SPDX id of the catalogued licence that `written` (a name, or an id spelt loosely:
    "Apache 2.0", "BSD 3-Clause", "MIT License") stands for, when exactly one does."""
    wanted = _comparable(written)
    if not wanted:
        return None
    matches = {entry.id for entry in catalog.licenses.values()
               if wanted in (_comparable(entry.id), _comparable(entry.name),
                             _comparable(entry.id.removesuffix("-only")))}
    return matches.pop() if len(matches) == 1 else None


def _component(catalog: Catalog, plan: LicensePlan, key: str, expression: str | None, *,
               open_required: bool) -> str | None:
    if expression is None:
        if open_required:
            plan.findings.append(Finding(
                rules.UNKNOWN_LICENSE, None, f"{key} is not set; {CLAUSE_OPEN} requires the "
                "trained model to be published under an open source licence", basis=key,
                config_key=key))
        return None
    try:
        ids, alternatives = license_ids(expression)
    except ExpressionError as exc:
        suggestion = suggest_license(expression, catalog)
        hint = f"; did you mean {suggestion!r}?" if suggestion else ""
        plan.findings.append(Finding(rules.UNKNOWN_LICENSE, None,
                                     f"{key} is not a valid SPDX expression ({exc}){hint}",
                                     basis=key, config_key=key))
        return None
    unknown = [i for i in ids if catalog.get(i) is None]
    for spdx_id in unknown:
        suggestion = suggest_license(spdx_id, catalog)
        message = (f"{key}: {spdx_id!r} is not an SPDX licence id; did you mean {suggestion!r}?"
                   if suggestion else
                   f"{key}: licence {spdx_id!r} has no text here; add {spdx_id}.txt to the "
                   "folder named by [release].license_texts")
        plan.findings.append(Finding(
            rules.UNKNOWN_LICENSE, None, message, evidence={"license": spdx_id},
            basis=f"{key}:{spdx_id}", config_key=key))
    known = [i for i in ids if i not in unknown]
    plan.ids.update(known)
    if not open_required:
        return expression
    closed = sorted({i for branch in alternatives for i in branch
                     if i in known and not catalog.licenses[i].osi})
    if closed:
        plan.findings.append(Finding(
            rules.NOT_OSI_APPROVED, None,
            f"{key} = {expression!r}: {', '.join(closed)} is not OSI-approved; {CLAUSE_OPEN} "
            "requires a licence that meets the Open Source Definition (every alternative of an "
            "OR, every part of an AND)", evidence={"licenses": closed}, basis=key,
            config_key=key))
    restricted = sorted({i for i in known if catalog.licenses[i].restricted})
    if restricted and key == "model.license":
        plan.findings.append(Finding(
            rules.USE_RESTRICTED, None,
            f"{key} = {expression!r}: {', '.join(restricted)} restricts how the model may be "
            f"used; {CLAUSE_NO_RESTRICTIONS} allows no use restrictions on the trained model",
            evidence={"licenses": restricted}, basis=key, config_key=key))
    return expression


def _agreement(agreement: AgreementSettings, plan: LicensePlan, today: dt.date) -> None:
    if not (agreement.provider_disclaimer or agreement.data_provider):
        plan.findings.append(Finding(
            rules.MISSING_DISCLAIMER, None,
            f"neither agreement.provider_disclaimer nor agreement.data_provider is set; "
            f"{CLAUSE_OPEN} requires a disclaimer of liability in favour of the Data Provider "
            "in the licence terms (NOTICE)", basis="disclaimer",
            config_key="agreement"))
    if agreement.effective_date and today < agreement.effective_date:
        plan.findings.append(Finding(
            rules.OUTSIDE_TERM, None,
            f"the release date {today.isoformat()} is before the agreement's effective date "
            f"{agreement.effective_date.isoformat()} ({CLAUSE_TERM})", basis="before",
            config_key="agreement.effective_date"))
    if agreement.term_end is None:
        plan.findings.append(Finding(
            rules.OUTSIDE_TERM, None,
            "agreement.effective_date (or term_end) is not set, so the release date cannot be "
            f"checked against the agreement's term ({CLAUSE_TERM}); set the date the agreement "
            "took effect", basis="no-term", severity=Severity.WARNING,
            config_key="agreement.effective_date"))
        return
    survival_end = agreement.term_end + dt.timedelta(days=agreement.survival_days)
    deletion = agreement.term_end + dt.timedelta(days=agreement.deletion_days)
    plan.dates = AgreementDates(
        release_date=today, term_end=agreement.term_end, survival_window_end=survival_end,
        in_survival_window=agreement.term_end < today <= survival_end,
        data_deletion_deadline=deletion, days_until_data_deletion=(deletion - today).days,
        agreement=agreement.type, version=agreement.version,
        effective_date=agreement.effective_date)
    if today > survival_end:
        window = (f" and its {agreement.survival_days}-day survival window ended on "
                  f"{survival_end.isoformat()}" if agreement.survival_days else "")
        plan.findings.append(Finding(
            rules.OUTSIDE_TERM, None,
            f"the release date {today.isoformat()} is after the agreement's term ended on "
            f"{agreement.term_end.isoformat()}{window}; the data may no longer be used and must "
            f"be deleted by {deletion.isoformat()} ({CLAUSE_TERM})", basis="after",
            config_key="agreement.term_end"))


def _privacy(agreement: AgreementSettings, plan: LicensePlan) -> None:
    """Personal data published about without any declared safeguard deserves a second look."""
    privacy = agreement.privacy
    declared = (privacy.pseudonymization, privacy.aggregation, privacy.no_human_inspection,
                privacy.differential_privacy is not None, bool(privacy.trusted_execution))
    if agreement.personal_data and not any(declared):
        plan.findings.append(Finding(
            rules.PRIVACY_UNDECLARED, None,
            "agreement.personal_data is true, but [agreement.privacy] declares no technique "
            "(pseudonymisation, aggregation, no human inspection, differential privacy, a "
            "trusted environment); the card would say none was applied: declare the ones "
            "used, or accept this finding with the reason", basis="privacy",
            config_key="agreement.privacy"))


def _base_model(base: BaseModel | None, catalog: Catalog, plan: LicensePlan) -> None:
    if base is None:
        return
    if base.license is None:
        plan.findings.append(Finding(
            rules.BASE_MODEL_TERMS, None,
            f"model.base_model {base.name!r} has no licence; {CLAUSE_BASE_MODEL} requires the "
            "right to train and redistribute it", basis="base-license",
            config_key="model.base_model"))
        return
    before = len(plan.findings)
    _component(catalog, plan, "model.base_model.license", base.license,
               open_required=False)
    if len(plan.findings) > before:
        return
    ids, alternatives = license_ids(base.license)
    unvetted = sorted(i for i in ids if catalog.licenses[i].sha256 is None)
    if unvetted:
        plan.findings.append(Finding(
            rules.BASE_MODEL_TERMS, None,
            f"model.base_model {base.name!r} is licensed under {', '.join(unvetted)}, whose "
            f"terms release does not know; {CLAUSE_BASE_MODEL} requires the right to "
            "redistribute it: confirm that, then accept this finding in the baseline",
            evidence={"licenses": unvetted}, basis="base-unvetted",
            config_key="model.base_model"))
        return
    if all(any(catalog.licenses[i].restricted for i in branch) for branch in alternatives):
        plan.findings.append(Finding(
            rules.BASE_MODEL_TERMS, None,
            f"model.base_model {base.name!r} is licensed {base.license!r}, whose use "
            f"restrictions pass on to the trained model ({CLAUSE_BASE_MODEL}, "
            f"{CLAUSE_NO_RESTRICTIONS})", basis="base-restricted",
            config_key="model.base_model"))


ADAPTER_CONFIG = "adapter_config.json"  # what PEFT's save_pretrained writes beside the adapter
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")


def _adapter_base(config: Config, plan: LicensePlan) -> None:
    """A PEFT adapter is used only with its base model, so the release must name that model
    (and have the right to build on it, DUA-OAI §5(c))."""
    if config.model.base_model is not None:
        return
    data = read_json_object(config.model.path / ADAPTER_CONFIG)
    if data is None:
        return  # no adapter; or one the scan reports as unreadable or malformed
    named = data.get("base_model_name_or_path")
    hint = f" (it names {named!r})" if isinstance(named, str) and _HUB_ID.match(named) else ""
    plan.findings.append(Finding(
        rules.BASE_MODEL_TERMS, None,
        f"the model is a PEFT adapter ({ADAPTER_CONFIG}), which works only with its base "
        f"model{hint}: name it in [model].base_model with its licence and source "
        f"({CLAUSE_BASE_MODEL}), so the card and the licence check cover it",
        basis="adapter-base", config_key="model.base_model"))


def _release_url(config: Config, plan: LicensePlan) -> None:
    url = config.agreement.release_url
    if not url:
        return
    targets = []
    if config.publish_hub is not None:
        hub = config.publish_hub
        targets.append(f"{(hub.endpoint or 'https://huggingface.co').rstrip('/')}/{hub.repo_id}")
    if config.publish_git is not None:
        targets.append(config.publish_git.remote)
    if targets and url.rstrip("/") not in [t.rstrip("/") for t in targets]:
        shown = ", ".join(public_location(t) for t in targets)  # never a password
        plan.findings.append(Finding(
            rules.RELEASE_URL_MISMATCH, None,
            f"agreement.release_url is not the publish target ({shown})", basis="release-url",
            config_key="agreement.release_url"))


def plan_licenses(config: Config, catalog: Catalog, *, today: dt.date | None = None
                  ) -> LicensePlan:
    plan = LicensePlan()
    plan.model = _component(catalog, plan, "model.license", config.model.license,
                            open_required=True)
    if config.code is not None:
        plan.code = _component(catalog, plan, "code.license", config.code.license,
                               open_required=True)
    plan.docs = _component(catalog, plan, "card.license", config.card.license,
                           open_required=False)
    plan.ids.add(MANIFEST_LICENSE)
    _agreement(config.agreement, plan, today or dt.date.today())
    _privacy(config.agreement, plan)
    _base_model(config.model.base_model, catalog, plan)
    _adapter_base(config, plan)
    _release_url(config, plan)
    return plan
