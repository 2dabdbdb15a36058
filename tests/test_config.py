"""Tests for release.config: the reference config, typed errors with dotted keys, immutability."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from release.config import load_config, parse_config
from release.errors import ConfigError

SHARED_EXAMPLE = Path(__file__).resolve().parents[2] / "shared" / "release.example.toml"
MINIMAL = '[release]\nname = "m"\nversion = "1"\n[model]\npath = "model"\n'


def parse(text: str, name: str = "release.toml") -> object:
    return parse_config(Path("/project") / name, text)


@pytest.mark.skipif(not SHARED_EXAMPLE.exists(), reason="shared/ is not beside this checkout")
def test_reference_config_loads_every_key() -> None:
    config = load_config(SHARED_EXAMPLE)
    assert config.release.name == "contoso/clinic-notes-classifier"
    assert config.release.out == SHARED_EXAMPLE.parent / "dist"
    assert config.model.base_model is not None
    assert config.model.base_model.license == "MIT"
    assert config.code is not None and config.code.include[0] == "src/**"
    assert config.code.dest == "training"
    assert [s.format for s in config.data.sources] == ["jsonl", "parquet"]
    assert config.data.sources[0].sensitive_fields == ("patient_name", "email", "mrn")
    assert config.agreement.term_end == dt.date(2027, 1, 15)
    dp = config.agreement.privacy.differential_privacy
    assert dp is not None and dp.epsilon == 8.0 and dp.delta == 1e-5
    assert config.checks.memorization.prefix_tokens == 32
    assert config.card.language == ("en",)
    assert config.publish_git is not None and config.publish_git.tag == "v{version}"
    assert config.publish_hub is not None and config.publish_hub.private is True


def test_bundled_example_loads(example_copy: Path) -> None:
    config = load_config(example_copy / "release.toml")
    assert config.staged_dir.name == "example-org--clinic-notes-classifier-1.0.0"


def test_minimal_config_gets_defaults() -> None:
    config = parse_config(Path("/p/release.toml"), MINIMAL)
    assert config.code is None
    assert config.checks.min_match_words == 12
    assert config.data.sources == ()
    assert config.release.out == Path("/p/dist")


def test_config_is_immutable() -> None:
    config = parse_config(Path("/p/release.toml"), MINIMAL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.release.version = "2"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("[checks]\nmin_match_word = 3\n", "checks.min_match_word"),
        ("[agreement.privacy]\nhomomorphic = true\n", "agreement.privacy.homomorphic"),
        ("[[data.sources]]\npath = 'a.jsonl'\ntext_field = ['x']\n", "data.sources[0].text_field"),
        ("[publish.hub]\nrepo = 'x'\n", "publish.hub.repo"),
        ("[surprise]\n", "surprise"),
    ],
)
def test_unknown_keys_are_errors_naming_the_dotted_key(extra: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(MINIMAL + extra)
    assert info.value.key == key
    assert "unknown key" in str(info.value)
    assert "release.toml" in str(info.value)


@pytest.mark.parametrize(
    ("extra", "key", "words"),
    [
        ("[checks]\nmin_match_words = '12'\n", "checks.min_match_words", "an integer"),
        ("[checks]\nmin_match_words = true\n", "checks.min_match_words", "an integer"),
        ("[checks]\nfail_on = 'never'\n", "checks.fail_on", "one of"),
        ("[checks]\nmin_match_words = 1\n", "checks.min_match_words", "at least 8"),
        ("[[data.sources]]\npath = 'a.jsonl'\ntext_fields = 'note'\n",
         "data.sources[0].text_fields", "a list of strings"),
        ("[[data.sources]]\npath = 'a.bin'\n", "data.sources[0].format", "cannot tell"),
        ("[agreement]\neffective_date = '2026-01-01'\n", "agreement.effective_date", "a date"),
        ("[agreement]\neffective_date = 2026-01-01\nterm_end = 2025-01-01\n",
         "agreement.term_end", "before"),
        ("[code]\ndest = '../x'\n", "code.dest", "relative folder"),
    ],
)
def test_wrong_values_name_the_key_and_what_was_expected(extra: str, key: str,
                                                         words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(MINIMAL + extra)
    assert info.value.key == key
    assert words in str(info.value)


def test_missing_required_keys() -> None:
    with pytest.raises(ConfigError) as info:
        parse('[release]\nname = "m"\n[model]\npath = "x"\n')
    assert info.value.key == "release.version"
    with pytest.raises(ConfigError) as info:
        parse('[release]\nname = "m"\nversion = "1"\n')
    assert info.value.key == "model"


def test_bad_release_name() -> None:
    with pytest.raises(ConfigError) as info:
        parse('[release]\nname = "a/b/c"\nversion = "1"\n[model]\npath = "x"\n')
    assert info.value.key == "release.name"


def test_term_end_defaults_to_one_year_after_effective_date() -> None:
    config = parse_config(Path("/p/release.toml"),
                          MINIMAL + "[agreement]\neffective_date = 2024-02-29\n")
    assert config.agreement.term_end == dt.date(2025, 2, 28)


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "release.toml"
    path.write_text("[release\nname = 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert "not valid TOML" in str(info.value)
    assert info.value.exit_code == 2


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.toml")
    assert "not found" in str(info.value)


def test_config_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "release.toml"
    path.write_bytes(b"[release]\nname = \"\xff\"\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "UTF-8" in str(info.value)


def test_digest_is_sha256_of_the_file(tmp_path: Path) -> None:
    import hashlib

    path = tmp_path / "release.toml"
    path.write_text(MINIMAL)
    assert load_config(path).digest == hashlib.sha256(MINIMAL.encode()).hexdigest()
