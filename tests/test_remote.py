"""Data sources at fsspec URLs: read as local files are (records, pieces, stamps), indexed to
the same findings; a file:// URL is a local path; a store without its package is a clear
error."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from release.config import DataSource, load_config
from release.errors import UsageError
from release.fingerprint.build import build_index
from release.remote import RemotePath, sha256_of
from release.sources import iter_batches, iter_records, source_mtime, source_pieces
from tests.fingerprint.corpus import make_records, write_corpus
from tests.fingerprint.test_build import KEY, artifacts, findings


@pytest.fixture
def store() -> Iterator[str]:
    """A fresh folder of the in-memory fsspec file system, removed afterwards."""
    root = f"/release-test-{uuid.uuid4().hex[:8]}"
    yield f"memory://{root}"
    fsspec.filesystem("memory").rm(root, recursive=True)


def upload(local: Path, url: str) -> None:
    memory = fsspec.filesystem("memory")
    for path in sorted(local.rglob("*")) if local.is_dir() else [local]:
        if path.is_file():
            target = url.removeprefix("memory://") + (
                "/" + path.relative_to(local).as_posix() if local.is_dir() else "")
            memory.pipe(target, path.read_bytes())


def source(path: Path | RemotePath, form: str) -> DataSource:
    return DataSource(path=path, format=form, id_field="id", text_fields=("text",),
                      sensitive_fields=("name",), record="line")


def test_sources_at_a_url_give_the_records_the_local_files_give(
        tmp_path: Path, store: str) -> None:
    rows = [{"id": f"r{n}", "text": f"words of record {n} " * (n % 40 + 1),
             "name": f"Person {n}"} for n in range(400)]
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    parquet = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet, row_group_size=50)
    folder = tmp_path / "hf"
    folder.mkdir()
    table = pa.Table.from_pylist(rows)
    for number in range(2):
        with pa.OSFile(str(folder / f"data-{number:05d}-of-00002.arrow"), "wb") as sink, \
                pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table.slice(number * 200, 200))
    for local, form in ((jsonl, "jsonl"), (parquet, "parquet"), (folder, "hf-dataset")):
        url = f"{store}/{local.name}"
        upload(local, url)
        remote = source(RemotePath(url), form)
        expected = list(iter_records(source(local, form)))
        assert list(iter_records(remote)) == expected
        pieces = source_pieces(remote, 2000)
        assert len(pieces) > 1
        assert [r for p in pieces for b in iter_batches(remote, p) for r in b.records()] == \
            expected
    assert sha256_of(RemotePath(f"{store}/d.jsonl")) == sha256_of(jsonl)


def test_an_index_of_sources_at_urls_finds_what_the_local_one_finds(
        tmp_path: Path, store: str) -> None:
    records = make_records(800, seed=4)
    pieces = artifacts(records, seed=4)
    local = load_config(write_corpus(tmp_path / "local", records, sources=2))
    build_index(local, KEY)
    for name in ("train.jsonl", "train1.jsonl"):
        upload(tmp_path / "local" / name, f"{store}/{name}")
    config_path = write_corpus(tmp_path / "remote", [], sources=2)
    text = config_path.read_text()
    for name in ("train.jsonl", "train1.jsonl"):
        text = text.replace(f'path = "{name}"', f'path = "{store}/{name}"')
    config_path.write_text(text)
    remote = load_config(config_path)
    assert all(isinstance(s.path, RemotePath) for s in remote.data.sources)
    meta = build_index(remote, KEY)
    assert [s.path for s in meta.sources] == [f"{store}/train.jsonl", f"{store}/train1.jsonl"]
    assert findings(remote, pieces) == findings(local, pieces)
    # a changed file has another version, so the index is seen to be stale
    before = source_mtime(remote.data.sources[0])
    fsspec.filesystem("memory").pipe(f"{store}/train.jsonl".removeprefix("memory://"),
                                     b'{"id": "x", "text": "other"}\n')
    assert source_mtime(remote.data.sources[0]) != before


def test_a_file_url_is_the_local_path_and_a_store_without_its_package_is_an_error(
        tmp_path: Path) -> None:
    config_path = write_corpus(tmp_path, make_records(10))
    shutil.move(tmp_path / "train.jsonl", tmp_path / "my data.jsonl")
    url = (tmp_path / "my data.jsonl").as_uri()
    config_path.write_text(config_path.read_text().replace('path = "train.jsonl"',
                                                           f'path = "{url}"'))
    config = load_config(config_path)
    assert config.data.sources[0].path == tmp_path / "my data.jsonl"
    missing = RemotePath("nosuchstore://bucket/data.jsonl")
    with pytest.raises(UsageError, match=r"nosuchstore://.*install the fsspec package"):
        missing.exists()
    config_path.write_text(config_path.read_text().replace(f'path = "{url}"',
                                                           f'path = "{missing}"'))
    with pytest.raises(UsageError, match="nosuchstore"):
        build_index(load_config(config_path), KEY)
