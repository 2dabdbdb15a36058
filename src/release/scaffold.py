"""`release init`: finds a project's model folder, git repo, licence and data; writes a config."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from release.atomic import write_atomic
from release.card.sections import pipeline_tag_of
from release.config import DEFAULT_CONFIG_NAME, DataSource, parse_config
from release.config.parse import guess_format
from release.config.table import PLACEHOLDER_REQUIRED
from release.errors import ConfigError, InputError, UsageError, display_path
from release.pipeline.kinds import classify_kind, lower_suffix
from release.regular import open_regular, read_json_object, read_regular
from release.remote import SourcePath
from release.sources.profile import FieldProposal, profile_source, propose_fields

MAX_DEPTH = 4
SKIP_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "dist", "__pycache__", ".release",
                       ".tox", ".mypy_cache", ".pytest_cache"})
WEIGHT_GLOBS = ("*.safetensors", "*.bin", "*.pt", "*.pth", "*.gguf", "*.onnx", "*.h5")
LICENSE_NAMES = ("LICENSE", "LICENSE.md", "LICENSE.txt", "LICENCE", "LICENCE.md", "COPYING")
_SPDX_LINE = re.compile(r"SPDX-License-Identifier:\s*([A-Za-z0-9.+\-() ]+)")
# (SPDX id, phrases that must all appear), most specific first
_LICENSE_PHRASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("AGPL-3.0-only", ("gnu affero general public license", "version 3")),
    ("LGPL-3.0-only", ("gnu lesser general public license", "version 3")),
    ("GPL-3.0-only", ("gnu general public license", "version 3")),
    ("Apache-2.0", ("apache license", "version 2.0")),
    ("MPL-2.0", ("mozilla public license version 2.0",)),
    ("BSD-3-Clause", ("redistribution and use in source and binary forms", "neither the name")),
    ("BSD-2-Clause", ("redistribution and use in source and binary forms",)),
    ("ISC", ("permission to use, copy, modify, and/or distribute this software for any purpose",)),
    ("MIT", ("permission is hereby granted, free of charge",)),
    ("Unlicense", ("this is free and unencumbered software released into the public domain",)),
    ("CC0-1.0", ("cc0 1.0 universal",)),
)


def _toml(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _walk_dirs(root: Path) -> list[Path]:
    found = []
    for here, dirs, _files in os.walk(root):
        depth = len(Path(here).relative_to(root).parts)
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        if depth >= MAX_DEPTH:
            dirs[:] = []
        found.append(Path(here))
    return found


def find_model_folder(root: Path) -> Path | None:
    """The shallowest folder holding a config.json and weights, or weights alone."""
    candidates = []
    for folder in _walk_dirs(root):
        has_weights = any(any(folder.glob(g)) for g in WEIGHT_GLOBS)
        if has_weights:
            has_config = (folder / "config.json").is_file()
            candidates.append((not has_config, len(folder.parts), str(folder), folder))
    return min(candidates)[3] if candidates else None


def detect_license(root: Path) -> str | None:
    for name in LICENSE_NAMES:
        path = root / name
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")[:20000]
        match = _SPDX_LINE.search(text)
        if match:
            return match.group(1).strip()
        lowered = " ".join(text.lower().split())
        for spdx, phrases in _LICENSE_PHRASES:
            if all(p in lowered for p in phrases):
                return spdx
    return None


DATASET_MARKERS = (("dataset_dict.json",), ("dataset_info.json", "state.json"))


@dataclass(frozen=True)
class FoundData:
    """What init found of the training data: sources it can read, with the fields proposed
    from a sample (or why none could be), and data files it cannot read as a source."""

    sources: list[tuple[DataSource, FieldProposal | None, str]]  # source, proposal, what
    other_files: list[Path]


def _is_dataset_folder(folder: Path) -> bool:
    """A `datasets` folder written by save_to_disk (a Dataset, or a DatasetDict of splits)."""
    return any(all((folder / name).is_file() for name in names) for names in DATASET_MARKERS)


def _data_paths(root: Path, model: Path | None) -> list[Path]:
    """Data files and `datasets` folders under root (not inside the model folder), sorted."""
    found = []
    for here, dirs, files in os.walk(root):
        folder = Path(here)
        if model is not None and (folder == model or model in folder.parents):
            dirs[:] = []
            continue
        if folder != root and _is_dataset_folder(folder):
            found.append(folder)
            dirs[:] = []
            continue
        depth = len(folder.relative_to(root).parts)
        dirs[:] = [] if depth >= MAX_DEPTH else sorted(
            d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(files):
            path = folder / name
            if path.is_symlink() or not path.is_file():
                continue
            if classify_kind(name) == "data" or (lower_suffix(name) == ".json"
                                                 and _is_json_records(path)):
                found.append(path)
    return sorted(found)


def _is_json_records(path: Path) -> bool:
    from release.extract.sniff import HEAD_BYTES, text_format

    try:
        with open_regular(path) as handle:
            head = handle.read(HEAD_BYTES)
    except OSError:
        return False
    return text_format(head, len(head) < HEAD_BYTES) == "json-records"


def find_data(root: Path, model: Path | None) -> FoundData:
    """The training data under root, each readable source sampled to propose its fields."""
    sources: list[tuple[DataSource, FieldProposal | None, str]] = []
    other: list[Path] = []
    for path in _data_paths(root, model):
        fmt = guess_format(path)
        if fmt is None or (fmt == "json" and not path.is_dir() and not _is_json_records(path)):
            other.append(path)
            continue
        source = DataSource(path, fmt, None, None, (), "line")
        try:
            profile = profile_source(source)
        except InputError as exc:
            sources.append((source, None, exc.detail))
            continue
        sampled = f"{profile.records} records{'' if profile.complete else ' sampled'}"
        sources.append((source, propose_fields(profile), sampled))
    return FoundData(sources, other)


def _source_lines(source: DataSource, proposal: FieldProposal | None, root: Path
                  ) -> list[str]:
    lines = ["[[data.sources]]", f"path = {_toml(_relative(source.path, root))}",
             f"format = {_toml(source.format)}"]
    if proposal is None:
        return [*lines,
                "# could not be sampled: every field is indexed as text; name the id field "
                "and the sensitive ones",
                'sensitive_fields = ["TODO: the fields holding names, emails, record numbers"]',
                ""]
    if proposal.id_field:
        lines.append(f"id_field = {_toml(proposal.id_field)}")
    if proposal.text_fields:
        lines.append(f"text_fields = {_toml_list(proposal.text_fields)}"
                     "   # proposed: the fields of many words")
    else:
        lines.append("# text_fields: no field looks like free text, so every field is "
                     "indexed as text")
    note = ("   # proposed from field names and value shapes" if proposal.sensitive_fields
            else "   # none found by name or shape: add any holding names, emails, numbers")
    return [*lines, f"sensitive_fields = {_toml_list(proposal.sensitive_fields)}{note}", ""]


def _personal_data_lines(data: FoundData) -> list[str]:
    """personal_data = true when the sample showed names, emails or numbers of people."""
    if any(proposal is not None and proposal.sensitive_fields
           for _source, proposal, _what in data.sources):
        return ["personal_data = true                     # init found fields of personal "
                "data in the sources"]
    return ["# personal_data = false                 # does the data describe people?"]


def _toml_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(_toml(v) for v in values) + "]"


def _found_lines(found: FoundData, root: Path) -> list[str]:
    """What init says it found in the data: field names and counts, never a value."""
    lines = []
    for source, proposal, what in found.sources:
        where = f"data source {_relative(source.path, root)} ({source.format}"
        if proposal is None:
            lines.append(f"{where}): {what}; fields not proposed")
            continue
        lines.append(f"{where}, {what}; keep it out of git)")
        lines += [f"  {name}: {reason}" for name, reason in proposal.reasons.items()]
    lines += [f"data file {_relative(p, root)} (not a source format release reads; keep it out "
              "of git)" for p in found.other_files]
    return lines


def _relative(path: SourcePath, root: Path) -> str:
    if not isinstance(path, Path):
        return str(path)
    try:
        return path.relative_to(root).as_posix() or "."
    except ValueError:
        return path.as_posix()


def _pipeline_tag(model: Path) -> str | None:
    """The pipeline tag the model's config.json architecture implies, if it names one."""
    return pipeline_tag_of(read_json_object(model / "config.json") or {})


