"""What release may replace: only what it wrote itself, told by its content (an index's meta.json,
a staged release's manifest, a report's schema), never a path a config value happens to name."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

from release import TOOL_NAME
from release.errors import ConfigError, display_path
from release.regular import open_regular, read_json_object

MAX_MARKER_BYTES = 1 << 20


def _json_object(path: Path) -> dict[str, object] | None:
    """A small regular file's JSON object, or None."""
    return read_json_object(path, MAX_MARKER_BYTES)


def is_index_folder(path: Path) -> bool:
    """A fingerprint index folder: its meta.json names a format, a key id and parameters."""
    meta = _json_object(path / "meta.json")
    return meta is not None and {"format", "key_id", "params"} <= set(meta)


def is_staged_release(path: Path) -> bool:
    """A staged release folder: its manifest was written by release."""
    manifest = _json_object(path / "release-manifest.json") or {}
    tool = manifest.get("tool")
    return isinstance(tool, dict) and tool.get("name") == TOOL_NAME and "files" in manifest


def is_release_report(path: Path) -> bool:
    report = _json_object(path) or {}
    tool = report.get("tool")
    return isinstance(tool, dict) and tool.get("name") == TOOL_NAME and "schema_version" in report


def is_spdx_document(path: Path) -> bool:
    """An SPDX document that release wrote beside a staged release."""
    if path.is_symlink():
        return False
    try:
        with open_regular(path) as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return head.startswith(b"SPDXVersion: SPDX-") and b"Creator: Organization: release" in head


def require_replaceable(path: Path, ours: Callable[[Path], bool], *, config_path: Path,
                        key: str, what: str) -> None:
    """Refuse (exit 2, naming the key and the path) to write over `path` when something is
    there that is not `what` release wrote: a config value must never make it delete data."""
    if not (path.exists() or path.is_symlink()):
        return
    if path.is_symlink() or not ours(path):
        raise ConfigError(config_path, key,
                          f"{display_path(path)} already exists and is not {what} written by "
                          "release; release replaces only what it wrote itself: choose another "
                          "path or move that one away")


def _leftover_pattern(name: str) -> re.Pattern[str]:
    """The names release gives its scratch beside `name`: `.NAME.XXXXXXXX.partial` (a build
    folder or a file being written) and `.NAME.old-XXXXXXXX` (the one being replaced)."""
    return re.compile(rf"\.{re.escape(name)}\.(?:[a-z0-9_]{{8}}\.partial|old-[0-9a-f]{{8}})")


def clean_leftovers(final: Path) -> list[str]:
    """Remove what a run that was killed left beside `final`; the names removed."""
    pattern = _leftover_pattern(final.name)
    removed: list[str] = []
    try:
        entries = list(final.parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if not pattern.fullmatch(entry.name):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry.name)
    return removed
