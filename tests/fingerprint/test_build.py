"""The index at any size: built in bounded memory (spilled, sharded), extended with new
sources, merged, and built on Dask, each giving the same findings (and Dask the same bytes)."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from release.config import Config, DataSource, load_config
from release.errors import UsageError
from release.fingerprint import build as build_module
from release.fingerprint import spill as spill_module
from release.fingerprint.assemble import plan_layout
from release.fingerprint.build import build_index, merge_indexes
from release.fingerprint.index import IndexParams, load_index
from release.fingerprint.keys import IndexKey
from release.fingerprint.match import Matcher
from release.sources import Piece
from tests.fingerprint.corpus import CORPUS_WORDS, FILLER_WORDS, make_records, write_corpus

KEY = IndexKey(b"k" * 32, "test")
OTHER_KEY = IndexKey(b"o" * 32, "other")
RECORDS = 9000  # about 75,000 stored grams: more than a 4 MiB build holds at once


def artifacts(records: list[dict[str, str]], seed: int) -> list[str]:
    """Filler text with planted slices of 12-20 words of random records, names and emails,
    and near misses (11 words)."""
    rng = random.Random(seed)
    pieces = []
    for _ in range(40):
        record = rng.choice(records)
        words = record["text"].split()
        length = rng.choice([11, 12, 15, 20])
        start = rng.randint(0, max(0, len(words) - length))
        filler = " ".join(rng.choice(FILLER_WORDS) for _ in range(rng.randint(0, 30)))
        planted = " ".join(words[start: start + length])
        extra = rng.choice([record["name"], record["email"], ""])
        pieces.append(f"{filler} {planted} {extra} {filler}")
    return pieces


def findings(config: Config, pieces: list[str], key: IndexKey = KEY) -> list[object]:
    """What the matcher finds in the pieces, by record id (numbering may differ)."""
    index = load_index(config.data.index, key)
    matcher = Matcher(index)
    text, sensitive = matcher.match(pieces)
    return sorted([("text", h.piece, h.start, h.end,
                    tuple(sorted(index.record_id(r) for r in h.records))) for h in text]
                  + [("value", h.piece, h.start, h.end, index.record_id(h.record))
                     for h in sensitive])


def mapped(array: object) -> bool:
    """Whether an array's memory is a map of its file (through the chain of views)."""
    import mmap

    while array is not None:
        if isinstance(array, np.memmap | mmap.mmap):
            return True
        array = getattr(array, "base", None)
    return False


@pytest.fixture(scope="module")
def corpus() -> list[dict[str, str]]:
    return make_records(RECORDS, seed=3)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory,
              corpus: list[dict[str, str]]) -> tuple[Config, list[str], list[object]]:
    """The corpus in three sources, built with the default memory: one shard, one run."""
    config = load_config(write_corpus(tmp_path_factory.mktemp("reference"), corpus, sources=3))
    build_index(config, KEY)
    pieces = artifacts(corpus, seed=5)
    found = findings(config, pieces)
    assert any(f[0] == "text" for f in found) and any(f[0] == "value" for f in found)
    return config, pieces, found