def render_config(root: Path) -> tuple[str, list[str], list[str]]:
    """The text of a commented release.toml for the project at `root`, what was found, and
    the data sources found inside it (relative posix paths), which git must never hold."""
    import git

    root = root.absolute()
    found: list[str] = []
    model = find_model_folder(root)
    license_id = detect_license(root)
    try:
        repo = git.Repo(root, search_parent_directories=True)
        repo_root = Path(repo.working_tree_dir or root)
        found.append(f"git repository at {display_path(repo_root)}")
        license_id = license_id or detect_license(repo_root)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        repo = None
    data = find_data(root, model)
    if model is not None:
        found.append(f"model folder {_relative(model, root)}")
    if license_id:
        found.append(f"licence {license_id}")
    found += _found_lines(data, root)
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", root.name).strip("-.") or "model"
    model_line = (f"path = {_toml(_relative(model, root))}" if model is not None
                  else 'path = "TODO: the folder with config.json and the weights"')
    if license_id:
        model_license = (f"license = {_toml(license_id)}                   # the licence found "
                         "in LICENSE; the model's must be OSI-approved (DUA-OAI §3(c))")
        code_license = f"license = {_toml(license_id)}"
    else:
        model_license = ('license = "TODO: the SPDX id of the model\'s OSI-approved licence, '
                         'e.g. Apache-2.0"')
        code_license = 'license = "TODO: the SPDX id of your code\'s licence, e.g. MIT"'
    code_note = ("# a git repo: its tracked files ship, minus exclude" if repo is not None else
                 "# not a git repo: every file under path ships, minus exclude")
    lines = [
        "# release.toml — written by `release init`; every key is documented in the README.",
        "# Relative paths are relative to this file. Every \"TODO\" value fails the gate "
        "until it is set.",
        "",
        "[release]",
        f"name = {_toml(name)}                # also the default Hugging Face repo id (org/name)",
        'version = "0.1.0"',
        'out = "dist"                             # staged release: dist/<name>-<version>/',
        "",
        "[model]",
        model_line,
        model_license,
        "# training state (checkpoint-*/, optimizer and RNG state, training_args.bin, logs) is "
        "left out;",
        "# include = [\"*.safetensors\", \"*.json\"]   # optional: only these files ship",
        "",
        "[code]",
        f'path = "."                               {code_note}',
        code_license,
        "# include = [\"src/**\", \"train.py\"]      # optional; default: everything",
        "exclude = []",
        'dest = "training"                        # folder inside the release',
        "",
        "[data]                                   # the confidential training data: read, "
        "never shipped",
        'index = ".release/index"                 # and its key .release/index.key: both kept '
        "out of git",
        "",
    ]
    for source, proposal, _what in data.sources:
        lines += _source_lines(source, proposal, root)
    if not data.sources:
        lines += [
            "[[data.sources]]",
            'path = "TODO: where the training data lives (a file, or a datasets folder)"',
            'sensitive_fields = ["TODO: the fields holding names, emails, record numbers"]',
            "",
        ]
    lines += [
        "[agreement]",
        'type = "DUA-OAI"',
        'data_provider = "TODO: the Data Provider"',
        'data_user = "TODO: your organisation"',
        'effective_date = "TODO: the date the agreement took effect, as YYYY-MM-DD without '
        'quotes"',
        "# term_end = 2027-01-15                  # default: effective_date + 1 year",
        *_personal_data_lines(data),
        "# data_description = \"What the data is, in words that quote none of it.\"",
        "",
        "# [agreement.privacy]                   # the techniques applied (DUA-OAI Attachment B)",
        "# pseudonymization = true",
        "",
        "[checks]",
        'fail_on = "error"                        # error | warning',
        "min_match_words = 12",
        "min_sensitive_chars = 6",
        "",
    ]
    tag = _pipeline_tag(model) if model is not None else None
    if tag is not None:
        found.append(f"pipeline tag {tag} (from config.json)")
        lines += ["[card]", f"pipeline_tag = {_toml(tag)}", ""]
    inside = [_relative(source.path, root) for source, _p, _w in data.sources
              if isinstance(source.path, Path) and root in source.path.parents]
    return "\n".join(lines), found, inside


