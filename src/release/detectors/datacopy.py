"""Detects shipped files that are byte-identical copies of a confidential data source: by
sha256 where the sources can be read, by the keyed digests the index recorded where not."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from release import rules
from release.config import DataSource
from release.detectors import DetectionContext, register
from release.findings import Finding
from release.fingerprint.index import SourceStamp, shipped_digest
from release.fingerprint.keys import IndexKey
from release.pipeline.read import Artifact, artifact_sha256
from release.remote import RemotePath, SourcePath, sha256_of

MAX_SOURCE_FILES = 100_000


@dataclass(frozen=True)
class SourceFile:
    key: str  # the config key of its source, e.g. data.sources[0]
    path: SourcePath
    size: int


def list_source_files(sources: Iterable[DataSource]) -> tuple[list[SourceFile], list[Finding]]:
    """Every file of every source (a dataset folder's files too) with its size; unreadable
    sources become findings, since copies of them could not be detected."""
    files: list[SourceFile] = []
    findings: list[Finding] = []
    for index, source in enumerate(sources):
        key = f"data.sources[{index}]"
        try:
            if source.path.is_dir():
                found = list(_folder_files(source.path))
            else:
                found = [(source.path, source.path.stat().st_size)]
            if not found:
                raise FileNotFoundError
            files.extend(SourceFile(key, path, size) for path, size in found)
        except OSError as exc:
            reason = "does not exist" if isinstance(exc, FileNotFoundError) else "cannot be read"
            findings.append(_unavailable(key, reason))
    return files, findings


def _unavailable(key: str, reason: str) -> Finding:
    return Finding(
        rules.DATA_SOURCE_UNAVAILABLE, None,
        f"{key}.path {reason}; shipped copies of it cannot be detected — run where the data "
        "lives", evidence={"source": key}, basis=key, config_key=f"{key}.path")


def _folder_files(folder: SourcePath) -> Iterable[tuple[SourcePath, int]]:
    if isinstance(folder, RemotePath):
        for found in itertools.islice(folder.rglob("*"), MAX_SOURCE_FILES):
            yield found, found.stat().st_size
        return
    count = 0
    for here, _dirs, names in os.walk(folder, followlinks=False):
        for name in sorted(names):
            path = Path(here) / name
            info = path.lstat()
            if path.is_file() and not path.is_symlink():
                count += 1
                if count > MAX_SOURCE_FILES:
                    return
                yield path, info.st_size


def by_size(source_files: Iterable[SourceFile]) -> dict[int, list[SourceFile]]:
    grouped: dict[int, list[SourceFile]] = {}
    for source in source_files:
        grouped.setdefault(source.size, []).append(source)
    return grouped


def find_copies(
    shipped: Iterable[tuple[str, int, str]], sources_by_size: dict[int, list[SourceFile]],
    digests: dict[SourcePath, str | None],
) -> list[Finding]:
    """Findings for shipped (path, size, sha256) equal to a source file; only source files
    whose size matches a shipped file are ever hashed, and each once (`digests` keeps them)."""
    findings = []
    for path, size, sha256 in shipped:
        for source in sources_by_size.get(size, []):
            if source.path not in digests:
                try:
                    digests[source.path] = sha256_of(source.path)
                except OSError:
                    digests[source.path] = None
                    findings.append(_unavailable(source.key, "cannot be read"))
            if digests[source.path] == sha256:
                findings.append(Finding(
                    rules.DATA_SOURCE_COPY, path,
                    f"is a byte-identical copy of confidential data ({source.key})",
                    evidence={"source": source.key, "sha256": sha256}, basis=source.key))
                break
    return findings


def find_copies_by_digest(shipped: Iterable[tuple[str, str]], stamps: list[SourceStamp],
                          key: IndexKey) -> list[Finding]:
    """Where the sources are not readable (CI), compare with the keyed file digests that the
    index recorded when it was built."""
    wanted = {digest: stamp.key for stamp in stamps for _size, digest in stamp.files}
    findings = []
    for path, sha256 in shipped:
        source = wanted.get(shipped_digest(key, sha256))
        if source is not None:
            findings.append(Finding(
                rules.DATA_SOURCE_COPY, path,
                f"is a byte-identical copy of confidential data ({source}, by index digest)",
                evidence={"source": source, "sha256": sha256}, basis=source))
    return findings


@register
def data_copies(context: DetectionContext) -> DataCopies | None:
    return DataCopies(context) if context.index is not None else None


class DataCopies:
    """Copies of the data sources among the shipped files; sources that cannot be read and that
    the index does not cover either are findings of the run."""

    def __init__(self, context: DetectionContext) -> None:
        index = context.index
        assert index is not None
        self.key = index.key
        source_files, unavailable = list_source_files(context.data.sources)
        self.by_size = by_size(source_files)
        self.sizes = set(self.by_size)
        self.sizes |= {size for stamp in index.meta.sources for size, _digest in stamp.files}
        missing = {f.evidence.get("source") for f in unavailable}
        covered = {stamp.key for stamp in index.meta.sources}
        self.uncovered = [f for f in unavailable if f.evidence.get("source") not in covered]
        self.absent = [stamp for stamp in index.meta.sources if stamp.key in missing]
        self.digests: dict[SourcePath, str | None] = {}

    def detect(self, artifact: Artifact) -> list[Finding]:
        """Only a file whose size matches a source file's can be a copy: only those are
        hashed (a fast scan has not hashed the others)."""
        if artifact.size not in self.sizes:
            return []
        path, sha256 = artifact.item.path, artifact.sha256 or artifact_sha256(artifact)
        findings = find_copies([(path, artifact.size, sha256)], self.by_size, self.digests)
        return findings + find_copies_by_digest([(path, sha256)], self.absent, self.key)

    def finish(self) -> list[Finding]:
        return self.uncovered
