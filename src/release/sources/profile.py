"""What the fields of a data source hold, from a sample of its records, and which fields look
like free text, record ids and sensitive values: counts and lengths, never values."""

from __future__ import annotations

import csv
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from release.config import DataSource
from release.errors import InputError
from release.sources.streams import open_text

SAMPLE_RECORDS = 2000
MAX_LINE_CHARS = 8 << 20  # one JSON Lines record, or CSV row, of the sample
MAX_JSON_CHARS = 64 << 20  # a JSON array is parsed whole: larger ones are not sampled
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[A-Za-z]{2,24}$")
PHONE = re.compile(r"^\+?[\d\s().\-/]{7,24}$")
MIN_PHONE_DIGITS = 7
SHAPE_SHARE = 0.5  # a field is emails (phone numbers) when half its values are
TEXT_MIN_WORDS = 3.0  # free text: strings of this many words on average (a subject line)
STRING_SHARE = 0.9
DIVERSE_SHARE = 0.1  # personal values differ from record to record; a category does not
# name parts (split at _, -, spaces and camelCase) that say a field holds personal values
SENSITIVE_WORDS = frozenset({
    "name", "firstname", "lastname", "fullname", "surname", "givenname", "username",
    "email", "mail", "phone", "telephone", "tel", "mobile", "cell", "fax", "mrn", "ssn",
    "nhs", "address", "street", "zip", "zipcode", "postcode", "postal", "dob", "birthdate",
    "birthday", "birth", "iban", "account", "passport", "ip",
})
ID_NAMES = ("id", "_id", "uuid", "guid", "record_id", "doc_id", "document_id")


@dataclass(frozen=True)
class FieldProfile:
    """One top-level field over the sample: how many records have it, how many of those
    values are strings, their total characters and words, and value shapes by count."""

    name: str
    values: int
    strings: int
    chars: int
    words: int
    distinct: int
    emails: int
    phones: int

    @property
    def mean_chars(self) -> float:
        return self.chars / self.strings if self.strings else 0.0

    @property
    def mean_words(self) -> float:
        return self.words / self.strings if self.strings else 0.0

    @property
    def is_string(self) -> bool:
        return self.values > 0 and self.strings >= STRING_SHARE * self.values


@dataclass(frozen=True)
class SourceProfile:
    records: int  # records sampled
    complete: bool  # the sample is the whole source
    fields: tuple[FieldProfile, ...]


@dataclass(frozen=True)
class FieldProposal:
    """The fields to write into a `[[data.sources]]` table, and why each was chosen."""

    id_field: str | None
    text_fields: tuple[str, ...]
    sensitive_fields: tuple[str, ...]
    reasons: dict[str, str]  # field name -> counts that made it text, sensitive or the id


def _json_lines(source: DataSource) -> Iterator[Any]:
    with open_text(source.path) as stream:
        while line := stream.readline(MAX_LINE_CHARS):
            if line.strip():
                yield json.loads(line)


def _json_array(source: DataSource) -> Iterator[Any]:
    with open_text(source.path) as stream:
        text = stream.read(MAX_JSON_CHARS + 1)
    if len(text) > MAX_JSON_CHARS:
        raise InputError(f"is a JSON document over {MAX_JSON_CHARS >> 20} MiB; name its "
                         "fields by hand", path=source.path)
    data = json.loads(text)
    yield from data if isinstance(data, list) else [data]


def _delimited(source: DataSource) -> Iterator[Any]:
    csv.field_size_limit(MAX_LINE_CHARS)
    with open_text(source.path) as stream:
        yield from csv.DictReader(stream, delimiter="\t" if source.format == "tsv" else ",")


def _columnar(source: DataSource) -> Iterator[Any]:
    from release.sources.arrow import arrow_file_batches, dataset_files

    files = dataset_files(source.path) if source.format == "hf-dataset" else [source.path]
    for path in files:
        for batch in arrow_file_batches(path, None):
            yield from batch.to_pylist()


_ROWS = {"jsonl": _json_lines, "json": _json_array, "csv": _delimited, "tsv": _delimited,
         "parquet": _columnar, "hf-dataset": _columnar}


