"""Streams records from confidential data sources, whatever reads them (the index, the audit):
one reader per format in READERS, each yielding batches of records."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import zstandard

from release.config import DataSource
from release.errors import InputError
from release.remote import SourcePath
from release.sources.arrow import dataset_files, read_dataset, read_parquet
from release.sources.json_lines import read_json_array, read_jsonl
from release.sources.pieces import Piece, source_pieces
from release.sources.records import Record, RecordBatch
from release.sources.text import read_delimited, read_txt

__all__ = ["READERS", "Piece", "Record", "RecordBatch", "dataset_files", "iter_batches",
           "iter_records", "source_files", "source_mtime", "source_pieces"]

Reader = Callable[[DataSource], Iterator[RecordBatch]]
# one reader per `format` of [[data.sources]] (config.SOURCE_FORMATS)
READERS: dict[str, Reader] = {
    "jsonl": read_jsonl,
    "json": read_json_array,
    "csv": read_delimited(","),
    "tsv": read_delimited("\t"),
    "parquet": read_parquet,
    "hf-dataset": read_dataset,
    "txt": read_txt,
}
# the readers that read a piece of a source alone (sources.pieces cuts only these formats)
PIECE_READERS: dict[str, Callable[[DataSource, Piece], Iterator[RecordBatch]]] = {
    "jsonl": read_jsonl,
    "parquet": read_parquet,
    "hf-dataset": read_dataset,
}


def iter_records(source: DataSource) -> Iterator[Record]:
    """Every record of a source, streamed; bad data raises InputError naming the file."""
    for batch in iter_batches(source):
        yield from batch.records()


def iter_batches(source: DataSource, piece: Piece | None = None) -> Iterator[RecordBatch]:
    """The records of a source (or of one of its pieces) in batches, streamed (Arrow-backed
    sources without a Python object per record); bad data raises InputError naming the
    file."""
    reader = READERS.get(source.format)
    if reader is None:
        raise InputError(f"unknown source format {source.format!r}", path=source.path)
    try:
        if piece is None:
            yield from reader(source)
        else:
            yield from PIECE_READERS[source.format](source, piece)
    except (OSError, EOFError, zstandard.ZstdError) as exc:
        raise InputError(f"cannot read data source: {exc}", path=source.path) from None


def source_files(source: DataSource) -> list[SourcePath]:
    """The files a source is read from: the file itself, or a dataset folder's Arrow shards."""
    return dataset_files(source.path) if source.path.is_dir() else [source.path]


def source_mtime(source: DataSource) -> int:
    """The newest modification time of a source, its files included (nanoseconds)."""
    files = source_files(source)
    return max([source.path.stat().st_mtime_ns] + [p.stat().st_mtime_ns for p in files])


_FAMILIES = {"csv": "table", "tsv": "table", "jsonl": "jsonl", "json-records": "json",
             "json": "json", "parquet": "parquet"}


def format_mismatch(source: DataSource) -> str | None:
    """What the source's first bytes say it is, when that is another kind of file than its
    `format` (a JSON Lines file read as CSV gives no text); None when they agree or the bytes
    do not tell."""
    from release.extract.sniff import HEAD_BYTES, magic_format, text_format
    from release.sources.streams import open_binary

    declared = _FAMILIES.get(source.format)
    if declared is None or source.path.is_dir():
        return None
    try:
        with open_binary(source.path) as stream:
            head = stream.read(HEAD_BYTES)
            complete = len(head) < HEAD_BYTES or not stream.read(1)
    except (OSError, EOFError, zstandard.ZstdError):
        return None  # reading it fails later, with the reason
    found = "parquet" if magic_format(head, None) == "parquet" else text_format(head, complete)
    if found is None or _FAMILIES.get(found) == declared:
        return None
    return {"json-records": "a JSON array of records", "jsonl": "JSON Lines",
            "csv": "CSV", "tsv": "TSV", "parquet": "Parquet"}[found]
