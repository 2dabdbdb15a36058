"""Pushing a staged release that passed to a git remote or the Hugging Face Hub: one Publisher per
target, each owning its plan, push and read-back, registered here by its target name."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import TYPE_CHECKING

from release.errors import UsageError

if TYPE_CHECKING:
    from release.config import Config
    from release.publish.plan import Publisher

PublisherFactory = Callable[["Config"], "Publisher"]
_FACTORIES: dict[str, PublisherFactory] = {}
_LOADED = False


def register(target: str) -> Callable[[PublisherFactory], PublisherFactory]:
    """Make `release publish --to TARGET` use this factory (given the config, it returns the
    target's Publisher, or raises UsageError when the target is not configured)."""

    def add(factory: PublisherFactory) -> PublisherFactory:
        _FACTORIES[target] = factory
        return factory

    return add


def _load_builtin() -> None:
    global _LOADED
    if not _LOADED:
        for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
            importlib.import_module(f"{__name__}.{module}")
        _LOADED = True


def targets() -> tuple[str, ...]:
    """The names `--to` accepts."""
    _load_builtin()
    return tuple(sorted(_FACTORIES))


def publisher_for(config: Config, target: str) -> Publisher:
    if target not in targets():
        raise UsageError(f"unknown publish target {target!r} (choose {', '.join(targets())})")
    return _FACTORIES[target](config)
