"""Reduces every shipped file to located text segments; what cannot be reduced is a Problem.
One extractor per format the sniffer tells (`extract.sniff.extraction_format`), registered in
EXTRACTORS by the module that reads it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from release.pipeline.kinds import classify_kind
from release.registry import Registry

MAX_DEPTH = 4  # archives inside archives
MAX_MEMBERS = 10_000  # per archive
MAX_EXPANDED_BYTES = 4 << 30  # decompressed bytes per shipped file, all members together
MAX_RATIO = 200  # decompressed / compressed size above which an archive is a bomb
RATIO_FLOOR = 16 << 20  # ratios only count once this much has been decompressed
MAX_STRUCTURED_BYTES = 256 << 20  # JSON/YAML/notebooks/pickles parsed whole up to this size
MAX_TENSOR_BYTES = 64 << 20  # integer tensors read as text up to this size each
TEXT_PIECE_CHARS = 1 << 20  # long text is matched in pieces of this size...
PIECE_OVERLAP_CHARS = 16 << 10  # ...overlapping by this much, so no run is cut


@dataclass(frozen=True)
class Segment:
    """A piece of text found in a file: where (member) and on which line it starts. Plain
    UTF-8 text files come as bytes (matched without decoding); everything else as str."""

    text: str | bytes
    member: str | None = None
    line: int | None = None  # line of the file on which `text` starts, when meaningful


@dataclass(frozen=True)
class Problem:
    """Part of a file that could not be reduced to text (fail closed: becomes a finding)."""

    reason: str
    member: str | None = None
    bomb: bool = False


@dataclass(frozen=True)
class Hazard:
    """Part of a file that would run code when it is loaded, or bytes hidden from the checks:
    a pickle ("pickle", with the globals it imports), code in a model format ("code": a Keras
    Lambda layer, a TensorFlow op, a template), bytes after a format's end ("trailing-data"),
    an encrypted archive ("encrypted") or a reference out of the model folder
    ("external-path"). `names` lists what was found (globals, ops, layers), never data."""

    kind: str
    format: str
    member: str | None = None
    names: tuple[str, ...] = ()
    dangerous: tuple[str, ...] = ()
    offset: int | None = None
    length: int | None = None


HAZARD_KINDS = frozenset({"pickle", "code", "trailing-data", "encrypted", "external-path"})

Extracted = Segment | Problem | Hazard


class BombError(Exception):
    """Expansion limits were exceeded."""


@dataclass
class Budget:
    """Decompressed bytes allowed for one shipped file, shared by all nested members."""

    compressed: int
    expanded: int = 0
    limit: int = MAX_EXPANDED_BYTES

    def spend(self, amount: int) -> None:
        self.expanded += amount
        if self.expanded > self.limit:
            raise BombError(f"expands past {self.limit >> 20} MiB")
        if self.expanded > RATIO_FLOOR and self.expanded > MAX_RATIO * max(self.compressed, 1):
            raise BombError(f"expands more than {MAX_RATIO}x its size")


@dataclass
class Context:
    """Where in the file we are: the member path so far, nesting depth, the shared budget."""

    name: str  # file or member name, for format decisions
    kind: str
    budget: Budget
    member: str | None = None
    depth: int = 0
    tokenizer: bool = field(default=False)
    source: Path | None = None  # the shipped file on disk, for the file itself, not members

    def child(self, name: str, member: str) -> Context:
        joined = f"{self.member}/{member}" if self.member else member
        return Context(name=PurePosixPath(name).name, kind=classify_kind(PurePosixPath(name).name),
                       budget=self.budget, member=joined, depth=self.depth + 1)

    def at(self, sub: str) -> str:
        return f"{self.member}:{sub}" if self.member else sub


@dataclass(frozen=True)
class Sniffed:
    """What the sniffer saw of a stream: the format it told, and the bytes it looked at."""

    format: str
    head: bytes
    tail: bytes


# reads a seekable stream of `size` bytes in the format it was sniffed as
Extractor = Callable[[IO[bytes], int, Context, Sniffed], Iterator[Extracted]]
EXTRACTORS: Registry[Extractor] = Registry(__name__)


def extractor(*formats: str) -> Callable[[Extractor], Extractor]:
    """Register the decorated function as the extractor of these sniffed formats."""
    return EXTRACTORS.register(*formats)


def extract_file(path: Path, name: str, kind: str, size: int) -> Iterator[Extracted]:
    """Every text segment of a shipped file, and a Problem for anything that was not text."""
    from release.extract.stream import extract_path

    context = Context(name=name, kind=kind, budget=Budget(compressed=size), source=path)
    try:
        yield from extract_path(path, context)
    except BombError as exc:
        yield Problem(f"archive limit: {exc}; not scanned further", context.member, bomb=True)
    except MemoryError:
        raise  # the machine's fault, not the file's
    except Exception as exc:  # fail closed, per file: whatever a malformed file makes a reader
        # raise is a finding on that file (the type only: a message could quote its content)
        yield Problem(f"could not be read to its end ({type(exc).__name__}); the rest of it "
                      "was not scanned", None)
