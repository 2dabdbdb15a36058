"""Canary formats and the exposure arithmetic, without a model."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from release.audit.canary_format import FormatError, parse_format
from release.audit.exposure import exposure_bits, rank_canary
from release.config import load_config
from release.errors import ConfigError


def test_a_format_is_literal_text_and_slots() -> None:
    fmt = parse_format("the account number is {digits:9}")
    assert fmt.space == 10**9 and math.isclose(fmt.space_bits, 9 * math.log2(10))
    assert fmt.matches("the account number is 281734926")
    assert not fmt.matches("the account number is 28173492")
    assert not fmt.matches("the account number is 2817349260")
    assert not fmt.matches("the account number is 28173492x")
    mixed = parse_format("{{id}} {upper:2}-{hex:3}.{letters:1}{alnum:2}")
    assert mixed.space == 26**2 * 16**3 * 26 * 36**2
    drawn = mixed.draw(50, seed=1)
    assert drawn == mixed.draw(50, seed=1) and drawn != mixed.draw(50, seed=2)
    assert all(mixed.matches(s) for s in drawn)
    assert all(s.startswith("{id} ") for s in drawn)


def test_every_string_of_a_small_format_once() -> None:
    fmt = parse_format("pin {digits:2}/{letters:1}")
    every = list(fmt.every())
    assert len(every) == len(set(every)) == fmt.space == 2600
    assert every[0] == "pin 00/a" and every[-1] == "pin 99/z"
    assert all(fmt.matches(s) for s in every)


@pytest.mark.parametrize(("text", "words"), [
    ("no slot at all", "no random slot"),
    ("{digits}", "is not {KIND:LENGTH}"),
    ("{digit:3}", "slot kind .digit. is not one of"),
    ("{emoji:3}", "is not one of"),
    ("{digits:0}", "must lie in 1-64"),
    ("{digits:65}", "must lie in 1-64"),
    ("a } b {digits:2}", "a lone '}'"),
])
def test_bad_formats_say_what_is_wrong(text: str, words: str) -> None:
    with pytest.raises(FormatError, match=words.replace("{", r"\{").replace("}", r"\}")):
        parse_format(text)


def test_config_names_a_bad_format(tmp_path: Path) -> None:
    config = tmp_path / "release.toml"
    config.write_text('[release]\nname = "m"\nversion = "1"\n[model]\npath = "."\n'
                      '[checks.memorization]\ncanary_formats = ["ok {digits:3}", "{digits}"]\n'
                      "max_exposure = 12.5\n")
    with pytest.raises(ConfigError) as error:
        load_config(config)
    assert "checks.memorization.canary_formats" in str(error.value)
    assert "entry 2" in str(error.value)
    config.write_text(config.read_text().replace('"{digits}"', '"x {hex:4}"'))
    settings = load_config(config).checks.memorization
    assert settings.canary_formats == ("ok {digits:3}", "x {hex:4}")
    assert settings.max_exposure == 12.5 and settings.generate.samples == 256


def test_exact_exposure_is_log2_space_over_rank() -> None:
    others = [float(v) for v in range(1, 1000)]  # 999 others; the canary completes the space
    bits = math.log2(1000)
    assert rank_canary(0.5, others, bits, exact=True) == (bits, 0, "exact")
    exposure, below, _ = rank_canary(500.5, others, bits, exact=True)
    assert below == 500 and math.isclose(exposure, bits - math.log2(501))


def test_sampled_exposure_follows_the_share_below() -> None:
    rng = random.Random(0)
    candidates = [rng.gauss(50.0, 5.0) for _ in range(4000)]
    bits = 30.0
    exposure, below, method = rank_canary(50.0, candidates, bits, exact=False)
    assert method == "sampled" and 1800 < below < 2200
    assert math.isclose(exposure, 1.0, abs_tol=0.15)  # half the space is likelier: one bit
    far, below, method = rank_canary(10.0, candidates, bits, exact=False)
    assert method == "extrapolated" and below == 0
    assert 25 < far <= bits  # eight spreads below the mean: beyond any sample, near the cap
    tail, _, _ = rank_canary(35.0, candidates, bits, exact=False)  # three spreads below
    assert math.isclose(tail, -math.log2(0.00135), abs_tol=0.5)


def test_exposure_bits_stay_within_the_space() -> None:
    assert exposure_bits(20.0, 0.0) == 0.0  # everything is likelier: rank |R|
    assert exposure_bits(20.0, -1000.0) == 20.0  # nothing is: rank 1
    assert math.isclose(exposure_bits(20.0, -10.0), 20 - math.log2(2**10 + 1))
