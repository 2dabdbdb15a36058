"""Columns: the string columns of Parquet and Arrow files (data files are findings anyway;
this tells whether they hold training text)."""

from __future__ import annotations

import io
from collections.abc import Iterator

from release.extract import Context, Extracted, Problem, Segment, extractor
from release.extract.stream import whole


def _columns(data: bytes, context: Context) -> Iterator[Extracted]:
    """String columns of a parquet or Arrow file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if data[:4] == b"PAR1":
            table = pq.read_table(io.BytesIO(data))
        else:
            table = pa.ipc.open_file(pa.BufferReader(data)).read_all()
    except (pa.ArrowException, OSError):
        yield Problem("columnar file could not be read", context.member)
        return
    for position, column in enumerate(table.column_names):
        values = table.column(column)
        if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
            for row, value in enumerate(values.to_pylist()):
                if value:
                    yield Segment(value, context.at(f"column[{position}][{row}]"))


extractor("parquet", "arrow", "feather")(whole(_columns, over_limit="columnar data over the "
                                                           "parse limit"))
