"""Streams records from confidential data sources (jsonl, json, csv, tsv, parquet, txt, arrow)."""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import numpy as np
import numpy.typing as npt
import zstandard

from release.config import DataSource
from release.errors import InputError

JSON_READ_CHUNK = 1 << 20
BATCH_RECORDS = 4096
MAX_JSON_RECORD = 64 << 20  # one JSON record larger than this is refused, not buffered forever
csv.field_size_limit(MAX_JSON_RECORD)


@dataclass(frozen=True)
class Record:
    """One training record: its id (given or keyed-hash), free-text values, sensitive values."""

    id: str | None
    texts: tuple[str, ...]
    sensitive: tuple[str, ...]


@dataclass(frozen=True)
class RecordBatch:
    """Consecutive records read together: each record's id (None where it has none), and their
    text and sensitive values flattened, each with the number of its record in the batch."""

    ids: list[str | None]
    texts: list[str]
    text_records: npt.NDArray[np.int64]
    sensitive: list[str]
    sensitive_records: npt.NDArray[np.int64]

    @classmethod
    def of(cls, records: Sequence[Record]) -> RecordBatch:
        texts: list[str] = []
        sensitive: list[str] = []
        text_records: list[int] = []
        sensitive_records: list[int] = []
        for number, record in enumerate(records):
            texts.extend(record.texts)
            text_records.extend([number] * len(record.texts))
            sensitive.extend(record.sensitive)
            sensitive_records.extend([number] * len(record.sensitive))
        return cls([r.id for r in records], texts, np.array(text_records, dtype=np.int64),
                   sensitive, np.array(sensitive_records, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.ids)

    def records(self) -> Iterator[Record]:
        texts: list[list[str]] = [[] for _ in self.ids]
        sensitive: list[list[str]] = [[] for _ in self.ids]
        for number, text in zip(self.text_records.tolist(), self.texts, strict=True):
            texts[number].append(text)
        for number, value in zip(self.sensitive_records.tolist(), self.sensitive, strict=True):
            sensitive[number].append(value)
        for record_id, own_texts, own_sensitive in zip(self.ids, texts, sensitive, strict=True):
            yield Record(record_id, tuple(own_texts), tuple(own_sensitive))


def _grouped(records: Iterable[Record]) -> Iterator[RecordBatch]:
    iterator = iter(records)
    while chunk := list(itertools.islice(iterator, BATCH_RECORDS)):
        yield RecordBatch.of(chunk)


def _compression(path: Path) -> str | None:
    suffix = path.suffix.lower()
    return {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}.get(suffix)


@contextmanager
def open_binary(path: Path) -> Iterator[IO[bytes]]:
    """The file's bytes, transparently decompressed (gzip, zstd), streamed."""
    compression = _compression(path)
    with path.open("rb") as raw:
        if compression == "gzip":
            with gzip.GzipFile(fileobj=raw) as stream:
                yield cast(IO[bytes], stream)
        elif compression == "zstd":
            with zstandard.ZstdDecompressor().stream_reader(raw) as zstream:
                yield cast(IO[bytes], zstream)
        else:
            yield raw


@contextmanager
def open_text(path: Path) -> Iterator[IO[str]]:
    with open_binary(path) as stream:
        yield io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")


def _value_texts(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, bool | int | float):
        return [str(value)]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _value_texts(item)]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _value_texts(item)]
    return [str(value)]


def _record(source: DataSource, row: dict[str, Any]) -> Record:
    raw_id = row.get(source.id_field) if source.id_field else None
    return Record(
        id=None if raw_id is None else str(raw_id),
        texts=tuple(t for f in source.text_fields for t in _value_texts(row.get(f))),
        sensitive=tuple(t for f in source.sensitive_fields for t in _value_texts(row.get(f))),
    )


class _NotColumnar(Exception):
    """The JSON Lines file does not fit one plain Arrow schema; the row parser reads it."""


def _plain_arrow_type(kind: Any) -> bool:
    """Types whose Python values print exactly as `json.loads` values would: no floats (an id
    1 must not become 1.0) and no timestamps inferred from strings."""
    import pyarrow as pa

    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _plain_arrow_type(kind.value_type)
    if pa.types.is_struct(kind):
        return all(_plain_arrow_type(kind.field(i).type) for i in range(kind.num_fields))
    return bool(_is_string(kind) or pa.types.is_int64(kind) or pa.types.is_boolean(kind)
                or pa.types.is_null(kind))


