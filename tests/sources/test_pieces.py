"""Sources cut into pieces: read one after the other, the pieces give the source's records,
each once, in order; a bad line in a piece is named by its line in the file."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from release.config import DataSource
from release.errors import InputError
from release.sources import Piece, iter_batches, iter_records, source_pieces


def records_of(source: DataSource, pieces: list[Piece | None]) -> list[object]:
    return [record for piece in pieces for batch in iter_batches(source, piece)
            for record in batch.records()]


def rows(count: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    return [{"id": f"r{n}", "text": "word " * rng.randint(0, 400) + f"end{n}",
             "name": f"Person {n}"} for n in range(count)]


def source_of(path: Path, form: str) -> DataSource:
    return DataSource(path=path, format=form, id_field="id", text_fields=("text",),
                      sensitive_fields=("name",), record="line")


@pytest.mark.parametrize("ending", ["\n", ""])
@pytest.mark.parametrize("piece_bytes", [1, 100, 4096, 50_000])
def test_json_lines_in_pieces_give_every_record_once(tmp_path: Path, piece_bytes: int,
                                                     ending: str) -> None:
    path = tmp_path / "data.jsonl"
    lines = [json.dumps(row) for row in rows(300, seed=piece_bytes)]
    lines[7] = ""  # a blank line
    lines[20] = json.dumps({"id": "long", "text": "x" * 9000})  # across several cuts
    path.write_text("\n".join(lines) + ending, encoding="utf-8")
    source = source_of(path, "jsonl")
    pieces = source_pieces(source, piece_bytes)
    assert len(pieces) > 1
    for piece in pieces:
        assert piece is not None and piece.unit == "bytes"
        assert piece.start == 0 or path.read_bytes()[piece.start - 1: piece.start] == b"\n"
    assert records_of(source, pieces) == list(iter_records(source))


def test_a_file_smaller_than_a_piece_or_compressed_is_one_piece(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows(50, seed=1)))
    assert source_pieces(source_of(path, "jsonl"), 1 << 20) == [None]
    packed = tmp_path / "data.jsonl.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    assert source_pieces(source_of(packed, "jsonl"), 10) == [None]
    assert source_pieces(source_of(path, "json"), 10) == [None]


def test_a_bad_line_in_a_piece_is_named_by_its_line_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    lines = [json.dumps(row) for row in rows(200, seed=2)]
    lines[150] = "{not json"
    path.write_text("\n".join(lines) + "\n")
    source = source_of(path, "jsonl")
    pieces = source_pieces(source, 2000)
    with pytest.raises(InputError, match="line 151 is not valid JSON"):
        records_of(source, pieces)


def test_parquet_in_row_group_pieces_gives_every_record_once(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    pq.write_table(pa.Table.from_pylist(rows(500, seed=3)), path, row_group_size=40)
    source = source_of(path, "parquet")
    pieces = source_pieces(source, 1)
    assert len(pieces) == 13 and all(p is not None and p.unit == "row_groups" for p in pieces)
    assert records_of(source, pieces) == list(iter_records(source))


def test_a_dataset_folder_in_file_pieces_gives_every_record_once(tmp_path: Path) -> None:
    folder = tmp_path / "hf"
    folder.mkdir()
    table = pa.Table.from_pylist(rows(90, seed=4))
    for number in range(3):
        with pa.OSFile(str(folder / f"data-{number:05d}-of-00003.arrow"), "wb") as sink, \
                pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table.slice(number * 30, 30))
    source = source_of(folder, "hf-dataset")
    pieces = source_pieces(source, 1)
    assert [(p.start, p.end) for p in pieces if p is not None] == [(0, 1), (1, 2), (2, 3)]
    assert records_of(source, pieces) == list(iter_records(source))
