"""The credential fakes of the tests, one per rule, planted in six carriers, scanned by
`release` and by detect-secrets: found or missed per rule and provider.

detect-secrets reads files as lines of text, so it is compared on the two plain-text carriers
(a Python file, a YAML config); `release` is counted on those and, separately, on all six.

Usage: python benchmarks/compare_secret_scanners.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from common import say

from release.config import load_config
from release.pipeline.scan import ScanOptions, scan
from tests.conftest import make_project
from tests.credentials.fakes import fakes, plant

TEXT_CARRIERS = ("launch.py", "train_config.yaml")
ALL_CARRIERS = (*TEXT_CARRIERS, "explore.ipynb", "assets.tar.gz", "state.pkl",
                "adapter.safetensors")


def release_found(config: Path) -> dict[tuple[str, str], bool]:
    report = scan(load_config(config), ScanOptions()).report
    found: dict[tuple[str, str], bool] = {}
    for finding in report.findings:
        if finding.rule.id == "RL701":
            found[(finding.path or "", str(finding.evidence["secret_rule"]))] = True
    return found


def detect_secrets_lines(model: Path) -> dict[str, set[int]]:
    done = subprocess.run([sys.executable, "-m", "detect_secrets", "scan", "--all-files",
                           *TEXT_CARRIERS], capture_output=True, text=True, check=True,
                          cwd=model)  # outside any git checkout, which it would filter by
    results = json.loads(done.stdout)["results"]
    return {Path(name).name: {entry["line_number"] for entry in entries}
            for name, entries in results.items()}


def main() -> None:
    made = fakes()
    with tempfile.TemporaryDirectory() as tmp:
        project = make_project(Path(tmp) / "project")
        lines = plant(project.model)
        ours = release_found(project.config)
        theirs = detect_secrets_lines(project.model)
    yaml_lines = {rule: number + 1 for number, rule in enumerate(sorted(made))}
    say("| rule | provider | release (py, yaml) | release (6 carriers) | detect-secrets "
        "(py, yaml) |")
    say("|---|---|---|---|---|")
    from release.credentials import secret_rules

    totals = [0, 0, 0]
    for rule in secret_rules():
        text_hits = sum(ours.get((c, rule.id), False) for c in TEXT_CARRIERS)
        all_hits = sum(ours.get((c, rule.id), False) for c in ALL_CARRIERS)
        ds_hits = int(bool(theirs.get("launch.py", set()) & set(lines[rule.id]))) + \
            int(yaml_lines[rule.id] in theirs.get("train_config.yaml", set()))
        totals = [totals[0] + text_hits, totals[1] + all_hits, totals[2] + ds_hits]
        say(f"| {rule.id} | {rule.provider} | {text_hits}/2 | {all_hits}/6 | {ds_hits}/2 |")
    count = len(secret_rules())
    say(f"| all | | {totals[0]}/{2 * count} | {totals[1]}/{6 * count} | "
        f"{totals[2]}/{2 * count} |")


if __name__ == "__main__":
    main()
