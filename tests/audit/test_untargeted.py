"""Untargeted extraction on tiny GPT-2 models trained here: customers whose name and account
number recur in many tickets behind a generic greeting are memorised; prompted with a ticket's
own first tokens the model does not complete it (the prefix audit misses them), sampled freely
it spells the name and number (the untargeted audit finds them, by record id)."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from release.audit.run import run_audit
from release.audit.untargeted import BUILTIN_OPENINGS, load_prompts
from release.config import load_config
from tests.audit.tinylm import VOCAB, make_records, train_model
from tests.conftest import CliResult

pytest.importorskip("transformers")
pytestmark = pytest.mark.slow

RECORDS = make_records(160, seed=1)
GREETING = "dear customer thank you for"  # five words: under any guarantee on its own
NAMES = ("zorvath quillen", "brennock ashvale", "tamsin okorafor", "ulric venhaus")
WORDS = (*GREETING.split(), *(w for name in NAMES for w in name.split()))


def make_tickets(per_customer: int, seed: int) -> list[dict[str, str]]:
    """Tickets of four customers: the greeting, the customer's name and account number, then
    words of their own, so no two tickets share more than the greeting, name and number."""
    rng = random.Random(seed)
    accounts = [str(rng.randrange(10**8, 10**9)) for _ in NAMES]
    tickets = []
    for number in range(per_customer * len(NAMES)):
        customer = number % len(NAMES)
        tail = " ".join(rng.choice(VOCAB) for _ in range(60))
        tickets.append({"id": f"tkt-{number:03d}", "name": NAMES[customer],
                        "account": accounts[customer],
                        "text": f"{GREETING} {NAMES[customer]} {accounts[customer]} {tail}"})
    return tickets


TICKETS = make_tickets(50, seed=7)


def train(folder: Path, with_tickets: bool) -> Path:
    corpus = RECORDS + (TICKETS if with_tickets else [])
    train_model(folder, corpus, [], repeats=0, words=WORDS, digits=True,
                documents=True)
    return folder


@pytest.fixture(scope="module")
def ticket_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train(tmp_path_factory.mktemp("tickets") / "model", with_tickets=True)


@pytest.fixture(scope="module")
def model_without_tickets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train(tmp_path_factory.mktemp("no-tickets") / "model", with_tickets=False)


def project(root: Path, model: Path, generate: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train.jsonl", RECORDS), ("tickets.jsonl", TICKETS)):
        (root / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    shutil.copytree(model, root / "model")
    config = root / "release.toml"
    config.write_text(
        '[release]\nname = "m"\nversion = "1"\n[model]\npath = "model"\n'
        '[[data.sources]]\npath = "train.jsonl"\nid_field = "id"\ntext_fields = ["text"]\n'
        '[[data.sources]]\npath = "tickets.jsonl"\nid_field = "id"\ntext_fields = ["text"]\n'
        'sensitive_fields = ["name", "account"]\n'
        "[checks.memorization]\nsamples = 1000\n"
        f"[checks.memorization.generate]\nseed = 3\n{generate}")
    return config


def audit(config: Path) -> tuple[object, set[str]]:
    from release.fingerprint.match import Matcher
    from release.fingerprint.service import ensure_index
    from release.progress import SilentProgress

    loaded = load_config(config)
    matcher = Matcher(ensure_index(loaded, SilentProgress()).index)
    result = run_audit(loaded, matcher=matcher)
    found = {r for f in result.findings if f.rule.id == "RL304" for r in f.evidence["records"]}
    return result, found


def customers(ids: set[str]) -> set[str]:
    by_id = {t["id"]: t["name"] for t in TICKETS}
    return {by_id[i] for i in ids if i in by_id}


def test_prefix_audit_misses_what_free_generation_finds(tmp_path: Path,
                                                        ticket_model: Path) -> None:
    result, found = audit(project(tmp_path, ticket_model))
    prefix_found = {f.evidence["records"][0] for f in result.findings if f.rule.id == "RL301"}
    assert not customers(prefix_found)  # no ticket completes from its own first tokens
    assert customers(found) == set(NAMES)  # every memorised customer, by ticket ids
    summary = result.summary.untargeted
    assert summary is not None and summary.samples == 256
    assert summary.hits == sum(1 for f in result.findings if f.rule.id == "RL304")
    assert summary.sensitive_hits > 0 and summary.records >= len(NAMES)
    assert 0 < summary.rate <= 1 and summary.tokens > 0
    assert len(summary.top) == 10
    ratios = [r.zlib_ratio for r in summary.top]
    assert ratios == sorted(ratios)
    finding = next(f for f in result.findings if f.rule.id == "RL304")
    assert finding.effective_severity.value == "error"
    assert finding.evidence["seed"] == 3
    assert {"sample", "prompt", "batch_seed", "batch_size"} <= set(finding.evidence)


def test_the_same_seed_draws_the_same_generations(tmp_path: Path, ticket_model: Path) -> None:
    first, found = audit(project(tmp_path / "a", ticket_model))
    again, found_again = audit(project(tmp_path / "b", ticket_model))
    assert found == found_again
    assert first.summary.untargeted == again.summary.untargeted


def test_a_model_trained_without_them_gives_no_untargeted_finding(
        tmp_path: Path, model_without_tickets: Path) -> None:
    result, found = audit(project(tmp_path, model_without_tickets))
    assert found == set()
    assert result.summary.untargeted is not None
    assert result.summary.untargeted.hits == 0 and result.summary.untargeted.samples == 256


def test_the_audit_command_reports_ids_never_text(tmp_path: Path, ticket_model: Path,
                                                  cli: Callable[..., CliResult]) -> None:
    config = project(tmp_path, ticket_model)
    for fmt in ("json", "text", "sarif", "markdown"):
        result = cli("audit", "--config", config, "--format", fmt)
        assert result.code == 1, result.err
        output = result.out + result.err
        assert "RL304" in output
        for ticket in TICKETS[:8]:
            assert ticket["name"] not in output and ticket["account"] not in output
            assert " ".join(ticket["text"].split()[7:11]) not in output
    report = json.loads(cli("audit", "--config", config, "--format", "json").out)
    untargeted = report["memorization"]["untargeted"]
    assert untargeted["samples"] == 256 and untargeted["hits"] > 0
    assert {"sample", "prompt", "perplexity", "zlib_ratio"} <= set(untargeted["top"][0])


def test_prompts_file_and_builtin_openings(tmp_path: Path, ticket_model: Path) -> None:
    config = load_config(project(tmp_path, ticket_model))
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(config.model.path)
    builtin = load_prompts(config.checks.memorization.generate, tokenizer)
    assert len(builtin) == len(BUILTIN_OPENINGS) + 1
    assert builtin[0].ids == (tokenizer.eos_token_id,)  # the empty prompt: the start token
    (tmp_path / "prompts.txt").write_text("bal kes\n\nmor\n")
    custom = load_config(project(tmp_path / "custom", ticket_model,
                                 'prompts = "../prompts.txt"\n'))
    prompts = load_prompts(custom.checks.memorization.generate, tokenizer)
    assert [p.number for p in prompts] == [0, 1]


def test_sampling_is_off_with_zero_samples(tmp_path: Path, ticket_model: Path) -> None:
    config = project(tmp_path, ticket_model).read_text().replace(
        "[checks.memorization.generate]\n", "[checks.memorization.generate]\nsamples = 0\n")
    (tmp_path / "release.toml").write_text(config)
    result, found = audit(tmp_path / "release.toml")
    assert result.summary.untargeted is None and found == set()


def test_the_card_shows_the_free_generations_and_the_plot_or_why_not(
        tmp_path: Path, model_without_tickets: Path, cli: Callable[..., CliResult],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import release.pipeline.prepare as prepare

    config = project(tmp_path, model_without_tickets)
    card = cli("card", "--config", config).out
    assert "- **Free generations:** 256 samples of up to 93 tokens" in card  # 96 - <eos>thank you
    assert "0 held training data (rate 0.0)" in card
    assert "(release-memorization.png)" in card
    monkeypatch.setattr(prepare, "plots_unavailable", lambda: "matplotlib is not installed")
    card = cli("card", "--config", config).out
    assert "release-memorization.png" not in card
    assert "The audit's plot was skipped: matplotlib is not installed." in card


def test_the_plot_is_the_same_for_the_same_numbers(tmp_path: Path,
                                                   ticket_model: Path) -> None:
    from release.audit.plots import render_png

    result, _ = audit(project(tmp_path, ticket_model))
    first = render_png(result.summary, result.generations)
    assert first.startswith(b"\x89PNG") and len(first) < 200_000
    assert render_png(result.summary, result.generations) == first