IGNORED = ("/.release/", "/dist/")  # the index and its key; the staged releases


def ignore_outputs(directory: Path, data: Sequence[str] = ()) -> list[str]:
    """Add the index, its key, the staged output and the `data` found in the project to the
    .gitignore of `directory`, so that `git add -A` cannot commit them; the entries added."""
    path = directory / ".gitignore"
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise UsageError("is not a regular file; add /.release/ and /dist/ to it by hand",
                         path=path)
    text = read_regular(path).decode("utf-8", "replace") if path.exists() else ""
    present = {line.strip().strip("/") for line in text.splitlines()}
    wanted = [*IGNORED, *(f"/{_glob_literal(p)}" for p in data)]
    missing = [entry for entry in wanted if entry.strip("/") not in present]
    if missing:
        prefix = "" if not text or text.endswith("\n") else "\n"
        write_atomic(path, text + prefix + "# release: the fingerprint index, its secret key, "
                     "the staged releases and the confidential data\n"
                     + "".join(f"{e}\n" for e in missing))
    return missing


def _glob_literal(path: str) -> str:
    """A path as a .gitignore line that matches just it (wildcards and spaces escaped)."""
    return re.sub(r"([\\*?\[\]!# ])", r"\\\1", path)


def write_config(directory: Path, *, force: bool = False) -> tuple[Path, list[str]]:
    if not directory.is_dir():
        raise UsageError("is not a folder", path=directory)
    target = directory.absolute() / DEFAULT_CONFIG_NAME
    if target.exists() and not force:
        raise UsageError("already exists; pass --force to overwrite it", path=target)
    text, found, data = render_config(directory)
    try:
        parse_config(target, text)  # what we write must load, once its placeholders are set
    except ConfigError as exc:
        if exc.message != PLACEHOLDER_REQUIRED:
            raise
    write_atomic(target, text)
    added = ignore_outputs(directory.absolute(), data)
    if added:
        found.append(f"added {', '.join(added)} to .gitignore (the index key and the data must "
                     "never be committed)")
    return target, found
