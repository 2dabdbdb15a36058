"""Detects data files (by extension and by content) and pickle-based serialisation."""

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
from release.pipeline.kinds import DATA_SUFFIXES, classify_kind, lower_suffix

MAX_ZIP_MEMBERS = 100_000
PICKLE_SUFFIXES = frozenset({".pkl", ".pickle", ".joblib"})
NO_TEXT_SNIFF_KINDS = frozenset({"code", "notebook", "tokenizer"})
SAFETENSORS_ADVICE = (
    "loading it runs arbitrary code; convert it to safetensors "
    "(safetensors.torch.save_file) and ship that instead"
)


def _inner_head(artifact: Artifact, compression: str) -> bytes:
    return decompress_head(artifact.head, compression)


def _content_format(artifact: Artifact) -> str | None:
    """A data format recognised in the content, compressed or not; None when not data."""
    magic = magic_format(artifact.head, artifact.tail)
    if magic == "hdf5" and artifact.item.kind == "weights":
        return None  # Keras weights (tf_model.h5, *.weights.h5)
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


def _unreadable_zip(artifact: Artifact) -> Finding:
    return Finding(rules.UNREADABLE_FILE, artifact.item.path,
                   "zip archive is corrupt; its members could not be checked", basis="zip")


@register
class UnsafeSerialization(FileDetector):
    """Pickles, compressed pickles (joblib) and torch zip checkpoints."""

    def detect(self, artifact: Artifact) -> list[Finding]:
        return detect_unsafe_serialization(artifact)


@register
class DataFiles(FileDetector):
    """Data files by extension or by content, and data members of zip archives."""

    def detect(self, artifact: Artifact) -> list[Finding]:
        return detect_data_file(artifact)


def file_format_findings(artifact: Artifact) -> list[Finding]:
    """What the format detectors find in one file."""
    return [*detect_unsafe_serialization(artifact), *detect_data_file(artifact)]


def detect_unsafe_serialization(artifact: Artifact) -> list[Finding]:
    """Pickles, compressed pickles (joblib) and torch zip checkpoints."""
    path = artifact.item.path
    magic = magic_format(artifact.head, artifact.tail)
    if magic == "pickle":
        return [Finding(rules.UNSAFE_SERIALIZATION, path, f"is a pickle; {SAFETENSORS_ADVICE}",
                        evidence={"format": "pickle"}, basis="pickle")]
    if magic in COMPRESSIONS and magic_format(_inner_head(artifact, magic), None) == "pickle":
        return [Finding(rules.UNSAFE_SERIALIZATION, path,
                        f"is a {magic}-compressed pickle; {SAFETENSORS_ADVICE}",
                        evidence={"format": f"pickle+{magic}"}, basis="pickle")]
    if magic == "zip":
        names = _zip_names(artifact)
        if names is None:
            return [_unreadable_zip(artifact)]
        findings = []
        for name in names:
            if lower_suffix(name) in PICKLE_SUFFIXES:
                torch = PurePosixPath(name).name == "data.pkl"
                what = "a torch checkpoint (zip with a pickle)" if torch else "a pickle member"
                findings.append(Finding(
                    rules.UNSAFE_SERIALIZATION, path, f"holds {what}; {SAFETENSORS_ADVICE}",
                    member=name, evidence={"format": "torch-zip" if torch else "pickle"},
                    basis="zip-pickle"))
        return findings
    if lower_suffix(path) in PICKLE_SUFFIXES:
        return [Finding(rules.UNSAFE_SERIALIZATION, path,
                        f"is named as a pickle; {SAFETENSORS_ADVICE}",
                        evidence={"format": "pickle"}, basis="pickle")]
    return []


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
