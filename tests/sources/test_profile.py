"""Tests for release.sources.profile: field counts from a sample, and the fields proposed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from release.config import DataSource
from release.errors import InputError
from release.sources.profile import name_words, profile_rows, profile_source, propose_fields


def test_name_words_split_every_way() -> None:
    assert name_words("customerEmail") == {"customer", "email", "customeremail"}
    assert name_words("first_name") == {"first", "name", "firstname"}
    assert name_words("MRN") == {"mrn"}


def test_shapes_are_counted_and_label_ids_are_not_sensitive() -> None:
    rows = [{"doc": i, "who": f"user{i}@mail.example.org", "tel": "(555) 010-2233",
             "label_id": i % 2, "note": "a few words of free text here"} for i in range(40)]
    profile = profile_rows(rows, complete=True)
    by_name = {f.name: f for f in profile.fields}
    assert by_name["who"].emails == 40 and by_name["tel"].phones == 40
    proposal = propose_fields(profile)
    assert proposal.id_field is None  # "doc" is unique but not named like an id
    assert proposal.sensitive_fields == ("who", "tel")
    assert proposal.text_fields == ("note",)
    assert all("@" not in reason and "555" not in reason for reason in proposal.reasons.values())


def test_unreadable_sample_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text('{"a": 1}\n{not json\n')
    with pytest.raises(InputError, match="cannot read a sample") as caught:
        profile_source(DataSource(path, "jsonl", None, None, (), "line"))
    assert caught.value.path == path


def test_sample_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    path.write_text("".join(json.dumps({"id": str(i)}) + "\n" for i in range(50)))
    profile = profile_source(DataSource(path, "jsonl", None, None, (), "line"), limit=10)
    assert profile.records == 10 and not profile.complete
