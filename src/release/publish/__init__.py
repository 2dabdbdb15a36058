"""Pushing a staged release that passed to a git remote or the Hugging Face Hub: one Publisher per
target, each owning its plan, push and read-back, registered here by its target name."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from release.errors import UsageError
from release.registry import Registry

if TYPE_CHECKING:
    from release.config import Config
    from release.publish.plan import Publisher

PublisherFactory = Callable[["Config"], "Publisher"]
PUBLISHERS: Registry[PublisherFactory] = Registry(__name__)


def register(target: str) -> Callable[[PublisherFactory], PublisherFactory]:
    """Make `release publish --to TARGET` use this factory (given the config, it returns the
    target's Publisher, or raises UsageError when the target is not configured)."""
    return PUBLISHERS.register(target)


def targets() -> tuple[str, ...]:
    """The names `--to` accepts."""
    return tuple(sorted(PUBLISHERS.names()))


def publisher_for(config: Config, target: str) -> Publisher:
    if target not in targets():
        raise UsageError(f"unknown publish target {target!r} (choose {', '.join(targets())})")
    return PUBLISHERS.get(target)(config)
