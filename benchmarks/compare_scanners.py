"""The executable-file corpus of the tests scanned by `release`, picklescan, modelscan and
fickling: malicious files flagged and missed, errors, clean files flagged, time.

The other scanners are not project dependencies: install them in a scratch venv and name its
python, e.g. `python3 -m venv /tmp/scanners && /tmp/scanners/bin/pip install picklescan
modelscan fickling py7zr typing_extensions`.

Usage: python benchmarks/compare_scanners.py --scanners-python /tmp/scanners/bin/python
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from common import say

from release.detectors.hazards import hazard_finding
from release.extract import Hazard, Problem, extract_file
from release.pipeline.kinds import classify_kind
from tests.executable_corpus import build_corpus

MALICIOUS = frozenset({"code", "external"})
# run in the scanners' venv: one JSON line per file, {"flagged", "error"}, then the seconds
RUNNER = r"""
import json, sys, time, io, contextlib, logging
logging.disable(logging.CRITICAL)
tool, paths = sys.argv[1], sys.argv[2:]
def picklescan(path):
    from picklescan.scanner import scan_file_path
    result = scan_file_path(path)
    return result.infected_files > 0 or result.issues_count > 0, bool(result.scan_err)
def modelscan(path):
    from modelscan.modelscan import ModelScan
    result = ModelScan().scan(path)
    issues = result.get("summary", {}).get("total_issues", 0)
    return issues > 0, bool(result.get("errors"))
def fickling(path):
    from fickling import scan_file
    result = scan_file(path, graceful=True)
    return result.severity.name != "LIKELY_SAFE" and not result.errors, bool(result.errors)
scan = {"picklescan": picklescan, "modelscan": modelscan, "fickling": fickling}[tool]
start = time.perf_counter()
for path in paths:
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            flagged, error = scan(path)
    except Exception as exc:
        flagged, error = False, True
    print(json.dumps({"flagged": bool(flagged), "error": bool(error)}))
print(time.perf_counter() - start)
"""


def release_results(paths: list[Path]) -> tuple[list[dict[str, bool]], float]:
    start = time.perf_counter()
    results = []
    for path in paths:
        extracted = list(extract_file(path, path.name, classify_kind(path.name),
                                      path.stat().st_size))
        rules = {hazard_finding(path.name, found, found.member).rule.name
                 for found in extracted if isinstance(found, Hazard)}
        results.append({"flagged": bool(rules - {"trailing-data", "unsafe-serialization"}),
                        "error": any(isinstance(found, Problem) for found in extracted)})
    return results, time.perf_counter() - start


def tool_results(python: str, tool: str, paths: list[Path]) -> tuple[list[dict[str, bool]],
                                                                     float]:
    done = subprocess.run([python, "-c", RUNNER, tool, *map(str, paths)], capture_output=True,
                          text=True, check=True)
    lines = done.stdout.strip().splitlines()
    return [json.loads(line) for line in lines[:-1]], float(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scanners-python", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root, canary = Path(tmp) / "corpus", Path(tmp) / "canary"
        canary.mkdir()
        entries = build_corpus(root, canary)
        paths = [root / entry.path for entry in entries]
        table = {"release": release_results(paths)}
        for tool in ("picklescan", "modelscan", "fickling"):
            table[tool] = tool_results(args.scanners_python, tool, paths)
        ran = sorted(p.name for p in canary.iterdir())
    malicious = sum(entry.expect in MALICIOUS for entry in entries)
    clean = sum(entry.expect == "clean" for entry in entries)
    say(f"{len(entries)} files: {malicious} malicious, {clean} clean, "
        f"{len(entries) - malicious - clean} benign pickles; payloads run: {len(ran)}")
    say("(release: flagged = RL114/RL116/RL117; errors = files with an RL110 problem)")
    say("| scanner | malicious flagged | malicious missed | errors | clean flagged | "
        "benign pickles flagged | time (s) |")
    say("|---|---|---|---|---|---|---|")
    for tool, (results, seconds) in table.items():
        flagged = sum(r["flagged"] for r, e in zip(results, entries, strict=True)
                      if e.expect in MALICIOUS)
        errors = sum(r["error"] for r in results)
        clean_flagged = sum(r["flagged"] for r, e in zip(results, entries, strict=True)
                            if e.expect == "clean")
        benign = sum(r["flagged"] for r, e in zip(results, entries, strict=True)
                     if e.expect == "pickle")
        say(f"| {tool} | {flagged} | {malicious - flagged} | {errors} | {clean_flagged} | "
            f"{benign} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