def _columns(source: DataSource) -> list[str]:
    return list(dict.fromkeys([*source.text_fields, *source.sensitive_fields,
                               *([source.id_field] if source.id_field else [])]))


def _is_string(kind: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _flat_values(batch: Any, fields: tuple[str, ...]
                 ) -> tuple[list[str], npt.NDArray[np.int64]] | None:
    """The string values of `fields` in record order, with their record numbers; None when a
    field holds anything but strings (those take the row path)."""
    import pyarrow as pa

    values: list[str] = []
    numbers = []
    for name in fields:
        if name not in batch.schema.names:
            continue
        column = batch.column(name)
        if pa.types.is_null(column.type):
            continue
        if not _is_string(column.type):
            return None
        values.extend(column.drop_null().to_pylist())
        numbers.append(np.flatnonzero(column.is_valid().to_numpy(zero_copy_only=False)))
    if not numbers:
        return [], np.zeros(0, dtype=np.int64)
    records = np.concatenate(numbers).astype(np.int64)
    if len(numbers) == 1:
        return values, records
    order = np.argsort(records, kind="stable")  # record by record, fields in their order
    return [values[i] for i in order.tolist()], records[order]


def _arrow_batch(source: DataSource, batch: Any) -> RecordBatch:
    """An Arrow record batch as records: string columns straight from Arrow, anything else
    through the row path (so every value reads exactly as `json.loads` would give it)."""
    import pyarrow as pa

    texts = _flat_values(batch, source.text_fields)
    sensitive = _flat_values(batch, source.sensitive_fields)
    ids: list[str | None] | None = [None] * batch.num_rows
    if source.id_field and source.id_field in batch.schema.names:
        column = batch.column(source.id_field)
        if _is_string(column.type):
            ids = column.to_pylist()
        elif pa.types.is_int64(column.type):
            ids = [None if v is None else str(v) for v in column.to_pylist()]
        else:
            ids = None
    if texts is None or sensitive is None or ids is None:
        return RecordBatch.of([_record(source, row) for row in batch.to_pylist()])
    return RecordBatch(ids, texts[0], texts[1], sensitive[0], sensitive[1])


def _jsonl_columnar(source: DataSource) -> Iterator[RecordBatch]:
    """JSON Lines parsed by Arrow's reader a block at a time, on one thread."""
    import pyarrow as pa
    import pyarrow.json as pa_json

    columns = _columns(source)
    options = pa_json.ReadOptions(use_threads=False, block_size=JSON_READ_CHUNK)
    try:
        with open_binary(source.path) as stream:
            for batch in pa_json.open_json(stream, read_options=options):
                selected = batch.select([c for c in columns if c in batch.schema.names])
                if not all(_plain_arrow_type(f.type) for f in selected.schema):
                    raise _NotColumnar
                yield _arrow_batch(source, selected)
    except pa.ArrowException:
        raise _NotColumnar from None


def _jsonl(source: DataSource) -> Iterator[RecordBatch]:
    """Arrow's reader while the file fits it; from where it stopped, one `json.loads` per line
    (which also gives the line number of a bad line)."""
    done = 0
    try:
        for batch in _jsonl_columnar(source):
            yield batch
            done += len(batch)
        return
    except _NotColumnar:
        pass
    yield from _grouped(itertools.islice(_jsonl_rows(source), done, None))


def _jsonl_rows(source: DataSource) -> Iterator[Record]:
    with open_text(source.path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise InputError(f"line {number} is not valid JSON", path=source.path) from None
            if not isinstance(row, dict):
                raise InputError(f"line {number} is not a JSON object", path=source.path)
            yield _record(source, row)


def _json_array(source: DataSource) -> Iterator[Record]:
    """A top-level JSON array of objects, decoded one object at a time."""
    decoder = json.JSONDecoder()
    with open_text(source.path) as handle:
        buffer = handle.read(JSON_READ_CHUNK).lstrip("\ufeff \t\r\n")
        if not buffer.startswith("["):
            raise InputError("expected a JSON array of records", path=source.path)
        position, index, eof = 1, 0, False
        while True:
            while position < len(buffer) and buffer[position] in " \t\r\n,":
                position += 1
            if position < len(buffer) and buffer[position] == "]":
                return
            try:
                row, end = decoder.raw_decode(buffer, position)
            except ValueError:
                if eof:
                    raise InputError(f"record {index} is not valid JSON", path=source.path) \
                        from None
                if len(buffer) - position > MAX_JSON_RECORD:
                    raise InputError(f"record {index} is larger than {MAX_JSON_RECORD} bytes",
                                     path=source.path) from None
                more = handle.read(JSON_READ_CHUNK)
                eof = not more
                buffer = buffer[position:] + more
                position = 0
                continue
            if not isinstance(row, dict):
                raise InputError(f"record {index} is not a JSON object", path=source.path)
            yield _record(source, row)
            index += 1
            position = end
            if len(buffer) - position < JSON_READ_CHUNK // 2 and not eof:
                more = handle.read(JSON_READ_CHUNK)
                eof = not more
                buffer = buffer[position:] + more
                position = 0


def _delimited(source: DataSource, delimiter: str) -> Iterator[Record]:
    with open_text(source.path) as handle:
        for row in csv.DictReader(handle, delimiter=delimiter):
            yield _record(source, row)


def _arrow_batches(path: Path, columns: list[str]) -> Iterator[Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.suffix.lower() == ".parquet":
        parquet = pq.ParquetFile(path)
        present = [c for c in columns if c in parquet.schema_arrow.names]
        yield from parquet.iter_batches(batch_size=BATCH_RECORDS, columns=present)
        return
    with pa.memory_map(str(path)) as stream:
        try:
            reader: Any = pa.ipc.open_stream(stream)
            batches = iter(reader)
        except pa.ArrowInvalid:
            stream.seek(0)
            file_reader = pa.ipc.open_file(stream)
            batches = (file_reader.get_batch(i) for i in range(file_reader.num_record_batches))
        for batch in batches:
            yield batch.select([c for c in columns if c in batch.schema.names])


def _columnar(source: DataSource, files: list[Path]) -> Iterator[RecordBatch]:
    import pyarrow as pa

    columns = _columns(source)
    for path in files:
        try:
            for batch in _arrow_batches(path, columns):
                yield _arrow_batch(source, batch)
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"cannot read as Arrow/Parquet ({type(exc).__name__})",
                             path=path) from None


def _txt(source: DataSource) -> Iterator[Record]:
    with open_text(source.path) as handle:
        if source.record == "file":
            yield Record(id=None, texts=(handle.read(),), sensitive=())
            return
        for line in handle:
            if line.strip():
                yield Record(id=None, texts=(line,), sensitive=())


def dataset_files(folder: Path) -> list[Path]:
    """The Arrow shards of a `datasets` folder saved with save_to_disk."""
    return sorted(p for p in folder.rglob("*.arrow") if p.is_file() and not p.is_symlink())


def iter_records(source: DataSource) -> Iterator[Record]:
    """Every record of a source, streamed; bad data raises InputError naming the file."""
    for batch in iter_batches(source):
        yield from batch.records()


def iter_batches(source: DataSource) -> Iterator[RecordBatch]:
    """The records of a source in batches, streamed (Arrow-backed sources without a Python
    object per record); bad data raises InputError naming the file."""
    try:
        if source.format == "jsonl":
            yield from _jsonl(source)
        elif source.format == "json":
            yield from _grouped(_json_array(source))
        elif source.format in ("csv", "tsv"):
            yield from _grouped(_delimited(source, "," if source.format == "csv" else "\t"))
        elif source.format == "parquet":
            yield from _columnar(source, [source.path])
        elif source.format == "hf-dataset":
            files = dataset_files(source.path)
            if not files:
                raise InputError("no .arrow files in this dataset folder", path=source.path)
            yield from _columnar(source, files)
        elif source.format == "txt":
            yield from _grouped(_txt(source))
        else:
            raise InputError(f"unknown source format {source.format!r}", path=source.path)
    except (OSError, EOFError, zstandard.ZstdError) as exc:
        raise InputError(f"cannot read data source: {exc}", path=source.path) from None
