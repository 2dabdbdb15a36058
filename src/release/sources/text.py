"""Plain-text sources: CSV and TSV with a header row, and text files (a record per line or per
file)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator

from release.config import DataSource
from release.sources.json_lines import MAX_JSON_RECORD
from release.sources.records import Record, RecordBatch, grouped, record_of
from release.sources.streams import open_text

csv.field_size_limit(MAX_JSON_RECORD)


def _delimited(source: DataSource, delimiter: str) -> Iterator[Record]:
    with open_text(source.path) as handle:
        for row in csv.DictReader(handle, delimiter=delimiter):
            yield record_of(source, row)


def _txt(source: DataSource) -> Iterator[Record]:
    with open_text(source.path) as handle:
        if source.record == "file":
            yield Record(id=None, texts=(handle.read(),), sensitive=())
            return
        for line in handle:
            if line.strip():
                yield Record(id=None, texts=(line,), sensitive=())


def read_delimited(delimiter: str) -> Callable[[DataSource], Iterator[RecordBatch]]:
    """The reader of a table whose columns `delimiter` separates."""

    def read(source: DataSource) -> Iterator[RecordBatch]:
        yield from grouped(_delimited(source, delimiter))

    return read


def read_txt(source: DataSource) -> Iterator[RecordBatch]:
    yield from grouped(_txt(source))
