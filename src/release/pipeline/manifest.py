"""release-manifest.json: sha256 and size of every staged file, and what it was built from."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from release import TOOL_NAME, __version__
from release.regular import read_regular

MANIFEST_NAME = "release-manifest.json"
# the report, as staged, inside the folder too: it travels with a publication, pinned by the
# manifest (report_sha256) like the files; the copy beside the folder also records publications
STAGED_REPORT_NAME = "release-report.json"
PLOT_NAME = "release-memorization.png"  # the memorisation audit's figure, for the card
AIBOM_NAME = "release-aibom.cdx.json"  # the AI bill of materials (CycloneDX 1.6 ML-BOM)
SIGNATURE_NAME = "model.sig"  # the OpenSSF Model Signing signature of every other file
GITATTRIBUTES = ".gitattributes"  # what a git or Hub publication adds to the tree
MANIFEST_VERSION = 1


class ManifestInvalid(Exception):
    """The manifest is missing or malformed; the message says which part."""


@dataclass(frozen=True)
class ManifestFile:
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    config_sha256: str
    report_sha256: str
    files: tuple[ManifestFile, ...]
    git_commit: str | None = None
    git_branch: str | None = None
    git_dirty: bool = False
    tool_version: str = __version__

    def to_dict(self) -> dict[str, Any]:
        return {
            "manifest_version": MANIFEST_VERSION,
            "name": self.name,
            "version": self.version,
            "tool": {"name": TOOL_NAME, "version": self.tool_version},
            "config_sha256": self.config_sha256,
            "report_sha256": self.report_sha256,
            "source": {"git_commit": self.git_commit, "git_branch": self.git_branch,
                       "git_dirty": self.git_dirty},
            "files": [{"path": f.path, "size": f.size, "sha256": f.sha256}
                      for f in sorted(self.files, key=lambda f: f.path)],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"


def _expect(data: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(key)
    if not isinstance(value, kind):
        raise ManifestInvalid(f"{key}: missing or of the wrong type")
    return value


def parse_manifest(text: bytes) -> Manifest:
    try:
        data = json.loads(text)
    except ValueError:
        raise ManifestInvalid("not valid JSON") from None
    if not isinstance(data, dict):
        raise ManifestInvalid("expected a JSON object")
    if data.get("manifest_version") != MANIFEST_VERSION:
        raise ManifestInvalid(f"manifest_version: expected {MANIFEST_VERSION}")
    source = data.get("source") or {}
    files = []
    for index, entry in enumerate(_expect(data, "files", list)):
        if not isinstance(entry, dict):
            raise ManifestInvalid(f"files[{index}]: expected an object")
        path = _expect(entry, "path", str)
        if path.startswith("/") or ".." in path.split("/") or not path:
            raise ManifestInvalid(f"files[{index}].path: not a relative path inside the release")
        files.append(ManifestFile(path, _expect(entry, "size", int), _expect(entry, "sha256", str)))
    tool = data.get("tool") or {}
    return Manifest(
        name=_expect(data, "name", str),
        version=_expect(data, "version", str),
        config_sha256=_expect(data, "config_sha256", str),
        report_sha256=_expect(data, "report_sha256", str),
        files=tuple(files),
        git_commit=source.get("git_commit"),
        git_branch=source.get("git_branch"),
        git_dirty=bool(source.get("git_dirty")),
        tool_version=str(tool.get("version", "")),
    )


def read_manifest(staged_dir: Path) -> Manifest:
    path = staged_dir / MANIFEST_NAME
    try:
        raw = read_regular(path)
    except FileNotFoundError:
        raise ManifestInvalid(f"{MANIFEST_NAME} is missing") from None
    except OSError as exc:
        raise ManifestInvalid(f"{MANIFEST_NAME} cannot be read ({exc.strerror})") from None
    return parse_manifest(raw)
