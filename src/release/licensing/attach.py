"""Attaches licensing to a staged release: LICENSES/<id>.txt, REUSE.toml annotating every file,
NOTICE with the Data Provider disclaimer; and checks the result with the reuse library."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from release.config import AgreementSettings, Config
from release.errors import IntegrityError
from release.licensing.catalog import Catalog
from release.licensing.policy import MANIFEST_LICENSE, LicensePlan
from release.pipeline.manifest import (
    AIBOM_NAME,
    GITATTRIBUTES,
    MANIFEST_NAME,
    SIGNATURE_NAME,
    STAGED_REPORT_NAME,
)

NOTICE_NAME = "NOTICE"
REUSE_NAME = "REUSE.toml"
GENERATED = (NOTICE_NAME, REUSE_NAME, "LICENSES")
_GLOB_SPECIAL = str.maketrans({"*": "\\*", "?": "\\?", "[": "\\[", "]": "\\]",
                               "\\": "\\\\"})


@dataclass(frozen=True)
class Attached:
    files: list[str]  # release paths written


def copyright_holder(config: Config) -> str:
    return (config.release.copyright or config.agreement.data_user
            or config.release.name.split("/")[0])


def disclaimer(agreement: AgreementSettings) -> str:
    if agreement.provider_disclaimer:
        return agreement.provider_disclaimer
    provider = agreement.data_provider or "the Data Provider"
    return (f"{provider} provides the training data \"as is\", makes no warranty of any kind "
            "about the Trained Model, and accepts no liability for any use of it.")


def _toml_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _annotation(paths: list[str], holder: str, expression: str) -> str:
    listed = ", ".join(_toml_string(p.translate(_GLOB_SPECIAL)) for p in sorted(paths))
    return ("[[annotations]]\n"
            f"path = [{listed}]\n"
            'precedence = "override"\n'
            f"SPDX-FileCopyrightText = {_toml_string(holder)}\n"
            f"SPDX-License-Identifier = {_toml_string(expression)}\n")


def reuse_toml(holder: str, plan: LicensePlan, model_paths: list[str],
               code_paths: list[str], figures: list[str] | None = None) -> str:
    """REUSE.toml: each component's files with `holder` ("YEAR NAME") and their licence; the
    card's figures are under the card's licence."""
    docs = plan.docs or "CC-BY-4.0"
    model_paths = [p for p in model_paths if p not in ("README.md",)]
    parts = ["version = 1\n"]
    if model_paths and plan.model:
        parts.append(_annotation(model_paths, holder, plan.model))
    if code_paths and plan.code:
        parts.append(_annotation(code_paths, holder, plan.code))
    parts.append(_annotation([NOTICE_NAME, "README.md", *(figures or [])], holder, docs))
    # what release writes about the release, and the .gitattributes a git or Hub publication
    # adds, so that a clone of the published tree is REUSE-compliant too
    parts.append(_annotation([MANIFEST_NAME, STAGED_REPORT_NAME, SIGNATURE_NAME, AIBOM_NAME,
                              GITATTRIBUTES], holder, MANIFEST_LICENSE))
    return "\n".join(parts)


def notice(config: Config, plan: LicensePlan) -> str:
    agreement = config.agreement
    lines = [
        f"{config.release.name} {config.release.version}",
        f"Copyright {dt.date.today().year} {copyright_holder(config)}",
        "",
        "Licensing",
        f"  Trained model (weights, configuration, tokenizer): {plan.model or 'not set'}",
    ]
    if config.code is not None:
        lines.append(f"  Training code ({config.code.dest or '.'}/): {plan.code or 'not set'}")
    lines += [f"  Model card and notices: {plan.docs}",
              "  The full licence texts are in LICENSES/; REUSE.toml says which file is under "
              "which licence.", ""]
    lines += ["Training data",
              f"  The model was trained on data shared under a data use agreement "
              f"({agreement.type})"
              + (f" by {agreement.data_provider}" if agreement.data_provider else "") + ".",
              "  The training data is not distributed with this release and is not covered by "
              "any licence in it.", ""]
    lines += ["Disclaimer in favour of the Data Provider", f"  {disclaimer(config.agreement)}", ""]
    base = config.model.base_model
    if base is not None:
        lines += ["Base model",
                  f"  This model was trained from {base.name}"
                  + (f" ({base.source})" if base.source else "")
                  + (f", licensed under {base.license}" if base.license else "") + ".",
                  "  Its copyright and licence notices apply to the parts derived from it.", ""]
    return "\n".join(lines)


def attach(staging: Path, config: Config, catalog: Catalog, plan: LicensePlan,
           model_paths: list[str], code_paths: list[str],
           figures: list[str] | None = None) -> Attached:
    """Write LICENSES/, REUSE.toml and NOTICE into the staging folder."""
    written = []
    licenses = staging / "LICENSES"
    licenses.mkdir(mode=0o755, exist_ok=True)
    for spdx_id in sorted(plan.ids):
        info = catalog.get(spdx_id)
        if info is None:
            continue
        target = licenses / f"{spdx_id}.txt"
        target.write_bytes(info.text_path.read_bytes())
        written.append(f"LICENSES/{spdx_id}.txt")
    holder = f"{dt.date.today().year} {copyright_holder(config)}"
    (staging / REUSE_NAME).write_text(reuse_toml(holder, plan, model_paths, code_paths, figures),
                                      encoding="utf-8")
    (staging / NOTICE_NAME).write_text(notice(config, plan) + "\n", encoding="utf-8")
    written += [REUSE_NAME, NOTICE_NAME]
    for path in written:
        (staging / path).chmod(0o644)
    return Attached(written)


@dataclass(frozen=True)
class LintResult:
    compliant: bool
    problems: dict[str, int]  # kind of problem -> how many
    spdx: str  # the SPDX document (bill of materials) of the folder


def reuse_report(folder: Path, ignored: tuple[str, ...] = ()) -> LintResult:
    """Lint a folder with the reuse library, outside any version control (a staged release is
    what it is, whatever .gitignore says), and write its SPDX document. Files under the
    `ignored` folders (a download's own metadata) need no licensing."""
    from reuse.project import Project
    from reuse.report import ProjectReport
    from reuse.vcs import VCSStrategyNone

    strategy = VCSStrategyNone(folder)
    found = Project.find_global_licensing(folder, vcs_strategy=strategy)
    licensing = Project._global_licensing_from_found(found, str(folder)) if found else None
    project = Project(folder, vcs_strategy=strategy, global_licensing=licensing)
    project.licenses = project._find_licenses()  # as Project.from_directory does
    report = ProjectReport.generate(project, multiprocessing=False)
    summary = report.to_dict_lint()
    skipped = tuple(f"{folder / name}/" for name in ignored) + tuple(f"{name}/" for name in ignored)
    problems = {k: len([p for p in v if not _under(p, skipped)])
                for k, v in summary.get("non_compliant", {}).items() if v}
    problems = {k: n for k, n in problems.items() if n}
    return LintResult(bool(report.is_compliant) or (bool(ignored) and not problems), problems,
                      report.bill_of_materials(creator_organization="release"))


def _under(entry: object, prefixes: tuple[str, ...]) -> bool:
    """Whether a lint entry (a path, or a licence name) is a file under one of the folders."""
    return isinstance(entry, str) and entry.startswith(prefixes)


def reuse_lint(folder: Path) -> LintResult:
    """As reuse_report; raises IntegrityError when the folder is not compliant."""
    result = reuse_report(folder)
    if not result.compliant:
        raise IntegrityError(f"the staged release is not REUSE-compliant: {result.problems}",
                             path=folder)
    return result
