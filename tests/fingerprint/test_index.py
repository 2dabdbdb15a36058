"""Tests for the index lifecycle: build, info, no text inside, staleness, keys, CI use."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from release.config import load_config
from release.errors import ConfigError, UsageError
from release.fingerprint.index import INDEX_FORMAT
from release.fingerprint.keys import KEY_ENV
from release.fingerprint.service import ensure_index
from release.fingerprint.tokens import siphash13
from release.progress import SilentProgress
from tests.conftest import CliResult
from tests.fingerprint.corpus import make_records, write_corpus

RECORDS = make_records(60)


@pytest.fixture
def config_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(KEY_ENV, raising=False)
    return write_corpus(tmp_path / "p", RECORDS)


def test_build_and_info(config_path: Path, cli: Callable[..., CliResult]) -> None:
    built = cli("index", "build", "--config", config_path)
    assert built.code == 0, built.err
    assert "generated a new index key" in built.err
    key_file = config_path.parent / ".release" / "index.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    info = cli("index", "info", "--config", config_path, "--format", "json")
    data = json.loads(info.out)
    assert data["records"] == 60 and data["params"]["min_match_words"] == 12
    assert data["params"]["gram_words"] + data["params"]["stride"] - 1 == 12
    text = cli("index", "info", "--config", config_path)
    assert "every shared run of >= 12 words is found" in text.out


def test_index_holds_no_text(config_path: Path, cli: Callable[..., CliResult]) -> None:
    assert cli("index", "build", "--config", config_path).code == 0
    index = config_path.parent / ".release" / "index"
    blob = b"".join(p.read_bytes() for p in index.iterdir())
    for record in RECORDS:
        words = record["text"].split()
        for start in range(0, len(words) - 3, 3):
            assert " ".join(words[start: start + 3]).encode() not in blob
        assert record["name"].split()[1].encode() not in blob
        assert record["email"].encode() not in blob


def test_stale_index_is_rebuilt_when_data_changes(config_path: Path) -> None:
    config = load_config(config_path)
    first = ensure_index(config, SilentProgress())
    assert first.built and first.reason == "there is no index yet"
    assert not ensure_index(config, SilentProgress()).built
    data = config_path.parent / "train.jsonl"
    data.write_text(data.read_text() + json.dumps({"id": "new", "text": "more words"}) + "\n")
    again = ensure_index(config, SilentProgress())
    assert again.built and "changed" in (again.reason or "")
    assert again.index.meta.records == 61


def test_threshold_change_rebuilds_or_refuses(config_path: Path) -> None:
    ensure_index(load_config(config_path), SilentProgress())
    config_path.write_text(config_path.read_text().replace("min_match_words = 12",
                                                           "min_match_words = 16"))
    rebuilt = ensure_index(load_config(config_path), SilentProgress())
    assert rebuilt.built and rebuilt.index.meta.params.min_match_words == 16
    config_path.write_text(config_path.read_text().replace("min_match_words = 16",
                                                           "min_match_words = 20"))
    (config_path.parent / "train.jsonl").rename(config_path.parent / "elsewhere.jsonl")
    with pytest.raises(UsageError) as info:
        ensure_index(load_config(config_path), SilentProgress())
    assert "release index build" in str(info.value)


def test_ci_uses_the_index_with_the_key_from_the_environment(
        config_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(config_path)
    ensure_index(config, SilentProgress())
    key_file = config_path.parent / ".release" / "index.key"
    secret = key_file.read_text().strip()
    key_file.unlink()
    (config_path.parent / "train.jsonl").unlink()  # CI has no data
    with pytest.raises(ConfigError) as missing:
        ensure_index(config, SilentProgress())
    assert KEY_ENV in str(missing.value)
    monkeypatch.setenv(KEY_ENV, secret)
    assert ensure_index(config, SilentProgress()).index.meta.records == 60
    monkeypatch.setenv(KEY_ENV, "x" * 64)
    with pytest.raises(UsageError) as wrong:
        ensure_index(config, SilentProgress())
    assert "not the key this index was built with" in str(wrong.value)


def test_short_keys_are_refused(config_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "short")
    with pytest.raises(UsageError):
        ensure_index(load_config(config_path), SilentProgress())


def test_corrupt_index_is_an_input_error(config_path: Path) -> None:
    config = load_config(config_path)
    ensure_index(config, SilentProgress())
    (config.data.index / "meta.json").write_text("{}")
    (config_path.parent / "train.jsonl").rename(config_path.parent / "gone.jsonl")
    with pytest.raises(Exception) as info:
        ensure_index(config, SilentProgress())
    assert getattr(info.value, "exit_code", None) == 3
    assert os.fspath(config.data.index) in str(info.value)


def test_a_new_key_rebuilds_the_index_where_the_data_is(
        config_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(config_path)
    monkeypatch.setenv(KEY_ENV, "a" * 40)
    first = ensure_index(config, SilentProgress())
    monkeypatch.setenv(KEY_ENV, "b" * 40)
    rotated = ensure_index(config, SilentProgress())
    assert rotated.built and "another key" in (rotated.reason or "")
    assert rotated.index.meta.key_id != first.index.meta.key_id


def test_an_index_in_an_older_format_is_rebuilt_or_refused(config_path: Path) -> None:
    config = load_config(config_path)
    ensure_index(config, SilentProgress())
    meta_path = config.data.index / "meta.json"
    meta_path.write_text(meta_path.read_text().replace(f'"format": {INDEX_FORMAT}',
                                                       '"format": 1'))
    rebuilt = ensure_index(config, SilentProgress())
    assert rebuilt.built and "index format 1" in (rebuilt.reason or "")
    meta_path.write_text(meta_path.read_text().replace(f'"format": {INDEX_FORMAT}',
                                                       '"format": 1'))
    (config_path.parent / "train.jsonl").rename(config_path.parent / "gone.jsonl")
    with pytest.raises(UsageError, match=r"index format 1.*where the data lives"):
        ensure_index(config, SilentProgress())


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(st.sampled_from("ab Zé,.!-_ \n"), max_size=60), max_size=30),
       st.integers(1, 8))
def test_sensitive_values_are_kept_exactly_when_long_enough_and_short_enough(
        values: list[str], min_chars: int) -> None:
    from release.fingerprint.build import Part, Values, _Hasher
    from release.fingerprint.index import MAX_SENSITIVE_TOKENS, IndexParams
    from release.fingerprint.kernels.reference import gram_hashes
    from release.fingerprint.keys import IndexKey
    from release.fingerprint.spill import FIRST_ROW, GRAM_ROW, SENSITIVE_ROW, Spill
    from release.fingerprint.tokens import normalize, tokenize

    key = IndexKey(b"k" * 32, "test")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        part = Part(0, folder, grams=Spill(folder, "grams", GRAM_ROW, 1 << 20),
                    sensitive=Spill(folder, "sensitive", SENSITIVE_ROW, 1 << 20),
                    first=Spill(folder, "first", FIRST_ROW, 1 << 20))
        texts, sensitive = Values(), Values()
        sensitive.add(values, np.arange(len(values), dtype=np.int64))
        _Hasher(IndexParams.for_checks(12, min_chars), key, part).add_batch(texts, sensitive)
        part.sensitive.flush()
        rows = [np.load(run.path) for run in part.sensitive.runs]
    expected = []  # the definition, one value at a time
    for record, value in enumerate(values):
        norm = normalize(value)
        tokens = tokenize(norm)
        if len(norm.strip()) >= min_chars and 0 < len(tokens) <= MAX_SENSITIVE_TOKENS:
            whole = int(gram_hashes(tokens.hashes, len(tokens))[0])
            expected.append((record, len(tokens), whole))
    found = sorted((int(r["record"]), int(r["tokens"]), int(r["value"]))
                   for run in rows for r in run)
    hashes = siphash13(key.sip("sensitive"), np.array([w for _, _, w in expected],
                                                      dtype=np.uint64)).tolist()
    assert found == sorted((record, n, value) for (record, n, _), value
                           in zip(expected, hashes, strict=True))
