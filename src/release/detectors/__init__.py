"""File-level detectors: each takes an artifact read once and returns findings, never prints."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from release.findings import Finding
from release.pipeline.inventory import Item


@dataclass(frozen=True)
class Artifact:
    """A shipped file as read once: its item, size, sha256 (None when a fast scan did not read
    the whole file) and the bytes sniffers look at."""

    item: Item
    size: int
    sha256: str | None
    head: bytes
    tail: bytes

    @property
    def complete(self) -> bool:
        """Whether `head` holds the whole file."""
        return len(self.head) >= self.size


FileDetector = Callable[[Artifact], list[Finding]]


def file_detectors() -> tuple[FileDetector, ...]:
    """Every detector run on each readable shipped file, in order."""
    from release.detectors.formats import detect_data_file, detect_unsafe_serialization

    return (detect_unsafe_serialization, detect_data_file)


def run_file_detectors(artifact: Artifact) -> list[Finding]:
    findings: list[Finding] = []
    for detector in file_detectors():
        findings.extend(detector(artifact))
    return findings
