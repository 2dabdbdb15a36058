"""The index trade-off curve: size per corpus byte, build speed, guaranteed run length, and
hits on unrelated real text (shared runs of the guarantee, shorter shared runs, chance), for
several guarantees.

Corpus: Python's own library sources cut into records (real prose and code).
Unrelated text: Debian's package documentation. Both are on every machine this runs on.

Usage: python benchmarks/index_tradeoff.py [--corpus-mb 24] [--unrelated-mb 16]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import tempfile
from pathlib import Path

import numpy as np
from common import doc_texts, say, stdlib_files, timed, write_project

from release.config import load_config
from release.fingerprint.build import build_index
from release.fingerprint.index import index_size, load_index
from release.fingerprint.kernels.reference import gram_hashes
from release.fingerprint.keys import IndexKey
from release.fingerprint.match import Matcher
from release.fingerprint.tokens import WordPlaces, normalize, tokenize

LINES_PER_RECORD = 40
PLANTS = 100


def corpus_records(megabytes: int) -> list[dict[str, str]]:
    records, total = [], 0
    for path in stdlib_files():
        lines = path.read_text(errors="replace").splitlines()
        for start in range(0, len(lines), LINES_PER_RECORD):
            text = "\n".join(lines[start: start + LINES_PER_RECORD])
            records.append({"id": f"{path.name}:{start}", "text": text})
            total += len(text)
            if total >= megabytes << 20:
                return records
    return records


def true_grams(records: list[dict[str, str]], length: int) -> np.ndarray:
    parts = [gram_hashes(tokenize(normalize(r["text"])).hashes, length) for r in records]
    return np.unique(np.concatenate(parts))


def contains_any(truth: np.ndarray, grams: np.ndarray) -> bool:
    if truth.size == 0 or grams.size == 0:
        return False
    slots = np.minimum(np.searchsorted(truth, grams), truth.shape[0] - 1)
    return bool((truth[slots] == grams).any())


def planted_text(records: list[dict[str, str]], unrelated: list[str], guarantee: int,
                 rng: random.Random) -> tuple[list[str], set[int]]:
    """The unrelated texts with PLANTS slices of exactly `guarantee` words (upper-cased) as
    pieces of their own; returns the pieces and which of them are plants."""
    pieces: list[str] = []
    plants: set[int] = set()
    for text in unrelated:
        pieces.append(text)
        record = rng.choice(records)["text"].encode("utf-8", errors="surrogatepass")
        places = WordPlaces(record)
        if len(plants) < PLANTS and len(places) >= guarantee:
            start = rng.randint(0, len(places) - guarantee)
            plants.add(len(pieces))
            begin, end = places.span(np.array([start]), np.array([start + guarantee - 1]))
            plant = record[int(begin[0]): int(end[0])]
            pieces.append(plant.decode("utf-8", errors="replace").upper())
    return pieces, plants


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus-mb", type=int, default=24)
    parser.add_argument("--unrelated-mb", type=int, default=16)
    parser.add_argument("--guarantees", type=int, nargs="+", default=[8, 12, 16, 24, 32])
    args = parser.parse_args()
    key = IndexKey(hashlib.sha256(b"benchmark").digest(), "benchmark")
    records = corpus_records(args.corpus_mb)
    unrelated = list(doc_texts(args.unrelated_mb << 20))
    unrelated_mb = sum(len(t) for t in unrelated) / 1e6
    say(f"corpus: {len(records)} records from Python's library; unrelated text: "
        f"{unrelated_mb:.1f} MB of Debian docs")
    say(f"{'words':>5} {'k':>3} {'s':>3} {'fp B':>4} {'index/text':>10} {'(fp+checks+ids)':>17} "
        f"{'index/file':>10} {'build MB/s':>10} {'planted':>8} {'true hits':>9} "
        f"{'shorter/MB':>10} {'chance/MB':>9}")
    for guarantee in args.guarantees:
        with tempfile.TemporaryDirectory() as tmp:
            config = load_config(write_project(Path(tmp), records, min_match_words=guarantee,
                                               sensitive_fields=()))
            # best of two: the first build in a process also pays for imports and warm-up
            seconds, meta = timed(lambda: build_index(config, key), repeat=2)  # noqa: B023
            size = index_size(config.data.index)
            parts = [sum((config.data.index / name).stat().st_size for name in names)
                     / meta.text_bytes
                     for names in (["fingerprints.npy"], ["checks.npy"],
                                   ["records.json", "units.npy"])]
            file_bytes = (Path(tmp) / "train.jsonl").stat().st_size
            matcher = Matcher(load_index(config.data.index, key))
            truth = true_grams(records, guarantee)
            gram_truth = true_grams(records, meta.params.gram_words)
            pieces, plants = planted_text(records, unrelated, guarantee, random.Random(3))
            planted = len(plants)
            found: set[int] = set()
            true_hits = shorter = chance = 0
            for begin in range(0, len(pieces), 64):
                batch = pieces[begin: begin + 64]
                hits, _ = matcher.match(batch)
                tokens_of: dict[int, np.ndarray] = {}
                for hit in hits:
                    number = begin + hit.piece
                    if hit.piece not in tokens_of:
                        tokens_of[hit.piece] = tokenize(normalize(batch[hit.piece])).hashes
                    tokens = tokens_of[hit.piece]
                    grams = gram_hashes(tokens[hit.start: hit.end], guarantee)
                    shared = contains_any(truth, grams)
                    if number in plants:
                        found.add(number)
                    elif shared:
                        true_hits += 1
                    elif contains_any(gram_truth, gram_hashes(tokens[hit.start: hit.end],
                                                              meta.params.gram_words)):
                        shorter += 1  # a shared run shorter than the guarantee, extended by
                        # neighbours whose check bits agreed by chance (1 in 8 each)
                    else:
                        chance += 1
            found_plants = len(found)
            p = meta.params
            say(f"{guarantee:>5} {p.gram_words:>3} {p.stride:>3} {p.fingerprint_bytes:>4} "
                f"{size / meta.text_bytes:>10.3f} {'+'.join(f'{x:.3f}' for x in parts):>17} "
                f"{size / file_bytes:>10.3f} "
                f"{meta.text_bytes / 1e6 / seconds:>10.1f} {found_plants:>4}/{planted:<3} "
                f"{true_hits:>9} {shorter / unrelated_mb:>10.2f} {chance / unrelated_mb:>9.2f}")


if __name__ == "__main__":
    main()
