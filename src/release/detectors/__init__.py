"""The detector registry: every module of this package registers its detectors, which return
findings and never print. To add one, write a module here with a class that has
`detect(artifact)` and `finish()` and decorate its factory with `@register`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from release.config import CheckSettings, DataSettings
from release.findings import Finding
from release.fingerprint.index import LoadedIndex
from release.fingerprint.match import Matcher
from release.pipeline.read import Artifact
from release.pipeline.workers import Workers
from release.registry import Registry

__all__ = ["Artifact", "DetectionContext", "Detector", "FileDetector", "create_detectors",
           "register", "registered"]


@dataclass(frozen=True)
class DetectionContext:
    """What a scan gives its detectors: the settings they read, the loaded index and its
    matcher (None when no data sources are configured), and the threads they may use."""

    config_path: Path
    data: DataSettings
    checks: CheckSettings
    matcher: Matcher | None
    workers: Workers

    @property
    def index(self) -> LoadedIndex | None:
        return self.matcher.index if self.matcher is not None else None


class Detector(Protocol):
    """Findings about each shipped file as it is read (`detect`, in shipping order; the result
    may be computed lazily, so iterate it only after the next artifact has been given), and
    about the run as a whole once every file was seen (`finish`)."""

    def detect(self, artifact: Artifact) -> Iterable[Finding]: ...

    def finish(self) -> Iterable[Finding]: ...


class FileDetector:
    """A detector that looks at each file on its own and has nothing to say about the run:
    subclasses define `detect`; registered as they are, they are built with the context."""

    def __init__(self, context: DetectionContext) -> None:
        self.context = context

    def detect(self, artifact: Artifact) -> Iterable[Finding]:
        raise NotImplementedError

    def finish(self) -> Iterable[Finding]:
        return ()


DetectorFactory = Callable[[DetectionContext], Detector | None]  # None: nothing to check here
DETECTORS: Registry[DetectorFactory] = Registry(__name__)


def register(factory: DetectorFactory) -> DetectorFactory:
    """Add a detector factory (a class taking the context, or a function) to every scan."""
    return DETECTORS.register()(factory)


def registered(factory: DetectorFactory) -> AbstractContextManager[DetectorFactory]:
    """`register` for a while (a test's own detector)."""
    return DETECTORS.added(factory.__qualname__, factory)


def create_detectors(context: DetectionContext) -> list[Detector]:
    """A fresh detector of every registered kind that applies to this scan, in order."""
    created = (factory(context) for factory in DETECTORS.entries())
    return [detector for detector in created if detector is not None]
