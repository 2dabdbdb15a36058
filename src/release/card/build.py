"""The model card of a release: rendered, checked offline, and scanned like every shipped byte."""

from __future__ import annotations

from collections.abc import Iterable

from release import rules
from release.card.data import card_data, existing_metadata
from release.card.render import render
from release.card.validate import CARD_PATH, check_card
from release.config import Config
from release.findings import Finding
from release.fingerprint.match import Matcher
from release.licensing.catalog import Catalog
from release.licensing.policy import LicensePlan
from release.pipeline.read import Artifact
from release.pipeline.report import Report


def build_card(config: Config, report: Report, plan: LicensePlan, catalog: Catalog,
               artifacts: Iterable[Artifact], matcher: Matcher | None
               ) -> tuple[str, list[Finding]]:
    """The card's text, summarising `report`, and the card's own findings."""
    model_files = [(a.item.path, a.size) for a in artifacts
                   if a.item.origin == "model" and a.item.path != CARD_PATH]
    text = render(config.card.template, config.path,
                  card_data(config, report, plan, catalog, model_files))
    findings = check_card(text, plan, catalog, existing_metadata(config.model.path))
    if matcher is not None:
        text_hits, sensitive_hits = matcher.match([text])
        if text_hits or sensitive_hits:
            findings.append(Finding(
                rules.TRAINING_TEXT if text_hits else rules.SENSITIVE_VALUE, CARD_PATH,
                "the generated model card quotes training data (check [agreement] "
                "descriptions and the model folder's README.md)", basis="card"))
    return text, findings