def sample_rows(source: DataSource, limit: int = SAMPLE_RECORDS) -> tuple[list[dict[str, Any]],
                                                                          bool]:
    """Up to `limit` records of the source as field → value, and whether that is all of them;
    a txt source has no fields. Unreadable or malformed data raises InputError naming it."""
    reader = _ROWS.get(source.format)
    if reader is None:
        return [], True
    try:
        rows = list(itertools.islice(reader(source), limit + 1))
    except (OSError, EOFError, ValueError, csv.Error, UnicodeError) as exc:
        raise InputError(f"cannot read a sample of it ({type(exc).__name__})",
                         path=source.path) from None
    except Exception as exc:  # pyarrow's own errors: the file is not what its name says
        if type(exc).__module__.startswith("pyarrow"):
            raise InputError(f"cannot read a sample of it ({type(exc).__name__})",
                             path=source.path) from None
        raise
    return [r for r in rows[:limit] if isinstance(r, dict)], len(rows) <= limit


def _is_phone(value: str) -> bool:
    return PHONE.match(value) is not None and sum(c.isdigit() for c in value) >= MIN_PHONE_DIGITS


def profile_rows(rows: list[dict[str, Any]], complete: bool) -> SourceProfile:
    """Counts per top-level field of the rows, in the order fields first appear."""
    names = list(dict.fromkeys(name for row in rows for name in row))
    fields = []
    for name in names:
        values = [row[name] for row in rows if row.get(name) not in (None, "")]
        strings = [v for v in values if isinstance(v, str)]
        fields.append(FieldProfile(
            name=name, values=len(values), strings=len(strings),
            chars=sum(len(s) for s in strings), words=sum(len(s.split()) for s in strings),
            distinct=len({json.dumps(v, sort_keys=True, default=str) for v in values}),
            emails=sum(1 for s in strings if EMAIL.match(s.strip())),
            phones=sum(1 for s in strings if _is_phone(s.strip()))))
    return SourceProfile(len(rows), complete, tuple(fields))


def profile_source(source: DataSource, limit: int = SAMPLE_RECORDS) -> SourceProfile:
    rows, complete = sample_rows(source, limit)
    return profile_rows(rows, complete)


def name_words(name: str) -> set[str]:
    """The words of a field name: `customerEmail`, `customer_email` → {customer, email}."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    words = [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]
    return set(words) | {"".join(words)}  # `first_name` also as `firstname`


def _id_field(profile: SourceProfile) -> FieldProfile | None:
    """A field every sampled record has, with a different value in each, named like an id."""
    unique = [f for f in profile.fields
              if f.values == profile.records > 0 and f.distinct == f.values]
    for wanted in ID_NAMES:
        for field in unique:
            if field.name.lower() == wanted:
                return field
    return next((f for f in unique if f.name.lower().endswith(("_id", "id"))
                 and len(f.name) > 2), None)


def propose_fields(profile: SourceProfile) -> FieldProposal:
    """Text fields (strings of many words, longest first), sensitive fields (by their name,
    or by values shaped like emails or phone numbers) and the record id, with reasons."""
    reasons: dict[str, str] = {}
    id_field = _id_field(profile)
    if id_field is not None:
        reasons[id_field.name] = f"id: a different value in each of {id_field.values} records"
    sensitive = []
    for f in profile.fields:
        if id_field is not None and f.name == id_field.name:
            continue
        by_name = bool(name_words(f.name) & SENSITIVE_WORDS) and \
            f.distinct > DIVERSE_SHARE * f.values
        # another record's or person's id (customer_id, account_number), not a label id
        named_id = (f.name.lower().endswith("_id") or "number" in name_words(f.name)) and \
            f.distinct > SHAPE_SHARE * f.values
        if f.emails >= SHAPE_SHARE * max(f.values, 1) and f.emails:
            reasons[f.name] = f"sensitive: {f.emails} of {f.values} values are emails"
        elif f.phones >= SHAPE_SHARE * max(f.values, 1) and f.phones:
            reasons[f.name] = f"sensitive: {f.phones} of {f.values} values are phone numbers"
        elif by_name or named_id:
            what = "personal data" if by_name else "an identifier"
            reasons[f.name] = f"sensitive: named like {what} ({f.values} values)"
        else:
            continue
        sensitive.append(f.name)
    texts = sorted((f for f in profile.fields if f.is_string and f.name not in sensitive
                    and (id_field is None or f.name != id_field.name)
                    and f.mean_words >= TEXT_MIN_WORDS), key=lambda f: -f.mean_chars)
    for f in texts:
        reasons[f.name] = (f"text: {f.strings} strings, {f.mean_chars:.0f} characters and "
                           f"{f.mean_words:.0f} words on average")
    return FieldProposal(id_field.name if id_field else None, tuple(f.name for f in texts),
                         tuple(sensitive), reasons)
