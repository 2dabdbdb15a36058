"""A seeded synthetic corpus for index tests: long records over a known vocabulary."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from pathlib import Path

CORPUS_WORDS = [f"{a}{b}{c}" for a in "bcdfg" for b in "aeiou" for c in "lmnprst"]  # 175
FILLER_WORDS = [f"zz{a}{b}" for a in "aeiouy" for b in "klmnqrvwx"]  # never in records


def make_records(count: int = 300, seed: int = 7) -> list[dict[str, str]]:
    rng = random.Random(seed)
    return [
        {"id": f"doc-{i:04d}",
         "text": " ".join(rng.choice(CORPUS_WORDS) for _ in range(rng.randint(30, 90))),
         "name": f"Quorra Testington{i}",
         "email": f"quorra.t{i}@hospital.invalid"}
        for i in range(count)
    ]


def write_corpus(folder: Path, records: Iterable[dict[str, str]], *, min_match_words: int = 12,
                 sensitive_fields: tuple[str, ...] = ("name", "email"), sources: int = 1,
                 build_memory: str | None = None) -> Path:
    """A project with only data sources (`sources` JSON Lines files, the records dealt out
    in turn) and a model folder; returns the config path. Records are written as they come
    (the benchmarks stream a million of them)."""
    folder.mkdir(parents=True, exist_ok=True)
    names = ["train.jsonl"] + [f"train{n}.jsonl" for n in range(1, sources)]
    handles = [(folder / name).open("w") for name in names]
    try:
        for number, record in enumerate(records):
            handles[number % sources].write(json.dumps(record) + "\n")
    finally:
        for handle in handles:
            handle.close()
    (folder / "model").mkdir(exist_ok=True)
    (folder / "model" / "config.json").write_text("{}")
    config = folder / "release.toml"
    memory = f'[data]\nbuild_memory = "{build_memory}"\n' if build_memory else ""
    config.write_text(
        '[release]\nname = "m"\nversion = "1"\n[model]\npath = "model"\n'
        f'[checks]\nmin_match_words = {min_match_words}\n{memory}' + "".join(
            f'[[data.sources]]\npath = "{name}"\nid_field = "id"\ntext_fields = ["text"]\n'
            f"sensitive_fields = {json.dumps(list(sensitive_fields))}\n" for name in names))
    return config
