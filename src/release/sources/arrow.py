"""Arrow-backed sources: Parquet, Arrow/Feather files and `datasets` folders, and the string
columns of Arrow batches taken without a Python object per record."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from release.config import DataSource
from release.errors import InputError
from release.remote import RemotePath, SourcePath, open_source_file
from release.sources.records import BATCH_RECORDS, RecordBatch, record_of

if TYPE_CHECKING:
    from release.sources.pieces import Piece


def plain_arrow_type(kind: Any) -> bool:
    """Types whose Python values print exactly as `json.loads` values would: no floats (an id
    1 must not become 1.0) and no timestamps inferred from strings."""
    import pyarrow as pa

    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return plain_arrow_type(kind.value_type)
    if pa.types.is_struct(kind):
        return all(plain_arrow_type(kind.field(i).type) for i in range(kind.num_fields))
    return bool(_is_string(kind) or pa.types.is_int64(kind) or pa.types.is_boolean(kind)
                or pa.types.is_null(kind))


def wanted_columns(source: DataSource) -> list[str] | None:
    """The columns a source reads; None: all of them (every field is text)."""
    if source.text_fields is None:
        return None
    return list(dict.fromkeys([*source.text_fields, *source.sensitive_fields,
                               *([source.id_field] if source.id_field else [])]))


def select(batch: Any, columns: list[str] | None) -> Any:
    """The batch with only the wanted columns it has (all of them for None)."""
    if columns is None:
        return batch
    return batch.select([c for c in columns if c in batch.schema.names])


def _text_columns(source: DataSource, batch: Any) -> tuple[str, ...] | None:
    """The columns that hold text: those named, or every string column but the id; None when
    some other column could hold text too (a list or a struct: the row path reads those)."""
    if source.text_fields is not None:
        return source.text_fields
    import pyarrow as pa

    names = [f.name for f in batch.schema if f.name != source.id_field]
    kinds = [batch.schema.field(name).type for name in names]
    if any(pa.types.is_list(k) or pa.types.is_large_list(k) or pa.types.is_struct(k)
           for k in kinds):
        return None
    return tuple(name for name, kind in zip(names, kinds, strict=True) if _is_string(kind))


def _present(batch: Any) -> frozenset[str]:
    """The columns with a value in some row of the batch."""
    return frozenset(name for name, column in zip(batch.schema.names, batch.columns, strict=True)
                     if column.null_count < len(column))


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


def arrow_batch(source: DataSource, batch: Any) -> RecordBatch:
    """An Arrow record batch as records: string columns straight from Arrow, anything else
    through the row path (so every value reads exactly as `json.loads` would give it)."""
    import pyarrow as pa

    text_columns = _text_columns(source, batch)
    texts = None if text_columns is None else _flat_values(batch, text_columns)
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
        return RecordBatch.of([record_of(source, row) for row in batch.to_pylist()])
    return RecordBatch(ids, texts[0], texts[1], sensitive[0], sensitive[1], _present(batch))


@contextmanager
def parquet_file(path: SourcePath) -> Iterator[Any]:
    """A Parquet file opened for reading (one at a URL through its fsspec file)."""
    import pyarrow.parquet as pq

    if isinstance(path, Path):
        yield pq.ParquetFile(path)
        return
    with open_source_file(path) as handle:
        yield pq.ParquetFile(handle)


@contextmanager
def _arrow_stream(path: SourcePath) -> Iterator[Any]:
    import pyarrow as pa

    if isinstance(path, Path):
        with pa.memory_map(str(path)) as stream:
            yield stream
        return
    with open_source_file(path) as handle, pa.PythonFile(handle, mode="r") as stream:
        yield stream


def arrow_file_batches(path: SourcePath, columns: list[str] | None,
                   row_groups: range | None = None) -> Iterator[Any]:
    import pyarrow as pa

    if path.suffix.lower() == ".parquet":
        with parquet_file(path) as parquet:
            present = None if columns is None else [c for c in columns
                                                    if c in parquet.schema_arrow.names]
            yield from parquet.iter_batches(batch_size=BATCH_RECORDS, columns=present,
                                            row_groups=row_groups)
        return
    with _arrow_stream(path) as stream:
        try:
            reader: Any = pa.ipc.open_stream(stream)
            batches = iter(reader)
        except pa.ArrowInvalid:
            stream.seek(0)
            file_reader = pa.ipc.open_file(stream)
            batches = (file_reader.get_batch(i) for i in range(file_reader.num_record_batches))
        for batch in batches:
            yield select(batch, columns)


def _columnar(source: DataSource, files: list[SourcePath], row_groups: range | None = None
              ) -> Iterator[RecordBatch]:
    import pyarrow as pa

    columns = wanted_columns(source)
    for path in files:
        try:
            for batch in arrow_file_batches(path, columns, row_groups):
                yield arrow_batch(source, batch)
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"cannot read as Arrow/Parquet ({type(exc).__name__})",
                             path=path) from None


def read_parquet(source: DataSource, piece: Piece | None = None) -> Iterator[RecordBatch]:
    """A Parquet file, or the row groups of one of its pieces."""
    row_groups = None if piece is None else range(piece.start, piece.end)
    yield from _columnar(source, [source.path], row_groups)


def read_dataset(source: DataSource, piece: Piece | None = None) -> Iterator[RecordBatch]:
    """A `datasets` folder saved with save_to_disk: every Arrow shard in it (or those of one
    of its pieces)."""
    files = dataset_files(source.path)
    if not files:
        raise InputError("no .arrow files in this dataset folder", path=source.path)
    yield from _columnar(source, files if piece is None else files[piece.start: piece.end])


def dataset_files(folder: SourcePath) -> list[SourcePath]:
    """The Arrow shards of a `datasets` folder saved with save_to_disk."""
    if isinstance(folder, RemotePath):
        return list(folder.rglob("*.arrow"))  # files, in order
    return sorted(p for p in folder.rglob("*.arrow") if p.is_file() and not p.is_symlink())
