"""Tests for the data-source copy detector: renamed copies, unavailable sources, lazy hashing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from release import rules
from release.config import load_config
from release.detectors import datacopy
from release.errors import UsageError
from release.pipeline.scan import ScanOptions, scan
from tests.conftest import Project


def test_renamed_copy_of_the_data_is_an_error(project: Project) -> None:
    shutil.copy(project.data, project.model / "calibration.bin")
    report = scan(load_config(project.config)).report
    copies = [f for f in report.findings if f.rule is rules.DATA_SOURCE_COPY]
    assert [(f.path, f.evidence["source"]) for f in copies] == [
        ("calibration.bin", "data.sources[0]")]
    assert not report.passed


def test_unavailable_source_without_an_index_is_a_usage_error(project: Project) -> None:
    project.data.unlink()
    with pytest.raises(UsageError) as info:
        scan(load_config(project.config))
    assert "release index build" in str(info.value)
    assert info.value.exit_code == 2


def test_index_digests_catch_copies_where_the_data_is_absent(project: Project) -> None:
    config = load_config(project.config)
    assert scan(config).report.passed  # builds the index while the data is here
    shutil.copy(project.data, project.model / "calibration.bin")
    project.data.unlink()
    report = scan(config).report
    copies = [f for f in report.findings if f.rule is rules.DATA_SOURCE_COPY]
    assert [(f.path, f.evidence["source"]) for f in copies] == [
        ("calibration.bin", "data.sources[0]")]
    assert rules.DATA_SOURCE_UNAVAILABLE not in {f.rule for f in report.findings}


def test_no_sources_is_an_error(project: Project) -> None:
    text = project.config.read_text()
    project.config.write_text(text[: text.index("[[data.sources]]")])
    report = scan(load_config(project.config)).report
    assert [f.rule for f in report.findings] == [rules.NO_DATA_SOURCES]


def test_sources_are_hashed_only_when_a_size_matches(project: Project,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[Path] = []
    real = datacopy.sha256_of

    def counting(path: Path) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(datacopy, "sha256_of", counting)
    scan(load_config(project.config))
    assert hashed == []
    (project.model / "same-size.bin").write_bytes(b"x" * project.data.stat().st_size)
    report = scan(load_config(project.config)).report
    assert hashed == [project.data.absolute()]
    assert not any(f.rule is rules.DATA_SOURCE_COPY for f in report.findings)


def test_dataset_folder_source(project: Project) -> None:
    folder = project.root / "data" / "hf"
    folder.mkdir()
    table = pa.table({"t": ["a first row of text", "a second row of text"]})
    with pa.OSFile(str(folder / "data-00000-of-00001.arrow"), "wb") as sink, \
            pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    (folder / "dataset_info.json").write_text("{}")
    project.config.write_text(project.config.read_text() + (
        '\n[[data.sources]]\npath = "data/hf"\nformat = "hf-dataset"\ntext_fields = ["t"]\n'))
    shutil.copy(folder / "data-00000-of-00001.arrow", project.model / "shard.bin")
    report = scan(load_config(project.config)).report
    copies = [f for f in report.findings if f.rule is rules.DATA_SOURCE_COPY]
    assert [(f.path, f.evidence["source"]) for f in copies] == [("shard.bin", "data.sources[1]")]


def test_fast_scan_hashes_only_files_that_could_be_copies(project: Project) -> None:
    shutil.copy(project.data, project.model / "calibration.bin")
    report = scan(load_config(project.config), ScanOptions(hash_files=False)).report
    assert {f.path: f.sha256 for f in report.files}["model.safetensors"] is None
    copies = [f for f in report.findings if f.rule is rules.DATA_SOURCE_COPY]
    assert [f.path for f in copies] == ["calibration.bin"]  # same size as a source: hashed
