"""Detects data files, by extension and by content."""

from __future__ import annotations

import zipfile
from pathlib import PurePosixPath

from release import rules
from release.detectors import Artifact, FileDetector, register
from release.extract.sniff import (
    COMPRESSIONS,
    DATA_FORMATS,
    decompress_head,
    magic_format,
    text_format,
)
from release.findings import Finding
from release.pipeline.kinds import DATA_SUFFIXES, classify_kind

MAX_ZIP_MEMBERS = 100_000
NO_TEXT_SNIFF_KINDS = frozenset({"code", "notebook", "tokenizer"})
KERAS_HDF5_MARKERS = (b"keras_version", b"model_config", b"layer_names")


def _is_keras_hdf5(head: bytes) -> bool:
    """An HDF5 file whose root attributes (stored near its start) are those Keras writes."""
    return any(marker in head for marker in KERAS_HDF5_MARKERS)


def _inner_head(artifact: Artifact, compression: str) -> bytes:
    return decompress_head(artifact.head, compression)


def _content_format(artifact: Artifact) -> str | None:
    """A data format recognised in the content, compressed or not; None when not data."""
    magic = magic_format(artifact.head, artifact.tail)
    if magic == "hdf5" and (artifact.item.kind == "weights" or _is_keras_hdf5(artifact.head)):
        return None  # Keras models and weights (tf_model.h5, *.weights.h5), checked for code
    if magic in DATA_FORMATS:
        return magic
    if magic in COMPRESSIONS:
        inner = _inner_head(artifact, magic)
        inner_magic = magic_format(inner, None)
        if inner_magic in DATA_FORMATS:
            return f"{inner_magic}+{magic}"
        shaped = text_format(inner, complete=False) if inner else None
        return f"{shaped}+{magic}" if shaped else None
    if magic is None and artifact.item.kind not in NO_TEXT_SNIFF_KINDS:
        return text_format(artifact.head, artifact.complete)
    return None


def _zip_names(artifact: Artifact) -> list[str] | None:
    try:
        with zipfile.ZipFile(artifact.item.source) as archive:
            names = []
            for info in archive.infolist():
                names.append(info.filename)
                if len(names) >= MAX_ZIP_MEMBERS:
                    break
            return names
    except (zipfile.BadZipFile, OSError, ValueError):
        return None


@register
class DataFiles(FileDetector):
    """Data files by extension or by content, and data members of zip archives."""

    def detect(self, artifact: Artifact) -> list[Finding]:
        return detect_data_file(artifact)


def file_format_findings(artifact: Artifact) -> list[Finding]:
    """What the format detector finds in one file (pickles and other code are found by
    extraction, at any depth: see detectors.hazards)."""
    return detect_data_file(artifact)


def _format_from_name(name: str) -> str:
    parts = [s.lstrip(".") for s in PurePosixPath(name.lower()).suffixes]
    data = [p for p in parts if f".{p}" in DATA_SUFFIXES or p in ("h5", "hdf5")]
    return data[-1] if data else (parts[-1] if parts else "unknown")


def detect_data_file(artifact: Artifact) -> list[Finding]:
    """A data file by extension or by content, or data members inside a zip archive."""
    item = artifact.item
    by_name = item.kind == "data"
    content = _content_format(artifact)
    findings = []
    if by_name or content:
        how = "+".join(w for w, hit in (("extension", by_name), ("content", content)) if hit)
        fmt = content or _format_from_name(item.path)
        findings.append(Finding(
            rules.DATA_FILE, item.path,
            f"is a data file ({fmt}, recognised by {how.replace('+', ' and ')}); training or "
            "evaluation data must not ship with the model",
            evidence={"format": fmt, "detected_by": how}, basis=fmt))
    if magic_format(artifact.head, artifact.tail) == "zip" and not (content or by_name):
        names = _zip_names(artifact) or []
        for name in names:
            if classify_kind(PurePosixPath(name).name) == "data":
                findings.append(Finding(
                    rules.DATA_FILE, item.path,
                    f"archive member is a data file ({_format_from_name(name)})",
                    member=name, evidence={"format": _format_from_name(name),
                                           "detected_by": "extension"},
                    basis="zip-member"))
    return findings
