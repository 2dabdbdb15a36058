"""Scan throughput on text artifacts against grep -F and ahocorasick_rs, 10k and 1M records,
with the credential rules on and off (the same pass over the same text).

Usage: python benchmarks/scan_throughput.py [--records 10000 1000000] [--artifact-mb 32]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import tempfile
from pathlib import Path

from common import doc_texts, say, synthetic_records, timed, vocabulary, write_project

from release import rules
from release.config import load_config
from release.credentials import engine_name
from release.detectors.leaks import TrainingData
from release.fingerprint.build import build_index
from release.fingerprint.index import load_index
from release.fingerprint.keys import IndexKey
from release.fingerprint.match import Matcher
from release.pipeline.inventory import Item
from release.pipeline.kinds import classify_kind
from release.pipeline.read import Artifact
from release.pipeline.workers import Workers, scan_threads

SLICE_CHARS = 60
ROUNDS = 5


def artifacts(folder: Path, megabytes: int, records: Path, planted: int, seed: int) -> list[Path]:
    """Unrelated real text in 4 MB files, with `planted` record slices hidden in it."""
    rng = random.Random(seed)
    lines = [json.loads(line)["text"] for line in records.open()]
    chosen = [rng.choice(lines) for _ in range(planted)]
    files, buffer, size, number = [], [], 0, 0
    for text in doc_texts(megabytes << 20):
        buffer.append(text)
        size += len(text)
        if size >= 4 << 20:
            if chosen:
                buffer.append("\n" + chosen.pop() + "\n")
            path = folder / f"artifact{number}.txt"
            path.write_text("".join(buffer))
            files.append(path)
            buffer, size, number = [], 0, number + 1
    return files


def our_scan(matcher: Matcher, files: list[Path], threads: int, secrets: bool = True) -> int:
    """What `release scan` does with text files for leaks (and, with `secrets`, credentials):
    the extractor's pieces, matched on `threads` threads; returns how many files have training
    text."""
    artifacts = [Artifact(Item(path.name, path, classify_kind(path.name), "model"),
                          path.stat().st_size, None, b"", b"") for path in files]
    with Workers(threads) as workers:
        detector = TrainingData(matcher, workers, secrets=secrets)
        found = [detector.detect(artifact) for artifact in artifacts]
        detector.finish()
        findings = [finding for group in found for finding in group]
    return sum(f.rule is rules.TRAINING_TEXT for f in findings)


def grep_scan(patterns: Path, files: list[Path]) -> int:
    result = subprocess.run(["grep", "-c", "-F", "-f", str(patterns), *map(str, files)],
                            capture_output=True, text=True)
    return sum(int(line.rsplit(":", 1)[1]) for line in result.stdout.splitlines())


def aho_scan(automaton: object, files: list[Path]) -> int:
    found = 0
    for path in files:
        found += len(automaton.find_matches_as_indexes(path.read_text(errors="replace")))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--artifact-mb", type=int, default=32)
    args = parser.parse_args()
    words = vocabulary()
    key = IndexKey(hashlib.sha256(b"benchmark").digest(), "benchmark")
    threads = scan_threads()
    say(f"ours: 1 thread, and {threads} threads (RELEASE_SCAN_THREADS or the usable CPUs, "
        "as `release scan` runs); grep and aho are single-threaded")
    say(f"{'records':>9} {'artifact MB':>11} {'threads':>7} {'ours MB/s':>10} "
        f"{'grep MB/s':>10} {'aho MB/s':>9} {'vs grep':>8} {'vs aho':>7}")
    for count in args.records:
        measure(count, args.artifact_mb, words, key, sorted({1, threads}))


def measure(count: int, artifact_mb: int, words: list[str], key: IndexKey,
            thread_counts: list[int]) -> None:
    import ahocorasick_rs

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = load_config(write_project(folder, synthetic_records(count, words=words)))
        build_index(config, key)
        matcher = Matcher(load_index(config.data.index, key))
        rng = random.Random(1)
        patterns = folder / "records.txt"
        with patterns.open("w") as out:
            for line in (folder / "train.jsonl").open():
                text = json.loads(line)["text"]
                start = rng.randint(0, max(0, len(text) - SLICE_CHARS))
                out.write(text[start: start + SLICE_CHARS] + "\n")
        files = artifacts(folder, artifact_mb, folder / "train.jsonl", 8, seed=2)
        megabytes = sum(p.stat().st_size for p in files) / 1e6
        for path in files:  # warm the page cache for everyone
            path.read_bytes()
        automaton = ahocorasick_rs.AhoCorasick(patterns.read_text().splitlines())
        ours = dict.fromkeys(thread_counts, float("inf"))
        plain = dict.fromkeys(thread_counts, float("inf"))  # credential rules off
        found = dict.fromkeys(thread_counts, 0)
        grep = aho = float("inf")
        for _ in range(ROUNDS):  # interleaved, best of each: a noisy moment hits them all
            for threads in thread_counts:
                seconds, found[threads] = timed(lambda t=threads: our_scan(matcher, files, t))
                ours[threads] = min(ours[threads], seconds)
                seconds, _ = timed(lambda t=threads: our_scan(matcher, files, t, False))
                plain[threads] = min(plain[threads], seconds)
            seconds, grep_found = timed(lambda: grep_scan(patterns, files))
            grep = min(grep, seconds)
            seconds, aho_found = timed(lambda: aho_scan(automaton, files))
            aho = min(aho, seconds)
        for threads in thread_counts:
            say(f"{count:>9} {megabytes:>11.1f} {threads:>7} {megabytes / ours[threads]:>10.1f} "
                f"{megabytes / grep:>10.1f} {megabytes / aho:>9.1f} "
                f"{grep / ours[threads]:>7.1f}x {aho / ours[threads]:>6.1f}x   (files with "
                f"planted slices found: ours {found[threads]} of {len(files)}; grep "
                f"{grep_found} lines, aho {aho_found}); credential rules on/off: "
                f"{ours[threads] / plain[threads]:.2f}x ({engine_name()})")

if __name__ == "__main__":
    main()
