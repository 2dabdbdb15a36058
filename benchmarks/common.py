"""Shared helpers for the benchmarks: corpora from real local text, projects, timing."""

from __future__ import annotations

import gzip
import itertools
import random
import re
import sys
import sysconfig
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for tests/
from tests.fingerprint.corpus import write_corpus

T = TypeVar("T")
WORD = re.compile(r"[A-Za-z]{2,}")


def stdlib_files() -> list[Path]:
    """Python's own library sources: real English prose (docstrings, comments) and code."""
    lib = Path(sysconfig.get_paths()["stdlib"])
    return sorted(p for p in lib.rglob("*.py")
                  if "site-packages" not in p.parts and "test" not in p.parts)


def doc_texts(limit_bytes: int) -> Iterator[str]:
    """Debian's package documentation (changelogs, copyright files, READMEs): real text that
    has nothing to do with Python's library."""
    total = 0
    for path in sorted(Path("/usr/share/doc").rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        try:
            raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        except (OSError, EOFError):
            continue
        if b"\0" in raw[:4096]:
            continue
        text = raw.decode("utf-8", errors="replace")
        total += len(text)
        yield text
        if total >= limit_bytes:
            return


def vocabulary() -> list[str]:
    words: dict[str, None] = {}
    for path in stdlib_files()[:400]:
        for word in WORD.findall(path.read_text(errors="replace")):
            words.setdefault(word.lower(), None)
    return list(words)


def synthetic_records(count: int, seed: int = 0, words: list[str] | None = None
                      ) -> Iterator[dict[str, str]]:
    """Records of 25-60 words drawn from a real vocabulary (Zipf-like), with ids."""
    rng = random.Random(seed)
    vocab = words or vocabulary()
    cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(vocab))))
    for number in range(count):
        length = rng.randint(25, 60)
        words = rng.choices(vocab, cum_weights=cumulative, k=length)
        yield {"id": f"r{number}", "text": " ".join(words),
               "name": f"Person{number} Example", "email": f"p{number}@example.invalid"}


def write_project(folder: Path, records: Iterable[dict[str, str]], *,
                  min_match_words: int = 12,
                  sensitive_fields: tuple[str, ...] = ("name", "email")) -> Path:
    """A project with a data source and a model folder: the test suite's own corpus writer
    (name only sensitive fields the records have: naming absent ones is an error)."""
    return write_corpus(folder, records, min_match_words=min_match_words,
                        sensitive_fields=sensitive_fields)


def timed(func: Callable[[], T], repeat: int = 1) -> tuple[float, T]:
    best = float("inf")
    result: T
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def say(line: str) -> None:
    print(line, flush=True)
    sys.stdout.flush()
