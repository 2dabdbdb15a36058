"""`release init`: finds a project's model folder, git repo, licence and data; writes a config."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from release.atomic import write_atomic
from release.config import DEFAULT_CONFIG_NAME, parse_config
from release.errors import UsageError, display_path
from release.pipeline.kinds import classify_kind

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


def find_data_files(root: Path, model: Path | None) -> list[Path]:
    files = []
    for folder in _walk_dirs(root):
        if model is not None and (folder == model or model in folder.parents):
            continue
        for path in sorted(folder.iterdir()):
            if path.is_file() and classify_kind(path.name) == "data":
                files.append(path)
    return files


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix() or "."
    except ValueError:
        return path.as_posix()


def render_config(root: Path) -> tuple[str, list[str]]:
    """The text of a commented release.toml for the project at `root`, and what was found."""
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
    data_files = find_data_files(root, model)
    if model is not None:
        found.append(f"model folder {_relative(model, root)}")
    if license_id:
        found.append(f"licence {license_id}")
    for path in data_files:
        found.append(f"data file {_relative(path, root)} (confidential? keep it out of git)")
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", root.name).strip("-.") or "model"
    model_line = (f"path = {_toml(_relative(model, root))}" if model is not None
                  else 'path = "outputs/final"               # TODO: the folder with config.json '
                  "and weights")
    code_license = _toml(license_id) if license_id else '"MIT"   # TODO: the licence of your code'
    code_note = ("# a git repo: its tracked files ship, minus exclude" if repo is not None else
                 "# not a git repo: every file under path ships, minus exclude")
    lines = [
        "# release.toml — written by `release init`; every key is documented in the README.",
        "# Relative paths are relative to this file.",
        "",
        "[release]",
        f"name = {_toml(name)}                # also the default Hugging Face repo id (org/name)",
        'version = "0.1.0"',
        'out = "dist"                             # staged release: dist/<name>-<version>/',
        "",
        "[model]",
        model_line,
        'license = "Apache-2.0"                   # TODO: SPDX licence of the trained model '
        "(OSI-approved under DUA-OAI)",
        "",
        "[code]",
        f'path = "."                               {code_note}',
        f"license = {code_license}",
        "# include = [\"src/**\", \"train.py\"]      # optional; default: everything",
        "exclude = []",
        'dest = "training"                        # folder inside the release',
        "",
        "[data]                                   # the confidential training data: read, "
        "never shipped",
        'index = ".release/index"',
        "",
    ]
    if data_files:
        for path in data_files:
            lines += [
                "[[data.sources]]",
                f"path = {_toml(_relative(path, root))}",
                "# text_fields = [\"note\"]                 # TODO: the free-text fields; "
                "left out, every field is indexed as text",
                "sensitive_fields = []                    # TODO: names, emails, record numbers",
                "",
            ]
    else:
        lines += [
            "[[data.sources]]",
            'path = "/path/to/confidential/train.jsonl"   # TODO: where the training data lives',
            'format = "jsonl"',
            'text_fields = ["text"]                       # TODO',
            "sensitive_fields = []",
            "",
        ]
    lines += [
        "[agreement]",
        'type = "DUA-OAI"',
        'data_provider = "TODO: the Data Provider"',
        'data_user = "TODO: your organisation"',
        "",
        "[checks]",
        'fail_on = "error"                        # error | warning',
        "min_match_words = 12",
        "min_sensitive_chars = 6",
        "",
    ]
    return "\n".join(lines), found


def write_config(directory: Path, *, force: bool = False) -> tuple[Path, list[str]]:
    if not directory.is_dir():
        raise UsageError("is not a folder", path=directory)
    target = directory.absolute() / DEFAULT_CONFIG_NAME
    if target.exists() and not force:
        raise UsageError("already exists; pass --force to overwrite it", path=target)
    text, found = render_config(directory)
    parse_config(target, text)  # what we write must load
    write_atomic(target, text)
    return target, found
