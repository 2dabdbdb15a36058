"""Tests for the data-file and unsafe-serialisation detectors, with real files of each format."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import sqlite3
import struct
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
import zstandard
from safetensors.numpy import save_file

from release import rules
from release.detectors.formats import file_format_findings
from release.extract.sniff import crc32c
from release.findings import Finding
from release.pipeline.inventory import Item
from release.pipeline.kinds import classify_kind
from release.pipeline.read import Artifact
from release.pipeline.scan import read_artifact
from release.progress import SilentProgress

ROWS = [{"id": i, "text": f"record number {i} with words"} for i in range(10)]
CSV = "id,text\n" + "".join(f"{r['id']},{r['text']}\n" for r in ROWS)
JSONL = "".join(json.dumps(r) + "\n" for r in ROWS)


def artifact(path: Path) -> Artifact:
    item = Item(path.name, path, classify_kind(path.name), "model")
    with SilentProgress().task("", None) as task:
        result = read_artifact(item, task)
    assert isinstance(result, Artifact)
    return result


def detect(path: Path) -> list[Finding]:
    return file_format_findings(artifact(path))


def rule_ids(path: Path) -> list[str]:
    return [f.rule.id for f in detect(path)]


def tfrecord(payload: bytes) -> bytes:
    def masked(data: bytes) -> int:
        crc = crc32c(data)
        return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF

    length = struct.pack("<Q", len(payload))
    return (length + struct.pack("<I", masked(length)) + payload
            + struct.pack("<I", masked(payload)))


def test_crc32c_known_value() -> None:
    assert crc32c(b"123456789") == 0xE3069283


def write_table(path: Path, writer: str) -> None:
    table = pa.table({"id": [r["id"] for r in ROWS], "text": [r["text"] for r in ROWS]})
    if writer == "parquet":
        pq.write_table(table, path)
    elif writer == "feather":
        feather.write_feather(table, path)
    elif writer == "arrow":
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as out:
            out.write_table(table)


def npy_bytes() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.arange(10))
    return buffer.getvalue()


# Each case: a file name that hides the format, and how to write it.
CONTENT_CASES = {
    "csv": lambda p: p.write_text(CSV),
    "tsv": lambda p: p.write_text(CSV.replace(",", "\t")),
    "jsonl": lambda p: p.write_text(JSONL),
    "json-records": lambda p: p.write_text(json.dumps(ROWS, indent=2)),
    "parquet": lambda p: write_table(p, "parquet"),
    "arrow": lambda p: write_table(p, "feather"),  # feather v2 is the Arrow IPC file format
    "npy": lambda p: p.write_bytes(npy_bytes()),
    "hdf5": lambda p: p.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100)),
    "tfrecord": lambda p: p.write_bytes(tfrecord(b"example payload bytes")),
    "csv+gzip": lambda p: p.write_bytes(gzip.compress(CSV.encode())),
    "jsonl+zstd": lambda p: p.write_bytes(zstandard.ZstdCompressor().compress(JSONL.encode())),
    "csv+bzip2": lambda p: p.write_bytes(bz2.compress(CSV.encode())),
    "parquet+xz": lambda p: (write_table(p, "parquet"), p.write_bytes(lzma.compress(
        p.read_bytes())))[-1],
}


@pytest.mark.parametrize("fmt", sorted(CONTENT_CASES))
def test_data_recognised_by_content_under_a_harmless_name(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "notes.txt" if "+" not in fmt and fmt in {"csv", "tsv", "jsonl"} else \
        tmp_path / "blob"
    CONTENT_CASES[fmt](path)
    findings = detect(path)
    assert [f.rule for f in findings] == [rules.DATA_FILE]
    assert findings[0].evidence == {"format": fmt, "detected_by": "content"}


def test_sqlite_by_content(tmp_path: Path) -> None:
    path = tmp_path / "cache.bin"
    with sqlite3.connect(path) as db:
        db.execute("create table t (x text)")
        db.execute("insert into t values ('a')")
    db.close()
    assert detect(path)[0].evidence["format"] == "sqlite"


@pytest.mark.parametrize("name", ["train.csv", "train.parquet", "eval.jsonl", "x.npz",
                                  "rows.tsv.gz", "db.sqlite"])
def test_data_recognised_by_extension(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    findings = detect(path)
    assert [f.rule for f in findings] == [rules.DATA_FILE]
    assert findings[0].evidence["detected_by"] == "extension"


def test_extension_and_content_give_one_finding(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    path.write_text(CSV)
    findings = detect(path)
    assert len(findings) == 1
    assert findings[0].evidence == {"format": "csv", "detected_by": "extension+content"}


def test_data_member_in_zip(tmp_path: Path) -> None:
    path = tmp_path / "bundle.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.md", "hello")
        archive.writestr("inner/train.csv", CSV)
    findings = detect(path)
    assert [(f.rule, f.member) for f in findings] == [(rules.DATA_FILE, "inner/train.csv")]


def clean_files(folder: Path) -> list[Path]:
    save_file({"w": np.zeros((4, 4), dtype=np.float32)}, str(folder / "model.safetensors"))
    files = {
        "config.json": json.dumps({"model_type": "gpt2", "n_layer": 2, "vocab_size": 100}),
        "tokenizer.json": json.dumps({"model": {"vocab": {"a": 1}}, "added_tokens": []}),
        "train.py": "import csv, json\nrows = [1, 2]\nfor a, b in pairs:\n    print(a, b)\n",
        "README.md": "# Model\n\nThis model, trained by us, is small.\n\nUse it, with care, "
                     "please.\n\nAnother line, with one comma.\n",
        "requirements.txt": "numpy>=1.26\nsafetensors\n",
        "merges.txt": "#version: 0.2\na b\nc d\n",
        "generation_config.json": "{\"max_length\": 20}",
        "empty.txt": "",
    }
    for name, text in files.items():
        (folder / name).write_text(text)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("docs/readme.md", "hello")
    (folder / "docs.zip").write_bytes(buffer.getvalue())
    return sorted(folder.iterdir())


def test_clean_model_files_have_no_findings(tmp_path: Path) -> None:
    for path in clean_files(tmp_path):
        assert detect(path) == [], path.name


def test_keras_hdf5_weights_are_not_data(tmp_path: Path) -> None:
    path = tmp_path / "tf_model.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    assert detect(path) == []
