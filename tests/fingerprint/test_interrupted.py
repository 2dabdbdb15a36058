"""`kill -9` at random moments of an index build (in this process, and on Dask) never leaves
an index that a scan accepts (none, or the whole previous one), and the re-run succeeds."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from release.config import load_config
from release.errors import InputError
from release.fingerprint.index import load_index, read_meta
from release.fingerprint.keys import load_key
from tests.fingerprint.corpus import make_records, write_corpus
from tests.fingerprint.test_build import artifacts, findings

KILLS = 4


def build_command(config: Path, engine: str) -> list[str]:
    return [sys.executable, "-m", "release", "index", "build", "--config", str(config),
            "--engine", engine, "-q"]


def run_build(config: Path, engine: str) -> float:
    """A whole build; how long it took."""
    start = time.monotonic()
    done = subprocess.run(build_command(config, engine), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    return time.monotonic() - start


def killed_build(config: Path, engine: str, delay: float) -> None:
    """A build killed with SIGKILL after `delay` seconds, with every process it started."""
    process = subprocess.Popen(build_command(config, engine), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        process.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)


def folder_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["local", "dask"])
def test_a_killed_build_leaves_no_index_a_scan_accepts(tmp_path: Path, engine: str) -> None:
    records = make_records(6000, seed=11)
    config_path = write_corpus(tmp_path, records, sources=2, build_memory="4MiB")
    config = load_config(config_path)
    index = config.data.index
    whole = run_build(config_path, engine)  # how long a whole build takes here
    key, _ = load_key(config.data.key_file, create=False)
    pieces = artifacts(records, seed=2)
    expected = findings(config, pieces, key)
    before = folder_digest(index)
    rng = random.Random(engine)
    for _ in range(KILLS):
        # the sources change, so each build replaces the index; a killed one must not
        (tmp_path / "train.jsonl").touch()
        killed_build(config_path, engine, rng.uniform(0.0, whole))
        try:
            meta = read_meta(index)
        except InputError:
            meta = None  # killed between setting the old index aside and putting the new
        if meta is not None:
            loaded = load_index(index, key)  # it opens whole: every file is there
            assert loaded.meta == meta
            now = folder_digest(index)
            # the previous index whole, or the next one whole (killed after the swap)
            assert now == before or findings(config, pieces, key) == expected
            before = now
    run_build(config_path, engine)
    assert findings(config, pieces, key) == expected
    # nothing a killed build left beside the index remains
    assert {p.name for p in index.parent.iterdir()} <= \
        {"index", "release.lock", config.data.key_file.name}
