"""A large safetensors file whose __metadata__ leaks a record: `release scan` against `cat`.

Usage: python benchmarks/safetensors_header.py [--gigabytes 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

from common import say, synthetic_records, timed, write_project

from release.config import load_config
from release.scan import scan

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
        scan(config, hash_files=False)  # builds the index once, outside the timing
        cat = shutil.which("cat") or "cat"
        cat_seconds, _ = timed(lambda: subprocess.run([cat, str(target)], check=True,
                                                      stdout=subprocess.DEVNULL), repeat=2)
        scan_seconds, result = timed(lambda: scan(config, hash_files=False), repeat=3)
        leaks = [f for f in result.report.findings if f.rule.id == "RL201"]
        size = target.stat().st_size / (1 << 30)
        say(f"{size:.2f} GiB safetensors: cat {cat_seconds:.3f} s, release scan "
            f"{scan_seconds:.4f} s = {100 * scan_seconds / cat_seconds:.2f}% of cat "
            f"(leak found: {[(f.path, f.member) for f in leaks]})")


if __name__ == "__main__":
    main()
