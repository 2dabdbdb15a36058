"""A large safetensors file whose __metadata__ leaks a record: `release scan` against `cat`.

Usage: python benchmarks/safetensors_header.py [--gigabytes 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

from common import say, synthetic_records, timed, write_project

from release.config import load_config
from release.pipeline.scan import ScanOptions, scan

CHUNK = 64 << 20


def write_safetensors(path: Path, payload_bytes: int, leak: str) -> None:
    header = {"__metadata__": {"format": "pt", "notes": leak},
              "weight": {"dtype": "F32", "shape": [payload_bytes // 4],
                         "data_offsets": [0, payload_bytes - payload_bytes % 4]}}
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    block = bytes(range(256)) * (CHUNK // 256)
    with path.open("wb") as handle:
        handle.write(struct.pack("<Q", len(raw)) + raw)
        left = payload_bytes - payload_bytes % 4
        while left > 0:
            handle.write(block[: min(CHUNK, left)])
            left -= min(CHUNK, left)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        records = list(synthetic_records(2000))
        config_path = write_project(folder, iter(records))
        target = folder / "model" / "model.safetensors"
        write_safetensors(target, int(args.gigabytes * (1 << 30)), records[42]["text"])
        config = load_config(config_path)
        scan(config, ScanOptions(hash_files=False))  # builds the index once, outside the timing
        cat = shutil.which("cat") or "cat"

        def run_cat() -> None:
            subprocess.run([cat, str(target)], check=True, stdout=subprocess.DEVNULL)

        evict(target)
        cold, _ = timed(run_cat)
        warm, _ = timed(run_cat, repeat=3)
        evict(target)
        scan_cold, _ = timed(lambda: scan(config, ScanOptions(hash_files=False)))
        scan_warm, result = timed(lambda: scan(config, ScanOptions(hash_files=False)), repeat=5)
        leaks = [f for f in result.report.findings if f.rule.id == "RL201"]
        size = target.stat().st_size / (1 << 30)
        say(f"{size:.2f} GiB safetensors, leak found at {[(f.path, f.member) for f in leaks]}")
        say(f"  file not cached: cat {cold:.3f} s, release scan {scan_cold:.4f} s = "
            f"{100 * scan_cold / cold:.2f}% of cat")
        say(f"  file cached:     cat {warm:.3f} s, release scan {scan_warm:.4f} s = "
            f"{100 * scan_warm / warm:.2f}% of cat")


def evict(path: Path) -> None:
    """Drop the file from the page cache, so the next read comes from the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


if __name__ == "__main__":
    main()
