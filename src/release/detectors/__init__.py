"""The detector registry: every module of this package registers its detectors, which return
findings and never print. To add one, write a module here with a class that has
`detect(artifact)` and `finish()` and decorate its factory with `@register`."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from release.config import CheckSettings, DataSettings
from release.findings import Finding
from release.fingerprint.index import LoadedIndex
from release.fingerprint.match import Matcher
from release.pipeline.read import Artifact
from release.pipeline.workers import Workers

__all__ = ["Artifact", "DetectionContext", "Detector", "FileDetector", "create_detectors",
           "register", "registered"]


@dataclass(frozen=True)
class DetectionContext:
    """What a scan gives its detectors: the settings they read, the loaded index and its
    matcher (None when no data sources are configured), and the threads they may use."""

    config_path: Path
    data: DataSettings
    checks: CheckSettings
    index: LoadedIndex | None
    matcher: Matcher | None
    workers: Workers
    hash_files: bool  # False for the fast scan: only possible copies of the data are hashed


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
_FACTORIES: list[DetectorFactory] = []
_LOADED = False


def register(factory: DetectorFactory) -> DetectorFactory:
    """Add a detector factory (a class taking the context, or a function) to every scan."""
    _FACTORIES.append(factory)
    return factory


@contextmanager
def registered(factory: DetectorFactory) -> Iterator[DetectorFactory]:
    """`register` for a while (a test's own detector)."""
    _FACTORIES.append(factory)
    try:
        yield factory
    finally:
        _FACTORIES.remove(factory)


def _load_builtin() -> None:
    """Import every module of this package, so that each registers its detectors."""
    global _LOADED
    if not _LOADED:
        for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
            importlib.import_module(f"{__name__}.{module}")
        _LOADED = True


def create_detectors(context: DetectionContext) -> list[Detector]:
    """A fresh detector of every registered kind that applies to this scan, in order."""
    _load_builtin()
    created = (factory(context) for factory in list(_FACTORIES))
    return [detector for detector in created if detector is not None]
