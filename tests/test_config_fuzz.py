"""Config fuzzing: mutations of a full config (keys deleted, values of every wrong type, extreme
numbers, control characters, long strings, hostile paths) on a project with planted leaks.
Every case ends in exit 0-3 with a message, never a traceback or an internal error, never a
hang, never a change outside the output and the index, and never a pass."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import CONFIG, CliResult, make_project

pytestmark = pytest.mark.slow

LONG_NOTE = ("the patient arrived on a quiet morning and described a persistent ache in the "
             "left shoulder that had lasted for several weeks")
EXTRA = """
[agreement]
data_provider = "Test Provider"
data_user = "Test Lab"
effective_date = 2026-01-01
term_end = 2099-12-31
release_url = "https://huggingface.co/test-org/tiny-model"

[checks]
fail_on = "error"
min_match_words = 12
min_sensitive_chars = 6

[checks.memorization]
samples = 10

[card]
language = ["en"]
tags = ["test"]

[publish.git]
remote = "remote.git"

[publish.hub]
repo_id = "test-org/tiny-model"
"""
HOSTILE_PATHS = ["", ".", "..", "/", "/dev/zero", "/dev/null", ".git", "model", "code", "data",
                 "data/train.jsonl", "../../etc", "model/../model", "a\nb", "x" * 300,
                 "dist", ".release/index", "nul\x00byte"]
VALUES = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([0, 1, 2, 7, 8, 64, 65, 10**6, 10**12, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=40),
    st.sampled_from(HOSTILE_PATHS),
    st.just("y" * 100_000),
    st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)),
    st.lists(st.text(max_size=8), max_size=4),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(min_size=1, max_size=6), st.integers(), max_size=2),
)


LIKE: dict[type, st.SearchStrategy[Any]] = {
    str: st.one_of(st.sampled_from(HOSTILE_PATHS), st.text(max_size=30),
                   st.sampled_from(["", " ", "TODO", "Apache 2.0", "MIT OR GPL-3.0-only",
                                    "http://bob:PASS@host/x", "alice:PASS@host:/x.git",
                                    "{version}/{name}", "../../outside", "*.safetensors"])),
    int: st.one_of(st.integers(min_value=-(2**63), max_value=2**63 - 1),
                   st.sampled_from([0, 1, 3, 7, 8, 63, 64, 65, 255, 256, 257, 10**9])),
    float: st.floats(allow_nan=True, allow_infinity=True),
    bool: st.booleans(),
    dt.date: st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)),
}


def _base(root: Path) -> dict[str, Any]:
    text = CONFIG.replace("[agreement]\ndata_provider = \"Test Provider\"\n"
                          "data_user = \"Test Lab\"\n", "") + EXTRA
    base: dict[str, Any] = tomlkit.parse(text).unwrap()
    return base


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in the config a value sits (tables, keys, list items)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for number, item in enumerate(value):
            yield (*prefix, number)
            yield from _paths(item, (*prefix, number))


def _mutate(config: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """Mostly a leaf value replaced by a hostile one, sometimes a key deleted or an unknown one
    added: most cases get past parsing to the checks."""
    for _ in range(data.draw(st.integers(1, 3))):
        places = list(_paths(config))
        leaves = [p for p in places if not isinstance(_at(config, p), dict | list)]
        action = data.draw(st.sampled_from(["replace"] * 7 + ["delete"] * 2 + ["add"]))
        # uniformly over the config (sampled_from favours its first entries)
        place = data.draw(st.randoms()).choice(leaves if action == "replace" and leaves
                                               else places)
        parent = _at(config, place[:-1])
        if action == "delete":
            del parent[place[-1]]
        elif action == "replace":
            old = parent[place[-1]]
            typed = data.draw(st.booleans())  # half the time a value of the same type
            parent[place[-1]] = data.draw(LIKE[type(old)] if typed and type(old) in LIKE
                                          else VALUES)
        elif isinstance(parent, dict):
            parent[data.draw(st.text(min_size=1, max_size=10))] = data.draw(VALUES)
    return config


def _at(config: dict[str, Any], place: tuple[Any, ...]) -> Any:
    value: Any = config
    for step in place:
        value = value[step]
    return value


def _dumps(config: dict[str, Any], data: st.DataObject) -> str:
    try:
        text = tomlkit.dumps(config)
    except Exception:  # a value TOML cannot hold (nan keys and the like): plain TOML instead
        text = "[release]\nname = 'x'\n"
    extra = data.draw(st.sampled_from([""] * 17 + ["deep", "nul", "bom"]))
    if extra == "deep":
        text += "\ndeep = " + "[" * 5000 + "]" * 5000 + "\n"
    elif extra == "nul":
        text += "\nbad = \"a\x00b\"\n"
    elif extra == "bom":
        text = "\ufeff" + text
    return text


def _snapshot(root: Path) -> dict[str, bytes]:
    kept = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith(("dist", ".release")) or "/.git/" in f"/{relative}":
            continue
        if path.is_file() and not path.is_symlink():
            kept[relative] = path.read_bytes()
    return kept


@contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"the command ran past {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The leaking project, built once: a long record, its text and an email in the code, and
    a copy of the data in both the model and the code folder."""
    root = tmp_path_factory.mktemp("fuzz") / "project"
    project = make_project(root)
    with project.data.open("a") as data:
        data.write(json.dumps({"id": "long", "name": "Quentin Leakworthy",
                               "email": "quentin@example.invalid", "note": LONG_NOTE}) + "\n")
    (project.code / "notes.md").write_text(f"{LONG_NOTE}\ncontact quentin@example.invalid\n")
    shutil.copy(project.data, project.code / "rows.jsonl")
    shutil.copy(project.data, project.model / "rows.jsonl")
    project.commit_code("plants")
    return root


def test_the_unmutated_config_finds_the_leaks(template: Path, tmp_path: Path,
                                             cli: Callable[..., CliResult]) -> None:
    root = tmp_path / "project"
    shutil.copytree(template, root, symlinks=True)
    (root / "release.toml").write_text(tomlkit.dumps(_base(root)))
    result = cli("scan", "--config", root / "release.toml", "--format", "json")
    assert result.code == 1, result.err
    found = {f["rule_id"] for f in json.loads(result.out)["findings"]}
    assert {"RL201", "RL202", "RL203", "RL105"} <= found


@settings(max_examples=int(os.environ.get("FUZZ_N", "300")), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_mutated_configs_never_crash_hang_pass_or_touch_the_project(
        template: Path, tmp_path_factory: pytest.TempPathFactory,
        cli: Callable[..., CliResult], data: st.DataObject) -> None:
    root = tmp_path_factory.mktemp("case") / "project"
    shutil.copytree(template, root, symlinks=True)
    config = root / "release.toml"
    config.write_text(_dumps(_mutate(_base(root), data), data), encoding="utf-8")
    before = _snapshot(root)
    command = data.draw(st.sampled_from(["scan", "scan", "prepare", "check"]))
    old = Path.cwd()
    os.chdir(root)
    try:
        with _deadline(120):
            result = cli(command, "--config", config)
    finally:
        os.chdir(old)
    assert result.code in (1, 2, 3) or (command == "check" and result.code != 0), result
    assert result.code != 0, (command, result.out[-2000:])
    assert "Traceback" not in result.err and "internal error" not in result.err, result.err
    after = _snapshot(root)
    assert after.keys() >= before.keys() and all(after[k] == before[k] for k in before)
