"""JSON sources: JSON Lines (read by Arrow a block at a time while the file fits one schema)
and top-level JSON arrays of records, decoded one object at a time."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from release.config import DataSource
from release.errors import InputError
from release.sources.arrow import arrow_batch, plain_arrow_type, select, wanted_columns
from release.sources.pieces import Piece, lines_before, open_piece
from release.sources.records import Record, RecordBatch, grouped, record_of
from release.sources.streams import as_text, open_binary, open_text

JSON_READ_CHUNK = 1 << 20
MAX_JSON_RECORD = 64 << 20  # one JSON record larger than this is refused, not buffered forever


class NotColumnar(Exception):
    """The JSON Lines file does not fit one plain Arrow schema; the row parser reads it."""


@contextmanager
def _bytes_of(source: DataSource, piece: Piece | None) -> Iterator[IO[bytes]]:
    """The source's bytes, or those of one of its pieces."""
    if piece is None:
        with open_binary(source.path) as stream:
            yield stream
    else:
        with open_piece(source.path, piece) as stream:
            yield stream


def columnar_batches(source: DataSource, piece: Piece | None = None
                     ) -> Iterator[RecordBatch]:
    """JSON Lines parsed by Arrow's reader a block at a time, on one thread."""
    import pyarrow as pa
    import pyarrow.json as pa_json

    columns = wanted_columns(source)
    options = pa_json.ReadOptions(use_threads=False, block_size=JSON_READ_CHUNK)
    try:
        with _bytes_of(source, piece) as stream:
            for batch in pa_json.open_json(stream, read_options=options):
                selected = select(batch, columns)
                if not all(plain_arrow_type(f.type) for f in selected.schema):
                    raise NotColumnar
                yield arrow_batch(source, selected)
    except pa.ArrowException:
        raise NotColumnar from None


def read_jsonl(source: DataSource, piece: Piece | None = None) -> Iterator[RecordBatch]:
    """Arrow's reader while the file fits it; from where it stopped, one `json.loads` per line
    (which also gives the line number of a bad line). With a piece, only its lines."""
    done = 0
    try:
        for batch in columnar_batches(source, piece):
            yield batch
            done += len(batch)
        return
    except NotColumnar:
        pass
    yield from grouped(itertools.islice(_jsonl_rows(source, piece), done, None))


def _jsonl_rows(source: DataSource, piece: Piece | None = None) -> Iterator[Record]:
    with _bytes_of(source, piece) as stream:
        for number, line in enumerate(as_text(stream), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise InputError(f"line {_line(source, piece, number)} is not valid JSON",
                                 path=source.path) from None
            if not isinstance(row, dict):
                raise InputError(f"line {_line(source, piece, number)} is not a JSON object",
                                 path=source.path)
            yield record_of(source, row)


def _line(source: DataSource, piece: Piece | None, number: int) -> int:
    """The line number in the file of line `number` of the piece."""
    return number if piece is None else number + lines_before(source.path, piece.start)


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
            yield record_of(source, row)
            index += 1
            position = end
            if len(buffer) - position < JSON_READ_CHUNK // 2 and not eof:
                more = handle.read(JSON_READ_CHUNK)
                eof = not more
                buffer = buffer[position:] + more
                position = 0


def read_json_array(source: DataSource) -> Iterator[RecordBatch]:
    yield from grouped(_json_array(source))
