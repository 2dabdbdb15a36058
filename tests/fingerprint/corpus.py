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
                 sensitive_fields: tuple[str, ...] = ("name", "email")) -> Path:
    """A project with only a data source and a model folder; returns the config path. Records
    are written as they come (the benchmarks stream a million of them)."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "train.jsonl").open("w") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    (folder / "model").mkdir(exist_ok=True)
    (folder / "model" / "config.json").write_text("{}")
    config = folder / "release.toml"
    config.write_text(
        '[release]\nname = "m"\nversion = "1"\n[model]\npath = "model"\n'
        f'[checks]\nmin_match_words = {min_match_words}\n'
        '[[data.sources]]\npath = "train.jsonl"\nid_field = "id"\ntext_fields = ["text"]\n'
        f"sensitive_fields = {json.dumps(list(sensitive_fields))}\n")
    return config
