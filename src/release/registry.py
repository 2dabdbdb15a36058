"""Registries that the modules of one package join by themselves: named entries, loaded on
first use by importing every module of the package (so a new module needs no edit elsewhere)."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries by name, in the order they were added."""

    def __init__(self, package: str) -> None:
        self.package = package
        self._entries: dict[str, T] = {}
        self._loaded = False

    def add(self, name: str, entry: T) -> T:
        self._entries[name] = entry
        return entry

    def register(self, *names: str) -> Callable[[T], T]:
        """A decorator adding its function or class under each name (its own without any)."""

        def add(entry: T) -> T:
            for name in names or (getattr(entry, "__qualname__", repr(entry)),):
                self.add(name, entry)
            return entry

        return add

    @contextmanager
    def added(self, name: str, entry: T) -> Iterator[T]:
        """An entry for a while (a test's own)."""
        self.add(name, entry)
        try:
            yield entry
        finally:
            self._entries.pop(name, None)

    def _load(self) -> None:
        if not self._loaded:
            package = importlib.import_module(self.package)
            for module in sorted(m.name for m in pkgutil.iter_modules(package.__path__)):
                importlib.import_module(f"{self.package}.{module}")
            self._loaded = True

    def names(self) -> tuple[str, ...]:
        self._load()
        return tuple(self._entries)

    def entries(self) -> list[T]:
        self._load()
        return list(self._entries.values())

    def get(self, name: str) -> T:
        self._load()
        return self._entries[name]
