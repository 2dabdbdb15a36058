"""Executable model files are found by content, at any depth, and nothing is ever loaded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from release import rules
from release.detectors.hazards import hazard_finding
from release.extract import Hazard, Problem, extract_file
from release.findings import Finding
from release.pipeline.kinds import classify_kind
from tests.conftest import CliResult, make_project
from tests.executable_corpus import Entry, build_corpus

pytest.importorskip("torch")
pytest.importorskip("joblib")
pytest.importorskip("py7zr")

EXPECTED_RULE = {"code": rules.CODE_EXECUTION, "pickle": rules.UNSAFE_SERIALIZATION,
                 "external": rules.EXTERNAL_PATH, "encrypted": rules.ENCRYPTED_CONTENT}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[Entry]]:
    root = tmp_path_factory.mktemp("corpus")
    canary = tmp_path_factory.mktemp("canary")
    return root, canary, build_corpus(root, canary)


def findings(path: Path) -> tuple[list[Finding], list[Problem]]:
    found, problems = [], []
    for extracted in extract_file(path, path.name, classify_kind(path.name), path.stat().st_size):
        if isinstance(extracted, Hazard):
            found.append(hazard_finding(path.name, extracted, extracted.member))
        elif isinstance(extracted, Problem):
            problems.append(extracted)
    return found, problems


def test_every_file_gets_its_rule_at_its_member(corpus: tuple[Path, Path, list[Entry]]
                                                ) -> None:
    root, _, entries = corpus
    assert len(entries) > 100
    wrong = []
    for entry in entries:
        found, problems = findings(root / entry.path)
        rules_found = {f.rule for f in found if f.rule is not rules.TRAILING_DATA}
        if entry.expect == "clean":
            if rules_found or problems:
                wrong.append((entry.path, sorted(r.id for r in rules_found),
                              [p.reason for p in problems]))
            continue
        expected = EXPECTED_RULE[entry.expect]
        at = [f for f in found if f.rule is expected and
              (entry.member is None or (f.member or "").startswith(entry.member))]
        if not at:
            wrong.append((entry.path, sorted(r.id for r in rules_found), entry.member))
        if entry.expect == "pickle" and rules.CODE_EXECUTION in rules_found:
            wrong.append((entry.path, "benign pickle called code-execution"))
    assert not wrong


def test_no_payload_ran(corpus: tuple[Path, Path, list[Entry]]) -> None:
    root, canary, entries = corpus
    for entry in entries:
        findings(root / entry.path)
    assert list(canary.iterdir()) == []


def test_dangerous_globals_are_named(corpus: tuple[Path, Path, list[Entry]]) -> None:
    root, _, _ = corpus
    found, _ = findings(root / "unnamed/p0-popen")
    assert [f.rule for f in found] == [rules.CODE_EXECUTION]
    assert found[0].evidence["dangerous"] == ["subprocess.Popen"]
    found, _ = findings(root / "named/p4-eval.pkl")
    assert found[0].evidence["dangerous"] == ["builtins.eval"]


def test_trailing_bytes_are_a_finding_naming_offset_and_length(
        corpus: tuple[Path, Path, list[Entry]]) -> None:
    root, _, _ = corpus
    found, _ = findings(root / "appended/p2-system.zip")
    trailing = [f for f in found if f.rule is rules.TRAILING_DATA]
    assert len(trailing) == 1 and trailing[0].evidence["format"] == "zip"
    assert trailing[0].evidence["offset"] > 0 and trailing[0].evidence["length"] > 0


def test_benign_torch_advice_names_the_call_for_tied_weights(
        corpus: tuple[Path, Path, list[Entry]]) -> None:
    root, _, _ = corpus
    found, problems = findings(root / "torch/pytorch_model.bin")
    assert [f.rule for f in found] == [rules.UNSAFE_SERIALIZATION] and not problems
    assert "safe_serialization=True" in found[0].message
    assert "save_model" in found[0].message


def test_training_state_is_advised_not_to_ship(tmp_path: Path) -> None:
    import pickle

    path = tmp_path / "optimizer.pt"
    path.write_bytes(pickle.dumps({"state": {}, "param_groups": []}, protocol=2))
    found, _ = findings(path)
    assert "exclude it" in found[0].message


def test_plain_pickle_under_a_weights_name(tmp_path: Path) -> None:
    import pickle

    path = tmp_path / "weights.bin"
    path.write_bytes(pickle.dumps({"w": [1.0, 2.0]}, protocol=4))
    found, problems = findings(path)
    assert [f.rule for f in found] == [rules.UNSAFE_SERIALIZATION] and not problems
    assert "safetensors" in found[0].message


def test_torch_zip_checkpoint_float_storages_are_not_read(tmp_path: Path) -> None:
    import pickle
    import zipfile

    path = tmp_path / "pytorch_model.bin"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"w": 1}, protocol=2))
        archive.writestr("archive/data/0", bytes(16))
        archive.writestr("archive/version", "3\n")
    found, _ = findings(path)
    assert [(f.rule, f.member) for f in found] == [
        (rules.UNSAFE_SERIALIZATION, "archive/data.pkl")]


def test_compressed_pickle_like_joblib(tmp_path: Path) -> None:
    import gzip
    import pickle

    path = tmp_path / "model.joblib"
    path.write_bytes(gzip.compress(pickle.dumps([1, 2, 3], protocol=4)))
    found, _ = findings(path)
    assert [f.rule for f in found] == [rules.UNSAFE_SERIALIZATION]


def test_protocol_zero_pickle_by_name(tmp_path: Path) -> None:
    import pickle

    path = tmp_path / "old.pkl"
    path.write_bytes(pickle.dumps([1], protocol=0))
    assert [f.rule for f in findings(path)[0]] == [rules.UNSAFE_SERIALIZATION]


def test_corrupt_zip_is_a_finding_not_a_skip(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(b"PK\x03\x04" + bytes(40))
    assert [p.reason for p in findings(path)[1]] == ["zip archive is corrupt"]


def test_a_text_file_that_is_no_pickle_stays_text(tmp_path: Path) -> None:
    for text in (b"Notes. hello", b"class Foo:\n    pass\n", b"(see above)\n", b"I1\n."):
        path = tmp_path / "notes.txt"
        path.write_bytes(text)
        assert findings(path) == ([], [])


def test_the_new_rules_are_listed_and_code_execution_is_never_acceptable() -> None:
    listed = {rule.id: rule for rule in rules.ALL_RULES}
    for rule in (rules.CODE_EXECUTION, rules.TRAILING_DATA, rules.ENCRYPTED_CONTENT,
                 rules.EXTERNAL_PATH):
        assert listed[rule.id] is rule
    assert not rules.CODE_EXECUTION.acceptable
    never = {rules.CODE_EXECUTION, rules.UNFILLED_PLACEHOLDER}  # fill a TODO in, never accept it
    assert all(rule.acceptable for rule in rules.ALL_RULES if rule not in never)


def test_hostile_global_names_are_hashed_in_evidence(tmp_path: Path) -> None:
    path = tmp_path / "x.pkl"
    path.write_bytes(b"\x80\x04\x95\x20\x00\x00\x00\x00\x00\x00\x00"
                     b"\x8c\x02os\x8c\x16system secret words ok\x93)R.")
    found, _ = findings(path)
    assert found[0].rule is rules.CODE_EXECUTION
    assert all("secret" not in name for name in found[0].evidence["globals"])
    assert "secret" not in found[0].message


def test_a_broken_hdf5_file_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    pytest.importorskip("h5py")
    path = tmp_path / "tf_model.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 4)
    found, problems = findings(path)
    assert not found
    assert any("could not be opened" in p.reason for p in problems)


def test_a_zip_behind_unknown_bytes_is_read_and_the_bytes_said(tmp_path: Path) -> None:
    import pickle

    from tests.executable_corpus import _System, _zip

    path = tmp_path / "installer.bin"
    path.write_bytes(bytes(range(256)) * 8
                     + _zip({"run.txt": pickle.dumps(_System(tmp_path / "c"), protocol=2)}))
    found, _ = findings(path)
    assert {(f.rule, f.member) for f in found} == {(rules.TRAILING_DATA, None),
                                                   (rules.CODE_EXECUTION, "run.txt")}


def test_bytes_after_a_png_end_are_trailing_data(tmp_path: Path) -> None:
    import pickle

    from tests.executable_corpus import _System

    path = tmp_path / "logo.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x00IEND\xaeB`\x82"
                     + pickle.dumps(_System(tmp_path / "c"), protocol=4))
    found, _ = findings(path)
    assert [f.rule for f in found] == [rules.TRAILING_DATA, rules.CODE_EXECUTION]
    assert found[1].member == "(bytes after the png at 20)"


@pytest.mark.slow
def test_the_corpus_through_release_scan(tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    """The whole corpus in a model folder, scanned end to end: every malicious file is
    RL114/RL117/RL116 or RL104 at its path, clean files have no finding, nothing ran."""
    import json
    import shutil

    project = make_project(tmp_path / "project")
    canary = tmp_path / "canary"
    canary.mkdir()
    entries = build_corpus(tmp_path / "corpus", canary)
    shutil.copytree(tmp_path / "corpus", project.model / "corpus")
    result = cli("scan", "--config", project.config, "--format", "json")
    assert result.code == 1
    found: dict[str, set[str]] = {}
    for finding in json.loads(result.out)["findings"]:
        found.setdefault(finding["path"], set()).add(finding["rule_id"])
    for entry in entries:
        rules_here = found.get(f"corpus/{entry.path}", set())
        if entry.expect == "clean":
            assert rules_here == set(), entry.path
        else:
            assert EXPECTED_RULE[entry.expect].id in rules_here, entry.path
    assert list(canary.iterdir()) == []


def test_a_pickle_inside_a_pickles_bytes_is_walked(tmp_path: Path) -> None:
    import pickle

    from tests.executable_corpus import _System

    # bytes a reducer would load again (torch.storage._load_from_bytes, pickle.loads)
    inner = pickle.dumps(_System(tmp_path / "c"), protocol=2)
    outer = pickle.dumps({"note": "x", "payload": inner}, protocol=4)
    path = tmp_path / "state.pkl"
    path.write_bytes(outer)
    found, _ = findings(path)
    assert [f.member for f in found if f.rule is rules.CODE_EXECUTION] == ["pickle:bytes[0]"]
