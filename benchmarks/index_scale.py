"""The fingerprint index as the corpus grows: build speed and peak memory, index size, load
time, and scan time and peak memory for a 1 KB and a 100 MB artifact, with `grep -F -f` on
the same 100 MB as the baseline. Each step runs in a fresh process so its peak RSS is its own.

Scans also run cold, with the index's files dropped from the page cache first
(posix_fadvise DONTNEED, which needs no root, for `echo 3 > /proc/sys/vm/drop_caches`).

The corpus is real text (Debian's package documentation, shuffled line by line into distinct
records of 200-2,000 characters, JSON Lines in 4 files), streamed from a generator; the
artifacts are Python's library sources with record slices planted in them.

Usage: python benchmarks/index_scale.py [--sizes-mb 50 500 2000] [--large] [--dask]
       [--memory 2GiB]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from common import doc_texts, say, stdlib_files

SOURCES = 4
SLICES = 10_000
SLICE_CHARS = 60


def lines_of_text(limit_bytes: int = 64 << 20) -> tuple[list[str], list[str]]:
    """Distinct lines of real text, shuffled, in two halves: the corpus draws on the first,
    the artifacts on the second, so that a scan finds only what was planted."""
    lines = set()
    for text in doc_texts(limit_bytes):
        lines |= {line.strip() for line in text.splitlines() if len(line.strip()) > 20}
    ordered = sorted(lines)
    random.Random(0).shuffle(ordered)
    return ordered[: len(ordered) // 2], ordered[len(ordered) // 2:]


def records(total_bytes: int, lines: list[str], seed: int = 0) -> Iterator[dict[str, str]]:
    """Distinct records of 200-2,000 characters of shuffled real lines, with an id and a
    sensitive value, until `total_bytes` of text."""
    rng = random.Random(seed)
    written = number = 0
    while written < total_bytes:
        want = rng.randint(200, 2000)
        parts, size = [], 0
        while size < want:
            line = lines[rng.randrange(len(lines))]
            parts.append(line)
            size += len(line) + 1
        text = " ".join(parts)[:want]
        yield {"id": f"r{number}", "text": text, "email": f"person{number}@example.invalid"}
        written += len(text)
        number += 1


def write_project(folder: Path, megabytes: int, lines: list[str], memory: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    handles = [(folder / f"part{n}.jsonl").open("w") for n in range(SOURCES)]
    for number, record in enumerate(records(megabytes * 10**6, lines)):
        handles[number % SOURCES].write(json.dumps(record) + "\n")
    for handle in handles:
        handle.close()
    (folder / "model").mkdir(exist_ok=True)
    config = folder / "release.toml"
    config.write_text(
        '[release]\nname = "m"\nversion = "1"\n[model]\npath = "model"\n'
        f'[data]\nbuild_memory = "{memory}"\n' + "".join(
            f'[[data.sources]]\npath = "part{n}.jsonl"\nid_field = "id"\n'
            'text_fields = ["text"]\nsensitive_fields = ["email"]\n' for n in range(SOURCES)))
    return config


def child(command: list[str]) -> dict[str, float]:
    """Run this script's `--child` step in a fresh process: its wall and CPU seconds and its
    peak RSS."""
    done = subprocess.run([sys.executable, __file__, "--child", *command], check=True,
                          capture_output=True, text=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


class PrivatePeak:
    """The peak of this process's private (anonymous) memory, sampled every 5 ms: ru_maxrss
    also counts the pages of the index files it maps, which are the page cache's, shared and
    dropped under memory pressure, not memory the scan holds."""

    def __init__(self) -> None:
        import threading

        self.peak_kb = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.005):
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith("RssAnon:"):
                        self.peak_kb = max(self.peak_kb, int(line.split()[1]))

    def stop(self) -> float:
        self._done.set()
        self._thread.join()
        return self.peak_kb / 1024


def evict(folder: Path) -> None:
    """Drop the folder's files from the page cache (what `echo 3 > drop_caches` does for
    them, without root): the next read comes from the disk."""
    import os

    for path in folder.iterdir():
        with path.open("rb") as handle:
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def run_child(step: str, config: str, *rest: str) -> None:
    from release.config import load_config
    from release.fingerprint.build import build_index
    from release.fingerprint.index import load_index
    from release.fingerprint.keys import IndexKey

    key = IndexKey(b"b" * 32, "benchmark")
    loaded = load_config(Path(config))
    if "cold" in rest:
        evict(loaded.data.index)
    private = PrivatePeak()
    start, cpu = time.perf_counter(), time.process_time()
    extra: dict[str, float] = {}
    if step == "build":
        from release.fingerprint.engines import DaskEngine

        if rest and rest[0] == "dask":
            with DaskEngine(workers=2) as engine:
                start, cpu = time.perf_counter(), time.process_time()
                build_index(loaded, key, engine=engine)
        else:
            build_index(loaded, key)
    elif step == "load":
        load_index(loaded.data.index, key)
    elif step == "scan":
        from release.detectors.leaks import TrainingData
        from release.fingerprint.match import Matcher
        from release.pipeline.inventory import Item
        from release.pipeline.kinds import classify_kind
        from release.pipeline.read import Artifact
        from release.pipeline.workers import Workers, scan_threads

        matcher = Matcher(load_index(loaded.data.index, key))
        extra["loaded_s"] = time.perf_counter() - start
        path = Path(rest[0])
        artifact = Artifact(Item(path.name, path, classify_kind(path.name), "model"),
                            path.stat().st_size, None, b"", b"")
        with Workers(scan_threads()) as workers:
            detector = TrainingData(matcher, workers)
            found = list(detector.detect(artifact))
            detector.finish()
            extra["findings"] = len(found)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"wall": time.perf_counter() - start, "cpu": time.process_time() - cpu,
                      "rss_mb": usage.ru_maxrss / 1024, "private_mb": private.stop(),
                      **extra}))


def artifact_files(folder: Path, project: Path, other: list[str]) -> tuple[Path, Path, Path]:
    """A 1 KB file, a 100 MB file of unrelated real text (Python's library sources, which
    share few 12-word runs with package documentation, unlike its other half) with some
    record slices in it, and the grep patterns: 60-character slices of 10,000 records."""
    small = folder / "small.txt"
    small.write_text(" ".join(other[:40])[:1000])
    rng = random.Random(5)
    slices = []
    with (project / "part0.jsonl").open() as handle:
        for line in handle:
            text = json.loads(line)["text"]
            start = rng.randint(0, max(0, len(text) - SLICE_CHARS))
            slices.append(text[start: start + SLICE_CHARS])
            if len(slices) >= SLICES:
                break
    patterns = folder / "patterns.txt"
    patterns.write_text("\n".join(slices) + "\n")
    big = folder / "big.txt"
    sources = [p.read_text(errors="replace") for p in stdlib_files()]
    with big.open("w") as out:
        written = 0
        while written < 100 * 10**6:
            chunk = rng.choice(sources)
            if rng.random() < 0.01:
                chunk += "\n" + rng.choice(slices) + "\n"
            out.write(chunk)
            written += len(chunk)
    return small, big, patterns


def memory(step: dict[str, float]) -> str:
    return f"{step['rss_mb']:.0f} ({step['private_mb']:.0f})"


def grep_seconds(patterns: Path, big: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["grep", "-c", "-F", "-f", str(patterns), str(big)], capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", type=int, nargs="+", default=[50, 500, 2000])
    parser.add_argument("--large", action="store_true", help="also 6,000 MB")
    parser.add_argument("--dask", action="store_true",
                        help="also build with --engine dask on a LocalCluster of 2 workers")
    parser.add_argument("--memory", default="2GiB")
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        run_child(*args.child)
        return
    sizes = args.sizes_mb + ([6000] if args.large else [])
    lines, other = lines_of_text()
    say(f"corpus: {len(lines)} distinct lines of Debian documentation, shuffled into records; "
        f"{SOURCES} JSON Lines sources; build memory {args.memory}")
    say("scan RSS: peak resident (of it private, the rest being index pages mapped from the "
        "page cache); cold: the index files dropped from the page cache first")
    say(f"{'corpus MB':>9} {'build MB/s/core':>15} {'build RSS MB':>12} {'index B/B':>9} "
        f"{'load s':>6} {'1KB scan s':>10} {'RSS MB':>10} {'cold s':>6} {'100MB scan s':>12} "
        f"{'RSS MB':>11} {'cold s':>6} {'vs grep':>7} {'dask x':>6}")
    first_big: float | None = None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for megabytes in sizes:
            project = folder / f"corpus{megabytes}"
            config = write_project(project, megabytes, lines, args.memory)
            built = child(["build", str(config)])
            index = project / ".release" / "index"
            index_bytes = sum(p.stat().st_size for p in index.iterdir())
            text_bytes = json.loads((index / "meta.json").read_text())["text_bytes"]
            speedup = ""
            if args.dask:
                dask = child(["build", str(config), "dask"])
                speedup = f"{built['wall'] / dask['wall']:.2f}"
            loaded = min((child(["load", str(config)]) for _ in range(3)),
                         key=lambda r: r["wall"])
            small, big, patterns = artifact_files(folder, project, other)
            tiny_cold = child(["scan", str(config), str(small), "cold"])
            tiny = child(["scan", str(config), str(small)])
            large_cold = child(["scan", str(config), str(big), "cold"])
            large = min((child(["scan", str(config), str(big)]) for _ in range(2)),
                        key=lambda r: r["wall"])
            grep = min(grep_seconds(patterns, big) for _ in range(2))
            first_big = first_big or large["wall"]
            say(f"{megabytes:>9} {text_bytes / 1e6 / built['cpu']:>15.1f} "
                f"{built['rss_mb']:>12.0f} {index_bytes / text_bytes:>9.3f} "
                f"{loaded['wall']:>6.2f} {tiny['wall']:>10.2f} {memory(tiny):>10} "
                f"{tiny_cold['wall']:>6.2f} {large['wall']:>12.2f} {memory(large):>11} "
                f"{large_cold['wall']:>6.2f} "
                f"{grep / large['wall']:>6.1f}x {speedup:>6}   (build wall "
                f"{built['wall']:.0f} s; 100 MB scan vs the smallest corpus's: "
                f"{large['wall'] / first_big:.2f}x)")
            for path in project.glob("part*.jsonl"):
                path.unlink()
            import shutil

            shutil.rmtree(project)


if __name__ == "__main__":
    main()
