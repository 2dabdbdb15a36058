"""Scan throughput on text artifacts against grep -F and ahocorasick_rs, 10k and 1M records,
with the credential rules on and off (the same pass over the same text); with `--hits many`,
5% of the artifact's lines carry a record slice (each holding the 60-character pattern grep
and aho look for, and at least 16 words), and the few-hit time of the same text is the
baseline.

Usage: python benchmarks/scan_throughput.py [--records 10000 1000000] [--artifact-mb 32]
       [--hits few|many]
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


MANY_HIT_SHARE = 0.05


def many_hit_artifacts(folder: Path, megabytes: int, slices: list[str], seed: int
                       ) -> list[Path]:
    """The same real text in 4 MB files, with a record slice added to 5% of its lines."""
    rng = random.Random(seed)
    files, buffer, size = [], [], 0
    for text in doc_texts(megabytes << 20):
        for line in text.splitlines():
            buffer.append(f"{line} {rng.choice(slices)}" if rng.random() < MANY_HIT_SHARE
                          else line)
            size += len(line) + 1
            if size >= 4 << 20:
                path = folder / f"many{len(files)}.txt"
                path.write_text("\n".join(buffer) + "\n")
                files.append(path)
                buffer, size = [], 0
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
    parser.add_argument("--hits", choices=["few", "many"], default="few")
    args = parser.parse_args()
    words = vocabulary()
    key = IndexKey(hashlib.sha256(b"benchmark").digest(), "benchmark")
    threads = scan_threads()
    say(f"ours: 1 thread, and {threads} threads (RELEASE_SCAN_THREADS or the usable CPUs, "
        "as `release scan` runs); grep and aho are single-threaded")
    say(f"{'records':>9} {'artifact MB':>11} {'threads':>7} {'ours MB/s':>10} "
        f"{'grep MB/s':>10} {'aho MB/s':>9} {'vs grep':>8} {'vs aho':>7}")
    for count in args.records:
        if args.hits == "many":
            measure_many(count, args.artifact_mb, words, key, threads)
        else:
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
        write_patterns(folder / "train.jsonl", patterns, rng)
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

def write_patterns(records: Path, patterns: Path, rng: random.Random) -> list[str]:
    """A 60-character slice of each record for grep and aho; returns, for each, the record's
    text from the slice on, at least 16 words (what is planted to be found by all three)."""
    planted = []
    with patterns.open("w") as out:
        for line in records.open():
            text = json.loads(line)["text"]
            start = rng.randint(0, max(0, len(text) - SLICE_CHARS))
            out.write(text[start: start + SLICE_CHARS] + "\n")
            rest = text[start:].split(" ")
            planted.append(" ".join(rest[: max(17, len(text[start: start + SLICE_CHARS]
                                                     .split(" ")) + 1)]))
    return planted


def measure_many(count: int, artifact_mb: int, words: list[str], key: IndexKey,
                 threads: int) -> None:
    """Many hits against few, on the same text, at the scan's thread count."""
    import ahocorasick_rs

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = load_config(write_project(folder, synthetic_records(count, words=words)))
        build_index(config, key)
        matcher = Matcher(load_index(config.data.index, key))
        patterns = folder / "records.txt"
        planted = write_patterns(folder / "train.jsonl", patterns, random.Random(1))
        few = artifacts(folder, artifact_mb, folder / "train.jsonl", 8, seed=2)
        many = many_hit_artifacts(folder, artifact_mb, planted, seed=3)
        automaton = ahocorasick_rs.AhoCorasick(patterns.read_text().splitlines())
        best = {"few": float("inf"), "many": float("inf"), "grep": float("inf"),
                "aho": float("inf")}
        found = grep_found = 0
        for _ in range(ROUNDS):
            seconds, _ = timed(lambda: our_scan(matcher, few, threads))
            best["few"] = min(best["few"], seconds)
            seconds, found = timed(lambda: our_scan(matcher, many, threads))
            best["many"] = min(best["many"], seconds)
            seconds, grep_found = timed(lambda: grep_scan(patterns, many))
            best["grep"] = min(best["grep"], seconds)
            seconds, _ = timed(lambda: aho_scan(automaton, many))
            best["aho"] = min(best["aho"], seconds)
        megabytes = sum(p.stat().st_size for p in many) / 1e6
        say(f"{count:>9} {megabytes:>11.1f} {threads:>7} {megabytes / best['many']:>10.1f} "
            f"{megabytes / best['grep']:>10.1f} {megabytes / best['aho']:>9.1f} "
            f"{best['grep'] / best['many']:>7.1f}x {best['aho'] / best['many']:>6.1f}x   "
            f"(many hits: {grep_found} lines by grep, training text in {found} of "
            f"{len(many)} files); many-hit time / few-hit time: "
            f"{best['many'] / best['few']:.2f}x")


if __name__ == "__main__":
    main()
