"""Training records as the readers yield them: one at a time, or in batches of columns."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from release.config import DataSource

BATCH_RECORDS = 4096


@dataclass(frozen=True)
class Record:
    """One training record: its id (given or keyed-hash), free-text values, sensitive values,
    and the fields it has (to tell a config naming fields no record has)."""

    id: str | None
    texts: tuple[str, ...]
    sensitive: tuple[str, ...]
    fields: frozenset[str] = field(default=frozenset(), compare=False)


@dataclass(frozen=True)
class RecordBatch:
    """Consecutive records read together: each record's id (None where it has none), and their
    text and sensitive values flattened, each with the number of its record in the batch."""

    ids: list[str | None]
    texts: list[str]
    text_records: npt.NDArray[np.int64]
    sensitive: list[str]
    sensitive_records: npt.NDArray[np.int64]
    fields: frozenset[str] = frozenset()  # the fields some record of the batch has a value in

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
                   sensitive, np.array(sensitive_records, dtype=np.int64),
                   frozenset().union(*(r.fields for r in records)))

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


def grouped(records: Iterable[Record]) -> Iterator[RecordBatch]:
    iterator = iter(records)
    while chunk := list(itertools.islice(iterator, BATCH_RECORDS)):
        yield RecordBatch.of(chunk)


def value_texts(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, bool | int | float):
        return [str(value)]
    if isinstance(value, list | tuple):
        return [text for item in value for text in value_texts(item)]
    if isinstance(value, dict):
        return [text for item in value.values() for text in value_texts(item)]
    return [str(value)]


def text_field_names(source: DataSource, row: dict[str, Any]) -> list[str]:
    """The fields of `row` that hold training text: those the source names, or, when it names
    none, every field but the id whose value is a string (or a list or table of them)."""
    if source.text_fields is not None:
        return list(source.text_fields)
    return [name for name, value in row.items()
            if name != source.id_field and isinstance(value, str | list | dict)]


def record_of(source: DataSource, row: dict[str, Any]) -> Record:
    raw_id = row.get(source.id_field) if source.id_field else None
    return Record(
        id=None if raw_id is None else str(raw_id),
        texts=tuple(t for f in text_field_names(source, row) for t in value_texts(row.get(f))),
        sensitive=tuple(t for f in source.sensitive_fields for t in value_texts(row.get(f))),
        fields=frozenset(name for name, value in row.items() if value is not None),
    )
