"""Tests for the detector registry: a detector written in this module alone joins every scan,
sees each shipped file once, reports on the run at the end, and leaves when unregistered."""

from __future__ import annotations

from collections.abc import Iterator

from release.config import load_config
from release.detectors import DetectionContext, FileDetector, registered
from release.findings import Finding, Rule, Severity
from release.pipeline.read import Artifact
from release.pipeline.scan import scan
from tests.conftest import Project

TOY = Rule("RL999", "toy-marker", Severity.WARNING, "A shipped file holds the toy marker.")
MARKER = b"TOY-MARKER"


class ToyDetector(FileDetector):
    """Flags files whose first bytes hold the marker."""

    def detect(self, artifact: Artifact) -> Iterator[Finding]:
        if MARKER in artifact.head:
            yield Finding(TOY, artifact.item.path, "holds the toy marker", basis="toy")


class CountingDetector:
    """Counts the files it was given and says so once the scan has seen them all."""

    def __init__(self, context: DetectionContext) -> None:
        self.paths: list[str] = []

    def detect(self, artifact: Artifact) -> tuple[Finding, ...]:
        self.paths.append(artifact.item.path)
        return ()

    def finish(self) -> list[Finding]:
        return [Finding(TOY, None, f"saw {len(self.paths)} files", basis="count",
                        evidence={"paths": sorted(self.paths)})]


def test_a_detector_defined_in_a_test_joins_the_scan(project: Project) -> None:
    (project.model / "notes.txt").write_text("a line with the TOY-MARKER in it\n")
    config = load_config(project.config)
    with registered(ToyDetector):
        report = scan(config).report
    toys = [f for f in report.findings if f.rule is TOY]
    assert [(f.path, f.effective_severity) for f in toys] == [("notes.txt", Severity.WARNING)]
    assert report.passed  # a warning, below fail_on
    assert not any(f.rule is TOY for f in scan(config).report.findings)  # gone again


def test_finish_reports_on_the_run_after_every_file(project: Project) -> None:
    config = load_config(project.config)
    with registered(CountingDetector):
        report = scan(config).report
    (finding,) = [f for f in report.findings if f.rule is TOY]
    assert finding.path is None
    assert finding.evidence["paths"] == sorted(f.path for f in report.files)