def test_a_small_build_memory_spills_and_shards_and_finds_the_same(
        tmp_path: Path, corpus: list[dict[str, str]],
        reference: tuple[Config, list[str], list[object]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    _, pieces, expected = reference
    runs = []
    original = spill_module.Spill.flush

    def counted(self: spill_module.Spill) -> None:
        before = len(self.runs)
        original(self)
        runs.extend([self.name] * (len(self.runs) - before))

    monkeypatch.setattr(spill_module.Spill, "flush", counted)
    config = load_config(write_corpus(tmp_path, corpus, build_memory="4MiB"))
    meta = build_index(config, KEY)
    assert meta.layout is not None and meta.layout.shard_bits >= 1
    assert len(meta.layout.shard_grams) == 1 << meta.layout.shard_bits
    assert sum(meta.layout.shard_grams) == meta.grams
    assert runs.count("grams") > 1  # the one source's grams did not fit: the build spilled
    assert findings(config, pieces) == expected
    assert not (config.data.index / "spill").exists()


def test_loading_opens_the_files_where_they_lie(
        reference: tuple[Config, list[str], list[object]]) -> None:
    config, _, _ = reference
    index = load_index(config.data.index, KEY)
    for array in (index.shards[0].fingerprints, index.shards[0].checks,
                  index.unit_record, index.record_blob, index.sensitive.values):
        assert mapped(array)
    assert index.records == RECORDS
    assert index.record_id(0) == "doc-0000" and index.record_id(1) == "doc-0003"


def test_a_bitmap_too_large_to_make_when_opened_is_stored_and_finds_the_same(
        tmp_path: Path, corpus: list[dict[str, str]],
        reference: tuple[Config, list[str], list[object]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from release.fingerprint import index as index_module

    _, pieces, expected = reference
    monkeypatch.setattr(index_module, "SPARSE_BITMAP_BITS", 16)  # as for a large index
    config = load_config(write_corpus(tmp_path, corpus, sources=3, build_memory="4MiB"))
    build_index(config, KEY)
    assert (config.data.index / "gram_bitmap.npy").is_file()
    assert mapped(load_index(config.data.index, KEY).gram_bitmap)
    assert findings(config, pieces) == expected


def test_sources_added_later_are_indexed_alone_and_merged(
        tmp_path: Path, corpus: list[dict[str, str]],
        reference: tuple[Config, list[str], list[object]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    _, pieces, expected = reference
    path = write_corpus(tmp_path, corpus, sources=3)
    text = path.read_text()
    first_two = text[: text.index('[[data.sources]]\npath = "train2.jsonl"')]
    path.write_text(first_two)
    build_index(load_config(path), KEY, config_digest="two")
    read = []
    original = build_module.iter_batches
    monkeypatch.setattr(build_module, "iter_batches",
                        lambda source, piece=None: (read.append(source.path.name),
                                                    original(source, piece))[1])
    path.write_text(text)
    config = load_config(path)
    meta = build_index(config, KEY)
    assert read == ["train2.jsonl"]  # the old sources were not read again
    assert [s.key for s in meta.sources] == [f"data.sources[{n}]" for n in range(3)]
    assert findings(config, pieces) == expected


def test_merged_indexes_find_what_the_whole_index_finds(
        tmp_path: Path, corpus: list[dict[str, str]],
        reference: tuple[Config, list[str], list[object]]) -> None:
    _, pieces, expected = reference
    half = len(corpus) // 2
    first = load_config(write_corpus(tmp_path / "a", corpus[:half], build_memory="4MiB"))
    second = load_config(write_corpus(tmp_path / "b", corpus[half:]))
    build_index(first, KEY)
    build_index(second, KEY)
    merged = tmp_path / "merged"
    meta = merge_indexes([first.data.index, second.data.index], merged, KEY, memory=4 << 20)
    assert meta.records == len(corpus)
    as_config = load_config(write_corpus(tmp_path / "c", []))
    shutil.rmtree(as_config.data.index, ignore_errors=True)
    shutil.copytree(merged, as_config.data.index)
    found = findings(as_config, pieces)
    assert sorted(f[:4] for f in found) == sorted(f[:4] for f in expected)  # same places
    assert {f[4] if isinstance(f[4], str) else f[4][0] for f in found} == \
        {f[4] if isinstance(f[4], str) else f[4][0] for f in expected}


def test_merging_refuses_another_key_or_guarantee(tmp_path: Path) -> None:
    records = make_records(60, seed=1)
    one = load_config(write_corpus(tmp_path / "one", records))
    other_key = load_config(write_corpus(tmp_path / "two", records))
    other_guarantee = load_config(write_corpus(tmp_path / "three", records, min_match_words=16))
    build_index(one, KEY)
    build_index(other_key, OTHER_KEY)
    build_index(other_guarantee, KEY)
    with pytest.raises(UsageError, match="another key"):
        merge_indexes([one.data.index, other_key.data.index], tmp_path / "m", KEY,
                      memory=4 << 20)
    with pytest.raises(UsageError, match=r"another guarantee.*min_match_words"):
        merge_indexes([one.data.index, other_guarantee.data.index], tmp_path / "m", KEY,
                      memory=4 << 20)
    assert not (tmp_path / "m").exists()


def test_every_width_is_checked_or_widened() -> None:
    params = IndexParams.for_checks(12, 6)
    small = plan_layout(params, grams=1000, units=10, records=10, longest_unit=100,
                        memory=2 << 30)
    assert (small.gram_bytes, small.table_dtype, small.shard_bits) == (2, "<u4", 0)
    large = plan_layout(params, grams=1 << 36, units=5 << 32, records=5 << 32,
                        longest_unit=1 << 33, memory=2 << 30)
    assert (large.gram_bytes, large.table_dtype, large.shard_bits) == (5, "<u8", 12)
    assert large.gram_bitmap_bits == 32


@pytest.mark.slow
def test_a_dask_build_of_sources_in_pieces_writes_the_same_bytes(
        tmp_path: Path, corpus: list[dict[str, str]],
        reference: tuple[Config, list[str], list[object]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from release.fingerprint.engines import DaskEngine

    local = load_config(write_corpus(tmp_path / "local", corpus, sources=3,
                                     build_memory="4MiB"))
    distributed = load_config(write_corpus(tmp_path / "dask", corpus, sources=3,
                                           build_memory="4MiB"))
    build_index(local, KEY, config_digest="same")
    cut = []
    original = build_module.source_pieces

    def pieces(source: DataSource, piece_bytes: int) -> list[Piece | None]:
        found = original(source, piece_bytes)
        cut.append(len(found))
        return found

    monkeypatch.setattr(build_module, "source_pieces", pieces)
    with DaskEngine(workers=2, piece_bytes=256 << 10) as engine:
        build_index(distributed, KEY, config_digest="same", engine=engine)
    assert len(cut) == 3 and min(cut) > 1  # each source was read as several pieces
    names = sorted(p.name for p in local.data.index.iterdir())
    assert names == sorted(p.name for p in distributed.data.index.iterdir())
    assert len([n for n in names if n.endswith(".fingerprints.npy")]) > 1
    for name in names:
        if name == "meta.json":
            ours, theirs = (json.loads((c.data.index / name).read_text())
                            for c in (local, distributed))
            for meta in (ours, theirs):
                meta.pop("created")
                for stamp in meta["sources"]:
                    stamp.pop("path"), stamp.pop("mtime_ns")  # the two copies differ here
            assert ours == theirs
        else:
            assert (local.data.index / name).read_bytes() == \
                (distributed.data.index / name).read_bytes(), name
    _, pieces, expected = reference
    assert findings(distributed, pieces) == expected


def test_words_of_the_corpus_stay_out_of_the_index_files(
        reference: tuple[Config, list[str], list[object]]) -> None:
    config, _, _ = reference
    blob = b"".join(p.read_bytes() for p in config.data.index.iterdir())
    phrase = " ".join(CORPUS_WORDS[:3]).encode()
    assert b"Quorra" not in blob and b"hospital.invalid" not in blob and phrase not in blob


def _tiny_spills(folder: Path, memory: int) -> tuple[spill_module.Spill, ...]:
    """Spills that flush every few thousand rows, as a large corpus's would."""
    return (spill_module.Spill(folder, "grams", spill_module.GRAM_ROW, 24 * 700),
            spill_module.Spill(folder, "sensitive", spill_module.SENSITIVE_ROW, 24 * 300),
            spill_module.Spill(folder, "first", spill_module.FIRST_ROW, 8 * 300))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**16), count=st.integers(200, 1500),
       min_match_words=st.sampled_from([8, 12, 20]))
def test_sharded_spilled_merged_and_extended_indexes_find_the_same(
        seed: int, count: int, min_match_words: int) -> None:
    import tempfile

    from release.fingerprint import assemble

    records = make_records(count, seed=seed)
    pieces = artifacts(records, seed=seed)
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        folder = Path(tmp)
        whole = load_config(write_corpus(folder / "whole", records,
                                         min_match_words=min_match_words))
        build_index(whole, KEY)
        expected = findings(whole, pieces)
        patch.setattr(build_module, "part_spills", _tiny_spills)
        patch.setattr(assemble, "SHARD_BYTES_PER_GRAM", 4 << 10)  # about 500 grams a shard
        sharded = load_config(write_corpus(folder / "sharded", records, sources=3,
                                           min_match_words=min_match_words,
                                           build_memory="4MiB"))
        meta = build_index(sharded, KEY)
        assert meta.layout is not None and meta.layout.shard_bits >= 1
        assert findings(sharded, pieces) == expected
        half = count // 2
        first = load_config(write_corpus(folder / "a", records[:half],
                                         min_match_words=min_match_words))
        second = load_config(write_corpus(folder / "b", records[half:],
                                          min_match_words=min_match_words))
        build_index(first, KEY)
        build_index(second, KEY)
        merged = load_config(write_corpus(folder / "merged", [],
                                          min_match_words=min_match_words))
        merge_indexes([first.data.index, second.data.index], merged.data.index, KEY,
                      memory=4 << 20)
        assert findings(merged, pieces) == expected
        path = write_corpus(folder / "extended", records, sources=3,
                            min_match_words=min_match_words)
        text = path.read_text()
        path.write_text(text[: text.index('[[data.sources]]\npath = "train2.jsonl"')])
        build_index(load_config(path), KEY)
        path.write_text(text)
        extended = load_config(path)
        build_index(extended, KEY)
        assert findings(extended, pieces) == expected


def test_an_index_build_reports_every_byte_and_record() -> None:
    import tempfile

    reported: dict[str, list[tuple[int, int]]] = {}
    totals: dict[str, int | None] = {}

    class Recording:
        def __init__(self, name: str) -> None:
            self.name = name

        def advance(self, amount: int, items: int = 0) -> None:
            reported[self.name].append((amount, items))

        def __enter__(self) -> Recording:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

    class RecordingProgress:
        def task(self, description: str, total: int | None, *, unit: str = "bytes",
                 items: str | None = None) -> Recording:
            reported[description], totals[description] = [], total
            return Recording(description)

    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(write_corpus(Path(tmp), make_records(500), sources=2))
        build_index(config, KEY, progress=RecordingProgress())
        size = sum(p.stat().st_size for p in Path(tmp).glob("*.jsonl"))
    indexing = reported["Indexing training data"]
    assert totals["Indexing training data"] == size == sum(a for a, _ in indexing)
    assert sum(items for _, items in indexing) == 500
    assert sum(a for a, _ in reported["Writing index shards"]) == totals["Writing index shards"]
