"""Peak memory of a scan as the artifact grows: it should stay at the index plus a constant.

Usage: python benchmarks/scan_memory.py [--megabytes 20 200]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from common import doc_texts, say, synthetic_records, write_project

PROBE = """
import resource, sys
from pathlib import Path
from release.config import load_config
from release.pipeline.scan import ScanOptions, scan
report = scan(load_config(Path(sys.argv[1])), ScanOptions(hash_files=False)).report
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, report.summary["bytes"])
"""


def peak_kib(config: Path) -> tuple[int, int]:
    out = subprocess.run([sys.executable, "-c", PROBE, str(config)], check=True,
                         capture_output=True, text=True).stdout.split()
    return int(out[0]), int(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, nargs="+", default=[20, 200])
    args = parser.parse_args()
    text = "".join(doc_texts(8 << 20))
    baseline = None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = write_project(folder, synthetic_records(20_000))
        peak_kib(config)  # build the index first
        for megabytes in args.megabytes:
            artifact = folder / "model" / "notes.log"
            with artifact.open("w") as handle:
                written = 0
                while written < megabytes << 20:
                    handle.write(text)
                    written += len(text)
            peak, scanned = peak_kib(config)
            baseline = baseline or peak
            say(f"artifact {scanned / 1e6:8.1f} MB: peak RSS {peak / 1024:7.1f} MiB "
                f"({peak / baseline:.2f}x the smallest)")


if __name__ == "__main__":
    main()
