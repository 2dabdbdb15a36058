"""Training data planted in every kind of shipped file is reported at its path and member;
the same files without the plant produce no finding; outputs never quote the data."""

from __future__ import annotations

import gzip
import html
import io
import json
import pickle
import tarfile
import textwrap
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from release.config import load_config
from release.errors import InputError, UsageError
from release.fingerprint.match import Matcher
from release.pipeline.scan import scan
from release.pipeline.workers import MAX_SCAN_THREADS, THREADS_ENV, scan_threads
from tests.conftest import CliResult, git, write_model
from tests.fingerprint.corpus import FILLER_WORDS, make_records

RECORDS = make_records(50)
RECORD = RECORDS[7]
WORDS = RECORD["text"].split()
SLICE = " ".join(WORDS[3:19])  # 16 words from the middle of record doc-0007
CLEAN = " ".join(FILLER_WORDS[i % len(FILLER_WORDS)] for i in range(16))

CONFIG = """\
[release]
name = "org/m"
version = "1.0"
[model]
path = "model"
[code]
path = "code"
[[data.sources]]
path = "data/train.jsonl"
id_field = "id"
text_fields = ["text"]
sensitive_fields = ["name", "email"]
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    write_model(root / "model")
    (root / "code").mkdir(parents=True)
    (root / "code" / "train.py").write_text("print('train')\n")
    git(root / "code", "init", "-q")
    git(root / "code", "add", "-A")
    git(root / "code", "commit", "-qm", "init")
    (root / "data").mkdir()
    (root / "data" / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    (root / "release.toml").write_text(CONFIG)
    return root


def notebook(text: str) -> bytes:
    cells = [
        {"cell_type": "code", "source": ["import pandas\n"], "outputs": []},
        {"cell_type": "code", "source": ["df.head()\n"], "outputs": [
            {"output_type": "execute_result", "data": {"text/plain": [f"0  {text}\n"]}}]},
    ]
    return json.dumps({"cells": cells, "nbformat": 4, "nbformat_minor": 5}).encode()


def log(text: str) -> bytes:
    lines = [f"step {i} loss 0.{i}" for i in range(4)] + [f"sample: {text}", "done"]
    return "\n".join(lines).encode()


def zipped(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("readme.txt", "nothing to see")
        archive.writestr(name, data)
    return buffer.getvalue()


def tarred(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def safetensors_bytes(text: str, tmp: Path) -> bytes:
    path = tmp / "w.safetensors"
    save_file({"w": np.zeros((2, 2), dtype=np.float32)}, str(path),
              metadata={"format": "np", "description": text})
    return path.read_bytes()


def torch_zip(text: str) -> bytes:
    return zipped("archive/data.pkl", pickle.dumps({"args": {"prompt": text}}, protocol=2))


def tokenizer(text: str, value: str) -> bytes:
    return json.dumps({"added_tokens": [{"id": 5, "content": value, "special": False}],
                       "model": {"vocab": {"\u0120" + text.split()[0]: 1}}}).encode()


def html_page(text: str) -> bytes:
    encoded = "&nbsp;".join(html.escape(w).replace(w[0], f"&#{ord(w[0])};", 1)
                            for w in text.split())
    return f"<html><body><p class='x'>{encoded}</p></body></html>".encode()


def markdown_quote(text: str) -> bytes:
    wrapped = textwrap.wrap(text.lower(), 30)
    return ("# Notes\n\nAs one record said:\n\n" + "\n".join("> " + w for w in wrapped)
            + "\n").encode()


def python_string(text: str) -> bytes:
    return f'PROMPT = "{text}"\n\nprint(PROMPT)\n'.encode()


# name -> (file name, bytes factory, expected rule, expected member, expected line)
CASES: dict[str, tuple[str, Callable[[str, Path], bytes], str, str | None, int | None]] = {
    "notebook output": ("explore.ipynb", lambda t, p: notebook(t), "RL201",
                        "cells[1].outputs[0]", 1),
    "log line": ("train.log", lambda t, p: log(t), "RL201", None, 5),
    "json fixture": ("fixture.json", lambda t, p: json.dumps({"ex": [{"text": t}]}).encode(),
                     "RL201", "$.ex[0].text", None),
    "gzipped csv": ("samples.csv.gz",
                    lambda t, p: gzip.compress(f"id,text\n1,{t}\n".encode()), "RL201", None, 2),
    "zip member": ("bundle.zip", lambda t, p: zipped("notes/a.txt", t.encode()), "RL201",
                   "notes/a.txt", 1),
    "tar member": ("bundle.tar.gz", lambda t, p: tarred("x/b.md", t.encode()), "RL201",
                   "x/b.md", 1),
    "safetensors metadata": ("extra.safetensors", safetensors_bytes, "RL201",
                             "__metadata__.description", None),
    "pickle in torch zip": ("pytorch_model.bin", lambda t, p: torch_zip(t), "RL201",
                            "archive/data.pkl:pickle:str[2]", None),
    "plain pickle": ("state.pkl", lambda t, p: pickle.dumps(["x", t], protocol=4), "RL201",
                     "pickle:str[1]", None),
    "html entities": ("page.html", lambda t, p: html_page(t), "RL201", None, 1),
    "reflowed markdown quote": ("NOTES.md", lambda t, p: markdown_quote(t), "RL201", None, 5),
    "python string": ("prompts.py", lambda t, p: python_string(t), "RL201", None, 1),
}


def run(project: Path) -> list[dict[str, object]]:
    report = scan(load_config(project / "release.toml")).report
    return [report.finding_dict(f) for f in report.findings]


@pytest.mark.parametrize("case", sorted(CASES))
def test_planted_training_text_is_found_at_its_place(project: Path, case: str) -> None:
    name, make, rule, member, line = CASES[case]
    (project / "model" / name).write_bytes(make(SLICE, project))
    found = [f for f in run(project) if f["rule_id"] == rule]
    assert len(found) == 1, found
    finding = found[0]
    assert finding["path"] == name
    assert finding["member"] == member
    if line is not None:
        assert finding["line"] == line
    assert finding["evidence"]["records"] == ["doc-0007"]  # type: ignore[index]
    assert finding["evidence"]["matched_words"] >= 12  # type: ignore[index,operator]


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_same_file_without_the_plant_is_clean(project: Path, case: str) -> None:
    name, make, _rule, _member, _line = CASES[case]
    (project / "model" / name).write_bytes(make(CLEAN, project))
    assert [f for f in run(project) if f["rule_id"] in ("RL201", "RL202")] == []


def test_tokenizer_added_token_holding_a_sensitive_value(project: Path) -> None:
    (project / "model" / "tokenizer.json").write_bytes(tokenizer(CLEAN, RECORD["email"]))
    found = [f for f in run(project) if f["rule_id"] == "RL202"]
    assert [(f["path"], f["member"]) for f in found] == [
        ("tokenizer.json", "$.added_tokens[0].content")]


def test_byte_level_vocabulary_entries_are_read_as_words(project: Path) -> None:
    name = RECORD["name"].split()[1]  # "Testington7": a whole sensitive value? no, a part
    (project / "model" / "vocab.json").write_text(json.dumps({"\u0120" + RECORD["email"]: 3,
                                                              "\u0120" + name: 4}))
    found = [f for f in run(project) if f["rule_id"] == "RL202"]
    assert len(found) == 1 and found[0]["path"] == "vocab.json"


def test_unknown_binary_fails_closed(project: Path) -> None:
    (project / "model" / "blob.bin").write_bytes(bytes(range(256)) * 8)
    found = [f for f in run(project) if f["rule_id"] == "RL110"]
    assert [f["path"] for f in found] == ["blob.bin"]


def test_zip_bomb_is_a_finding_not_a_hang(project: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.txt", b"\0" * (64 << 20))
    (project / "model" / "bomb.zip").write_bytes(buffer.getvalue())
    found = [f for f in run(project) if f["rule_id"] == "RL111"]
    assert [f["path"] for f in found] == ["bomb.zip"]


def test_leaking_member_names_are_hashed(project: Path) -> None:
    (project / "model" / "bundle.zip").write_bytes(zipped(f"{RECORD['email']}.txt",
                                                          SLICE.encode()))
    findings = run(project)
    blob = json.dumps(findings)
    assert RECORD["email"] not in blob
    assert any(str(f["member"]).startswith("member#") for f in findings)


def test_no_output_quotes_the_data(project: Path, cli: Callable[..., CliResult],
                                   tmp_path: Path) -> None:
    (project / "model" / "prompts.py").write_bytes(python_string(SLICE))
    (project / "model" / "contacts.txt").write_text(f"{RECORD['name']} <{RECORD['email']}>\n")
    outputs = []
    for fmt in ("text", "json", "sarif", "markdown"):
        result = cli("scan", "--config", project / "release.toml", "--format", fmt)
        assert result.code == 1
        outputs += [result.out, result.err]
    blob = "\n".join(outputs).lower()
    for secret in (SLICE, RECORD["name"], RECORD["email"], " ".join(WORDS[3:6])):
        assert secret.lower() not in blob


def test_findings_are_the_same_on_one_thread_or_several(project: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    for name, make, *_ in CASES.values():
        (project / "model" / name).write_bytes(make(SLICE, project))
    (project / "model" / "blob.bin").write_bytes(bytes(range(256)) * 8)
    # a file of several batches with plants in the first and the last, and one between files
    filler = (CLEAN + "\n") * 40_000
    (project / "model" / "big.txt").write_text(f"{SLICE}\n{filler}{filler}{SLICE}\n")
    (project / "model" / "small.txt").write_text(RECORD["email"] + "\n")
    monkeypatch.setenv(THREADS_ENV, "1")
    alone = run(project)
    monkeypatch.setenv(THREADS_ENV, "3")
    assert run(project) == alone
    big = [f for f in alone if f["path"] == "big.txt"]
    assert [f["line"] for f in big] == [1] and "on 2 lines" in str(big[0]["message"])
    assert {f["path"] for f in alone if f["rule_id"] == "RL201"} >= {c[0] for c in CASES.values()}


def test_a_failure_while_matching_on_a_worker_thread_reaches_the_caller(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "model" / "a.txt").write_text(CLEAN)

    threads = []

    def broken(self: Matcher, pieces: object) -> None:
        threads.append(threading.current_thread().name)
        raise InputError("matching failed")

    monkeypatch.setattr(Matcher, "match_spans", broken)  # what the scan's workers call
    monkeypatch.setenv(THREADS_ENV, "2")
    with pytest.raises(InputError, match="matching failed"):
        run(project)
    assert threads[0].startswith("leak-match")


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_a_bad_thread_count_is_a_usage_error(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(THREADS_ENV, value)
    with pytest.raises(UsageError, match=THREADS_ENV):
        scan_threads()
    monkeypatch.delenv(THREADS_ENV)
    assert 1 <= scan_threads() <= MAX_SCAN_THREADS


def test_many_hits_in_one_piece_are_each_placed_at_their_line(project: Path) -> None:
    """Hits are placed in one pass over their piece: every planted line is counted, and the
    characters are those of the planted words, after multi-byte text before them."""
    lines = [f"zzé ünïcode {CLEAN}" if n % 5 else f"✓ {SLICE} ✓" for n in range(500)]
    (project / "model" / "many.txt").write_text("\n".join(lines) + "\n")
    (project / "model" / "values.txt").write_text(
        "".join(f"ü line {n}: {RECORDS[n]['email']}\n" for n in range(40)))
    found = {f["path"]: f for f in run(project)
             if f["rule_id"] in ("RL201", "RL202") and f["path"] in ("many.txt", "values.txt")}
    text, values = found["many.txt"], found["values.txt"]
    assert text["line"] == 1 and "on 100 lines" in str(text["message"])
    assert text["evidence"]["matched_chars"] == 100 * len(SLICE)  # type: ignore[index]
    assert text["evidence"]["matched_words"] == 100 * 16  # type: ignore[index]
    assert values["line"] == 1 and "on 40 lines" in str(values["message"])
    assert values["evidence"]["record_count"] == 40  # type: ignore[index]


def test_a_record_several_sources_hold_is_one_record(project: Path) -> None:
    """The same records as JSON Lines and as Parquet (one id_field) are one population: a
    slice of one of them is one training record, not two."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(RECORDS), project / "data" / "train.parquet")
    (project / "release.toml").write_text(CONFIG + """
[[data.sources]]
path = "data/train.parquet"
id_field = "id"
text_fields = ["text"]
sensitive_fields = ["name", "email"]
""")
    (project / "model" / "notes.md").write_text(f"# notes\n\n{SLICE}\n")
    found = [f for f in run(project) if f["rule_id"] == "RL201"]
    assert len(found) == 1
    assert found[0]["evidence"]["records"] == ["doc-0007"]  # type: ignore[index]
    assert found[0]["evidence"]["record_count"] == 1  # type: ignore[index]
    assert "of 1 training record(s)" in str(found[0]["message"])
