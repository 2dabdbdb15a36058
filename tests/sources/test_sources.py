"""Tests for the data-source readers: every format, compression, ids, streaming JSON arrays."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from release.config import DataSource
from release.errors import InputError
from release.sources import Record, RecordBatch, iter_batches, iter_records, json_lines, records

ROWS = [{"id": i, "note": f"note number {i}", "name": f"Name{i}", "tags": ["a", "b"]}
        for i in range(5)]


def source(path: Path, fmt: str, **extra: object) -> DataSource:
    values = {"id_field": "id", "text_fields": ("note",), "sensitive_fields": ("name",),
              "record": "line"}
    values.update(extra)
    return DataSource(path=path, format=fmt, **values)  # type: ignore[arg-type]


def expected() -> list[Record]:
    return [Record(str(r["id"]), (str(r["note"]),), (str(r["name"]),)) for r in ROWS]


def write(path: Path, fmt: str) -> None:
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    elif fmt == "json":
        path.write_text(json.dumps(ROWS, indent=1))
    elif fmt in ("csv", "tsv"):
        sep = "," if fmt == "csv" else "\t"
        path.write_text(f"id{sep}note{sep}name\n"
                        + "".join(f"{r['id']}{sep}{r['note']}{sep}{r['name']}\n" for r in ROWS))
    elif fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(ROWS), path)


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "tsv", "parquet"])
def test_each_format(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"data.{fmt}"
    write(path, fmt)
    assert list(iter_records(source(path, fmt))) == expected()


@pytest.mark.parametrize("suffix", [".gz", ".zst"])
def test_compressed(tmp_path: Path, suffix: str) -> None:
    raw = "".join(json.dumps(r) + "\n" for r in ROWS).encode()
    data = gzip.compress(raw) if suffix == ".gz" else zstandard.ZstdCompressor().compress(raw)
    path = tmp_path / f"data.jsonl{suffix}"
    path.write_bytes(data)
    assert list(iter_records(source(path, "jsonl"))) == expected()


def test_hf_dataset_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    (folder / "train").mkdir(parents=True)
    table = pa.Table.from_pylist(ROWS)
    with pa.OSFile(str(folder / "train" / "data-00000-of-00001.arrow"), "wb") as sink, \
            pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    (folder / "dataset_dict.json").write_text("{}")
    assert list(iter_records(source(folder, "hf-dataset"))) == expected()


def test_txt_lines_and_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("first line\n\nsecond line\n")
    lines = list(iter_records(source(path, "txt", id_field=None)))
    assert [r.texts for r in lines] == [("first line\n",), ("second line\n",)]
    whole = list(iter_records(source(path, "txt", id_field=None, record="file")))
    assert len(whole) == 1


def test_list_values_and_missing_fields(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"note": ["a", "b"]}) + "\n")
    (record,) = iter_records(source(path, "jsonl", id_field="id"))
    assert record == Record(None, ("a", "b"), ())


def test_json_array_is_streamed_in_small_reads(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_lines, "JSON_READ_CHUNK", 16)
    path = tmp_path / "d.json"
    write(path, "json")
    assert list(iter_records(source(path, "json"))) == expected()


@pytest.mark.parametrize(("fmt", "text", "words"), [
    ("jsonl", '{"a": 1}\nnot json\n', "line 2"),
    ("json", '{"a": 1}', "JSON array"),
    ("json", '[{"a": 1}, 7]', "record 1"),
])
def test_bad_data_names_the_file_and_place(tmp_path: Path, fmt: str, text: str,
                                           words: str) -> None:
    path = tmp_path / f"d.{fmt}"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        list(iter_records(source(path, fmt)))
    assert words in str(info.value) and str(path) in str(info.value)


JSONL_CASES = {
    "flat": [{"id": 1, "text": "alpha beta", "name": "Ann"}, {"id": 2, "text": "gamma"}],
    "floats": [{"id": 1, "text": "a"}, {"id": 2.5, "text": "b"}],
    "nested": [{"id": "x", "text": ["one", {"k": "two"}], "name": None},
               {"id": "y", "text": [], "name": "Bo"}],
    "dates": [{"id": "d", "text": "2020-01-01 10:00:00", "name": "2021-02-03"}],
    "mixed later": [{"id": i, "text": f"t{i}"} for i in range(40_000)]  # > one Arrow block
    + [{"id": "late", "text": 7.5}],
    "unicode": [{"id": "u", "text": "Grüße \\u00e9 ✓", "name": "Zoë"}],
}


@pytest.mark.parametrize("case", sorted(JSONL_CASES))
def test_jsonl_arrow_reader_gives_the_rows_that_json_loads_gives(
        case: str, tmp_path: Path) -> None:
    from release.sources.json_lines import _jsonl_rows

    path = tmp_path / "data.jsonl"
    lines = [json.dumps(row) for row in JSONL_CASES[case]]
    lines.insert(1, "")  # a blank line
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    source = DataSource(path=path, format="jsonl", id_field="id", text_fields=("text",),
                        sensitive_fields=("name",), record="line")
    assert list(iter_records(source)) == list(_jsonl_rows(source))
    read_by_arrow = 0
    try:
        for _ in json_lines.columnar_batches(source):
            read_by_arrow += 1
        whole = True
    except json_lines.NotColumnar:
        whole = False
    assert whole == (case in {"flat", "unicode"})
    if case == "mixed later":
        assert read_by_arrow > 0, "the row parser must take over where Arrow stopped"


def test_jsonl_bad_line_still_names_its_number(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text('{"id": 1, "text": "ok"}\n{"id": 2, "text": \n')
    source = DataSource(path=path, format="jsonl", id_field="id", text_fields=("text",),
                        sensitive_fields=(), record="line")
    with pytest.raises(InputError, match="line 2"):
        list(iter_records(source))


@pytest.mark.parametrize("id_field", ["id", "number", None, "absent"])
def test_arrow_batches_give_the_records_the_row_path_gives(tmp_path: Path,
                                                           id_field: str | None) -> None:
    rows = [{"id": "a", "number": 1, "text": "one", "title": None, "name": "Ann"},
            {"id": None, "number": None, "text": None, "title": "two", "name": None},
            {"id": "c", "number": 3, "text": "three", "title": "", "name": "Cy"}]
    path = tmp_path / "data.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    src = DataSource(path=path, format="parquet", id_field=id_field,
                     text_fields=("text", "title"), sensitive_fields=("name",), record="line")
    (batch,) = iter_batches(src)
    assert list(batch.records()) == [records.record_of(src, row) for row in rows]
    again = RecordBatch.of(list(batch.records()))
    assert (again.ids, again.texts, again.sensitive) == (batch.ids, batch.texts, batch.sensitive)
    assert again.text_records.tolist() == batch.text_records.tolist()
    assert again.sensitive_records.tolist() == batch.sensitive_records.tolist()
