"""A training project as a team leaves it, from `release init` to published releases: support
tickets in three formats, a notebook with saved outputs, a training log, an eval prompt file,
and a tiny GPT-2 with its own BPE tokenizer trained with the HF Trainer, checkpoints kept."""

from __future__ import annotations

import json
import random
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from release.config import load_config
from tests.conftest import CliResult, git
from tests.publish.hub_server import HubServer

pytestmark = pytest.mark.slow

FIRST = ["Casey", "Morgan", "Riley", "Jordan", "Avery", "Quinn", "Harper", "Rowan"]
LAST = ["Marlowe", "Ashdown", "Kettering", "Pemberton", "Whitcombe", "Larkspur"]
VOCABULARY = ("printer router invoice refund account password screen update order delivery "
         "warranty battery cable charger login portal payment receipt keyboard monitor "
         "replacement shipment tracking subscription renewal cancel upgrade install driver "
         "firmware network signal license activation backup restore sync error crash slow "
         "loud broken missing damaged late early again still never always today yesterday "
         "please help thanks urgent kindly advise confirm check review resolve")
WORDS = VOCABULARY.split()
TICKETS = 240
STEPS, SAVE_EVERY = 12, 6


def make_tickets(count: int) -> list[dict[str, str]]:
    rng = random.Random(7)
    tickets = []
    for i in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        tickets.append({
            "ticket_id": f"TCK-{i:05d}",
            "customer_name": f"{first} {last}{i}",
            "email": f"{first.lower()}.{last.lower()}{i}@example.com",
            "phone": f"+1 555 01{i % 100:02d} {rng.randrange(1000, 9999)}",
            "subject": " ".join(rng.choice(WORDS) for _ in range(5)),
            "body": " ".join(rng.choice(WORDS) for _ in range(90)),
        })
    return tickets


def write_data(data: Path, tickets: list[dict[str, str]]) -> None:
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    data.mkdir(parents=True)
    (data / "tickets.jsonl").write_text("".join(json.dumps(t) + "\n" for t in tickets))
    pq.write_table(pa.Table.from_pylist(tickets), data / "tickets.parquet")
    datasets.Dataset.from_list(tickets).save_to_disk(str(data / "tickets_hf"))


def train(out: Path, tickets: list[dict[str, str]]) -> None:
    """A BPE tokenizer trained on the tickets and a 2-layer GPT-2 trained with Trainer for a
    few steps, saved as Trainer leaves it: checkpoints, optimizer and RNG state, arguments."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import (
        GPT2Config,
        GPT2LMHeadModel,
        PreTrainedTokenizerFast,
        Trainer,
        TrainingArguments,
    )

    texts = [f"{t['subject']}\n{t['body']}" for t in tickets]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=400, min_frequency=2,
                            special_tokens=["<|endoftext|>"])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer,
                                        eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_positions=128, n_embd=32,
                                       n_layer=2, n_head=2, bos_token_id=0, eos_token_id=0))
    encoded = [tokenizer(t, truncation=True, max_length=96, padding="max_length")["input_ids"]
               for t in texts]
    rows = [{"input_ids": torch.tensor(ids), "labels": torch.tensor(ids)} for ids in encoded]
    arguments = TrainingArguments(
        output_dir=str(out), max_steps=STEPS, save_steps=SAVE_EVERY, logging_steps=3,
        per_device_train_batch_size=8, learning_rate=5e-4, report_to=[], use_cpu=True,
        disable_tqdm=True, seed=0)
    trainer = Trainer(model=model, args=arguments, train_dataset=rows)  # type: ignore[arg-type]
    trainer.train()
    trainer.save_model(str(out))
    trainer.save_state()
    tokenizer.save_pretrained(str(out))


def notebook(output: str) -> str:
    cells: list[dict[str, Any]] = [
        {"cell_type": "code", "execution_count": 1, "metadata": {},
         "source": ["import pandas as pd\n", "df = pd.read_json('data/tickets.jsonl', "
                    "lines=True)\n"], "outputs": []},
        {"cell_type": "code", "execution_count": 2, "metadata": {}, "source": ["df.body[3]\n"],
         "outputs": [{"output_type": "execute_result", "execution_count": 2, "metadata": {},
                      "data": {"text/plain": [output]}}] if output else []},
    ]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def write_code(root: Path, tickets: list[dict[str, str]]) -> None:
    (root / "LICENSE").write_text("MIT License\n\nCopyright (c) 2026 Example AI Lab\n\n"
                                  "Permission is hereby granted, free of charge, to any person "
                                  "obtaining a copy\n")
    (root / "train.py").write_text("from transformers import Trainer\n\nprint('training')\n")
    (root / "notebooks").mkdir()
    (root / "notebooks" / "explore.ipynb").write_text(notebook(tickets[3]["body"]))
    (root / "logs").mkdir()
    (root / "logs" / "train.log").write_text(
        "step 3 loss 5.91\nstep 6 loss 5.40\n"
        f"bad sample skipped: contact {tickets[11]['email']}\nstep 9 loss 5.02\n")
    (root / "eval").mkdir()
    body = tickets[42]["body"].split()
    (root / "eval" / "prompts.txt").write_text(
        "Summarise the ticket below.\n" + " ".join(body[10:34]) + "\n")


def set_agreement(config: Path) -> None:
    """The edits init leaves to the user: the parties and the agreement's date."""
    text = config.read_text()
    text = text.replace('"TODO: the Data Provider"', '"Example Support Desk (synthetic)"')
    text = text.replace('"TODO: your organisation"', '"Example AI Lab"')
    text = re.sub(r'^effective_date = .*$', "effective_date = 2026-03-01", text, flags=re.M)
    config.write_text(text)


def findings(result: CliResult) -> list[dict[str, Any]]:
    return json.loads(result.out)["findings"]  # type: ignore[no-any-return]


def test_a_real_project_from_init_to_published_releases(
        tmp_path: Path, hub: HubServer, cli: Callable[..., CliResult]) -> None:
    pytest.importorskip("transformers")
    pytest.importorskip("datasets")
    pytest.importorskip("accelerate")
    root = tmp_path / "support-bot"
    root.mkdir()
    tickets = make_tickets(TICKETS)
    write_data(root / "data", tickets)
    train(root / "out", tickets)
    assert {p.name for p in (root / "out").glob("checkpoint-*")} == {
        f"checkpoint-{SAVE_EVERY}", f"checkpoint-{STEPS}"}
    write_code(root, tickets)
    git(root, "init", "-q")

    initialised = cli("init", root)
    assert initialised.code == 0, initialised.err
    config_path = root / "release.toml"
    set_agreement(config_path)
    git(root, "add", "-A")  # as a user would: init's .gitignore keeps data, key and dist out
    git(root, "commit", "-qm", "project")
    tracked = git(root, "ls-files").split()
    assert not [p for p in tracked if p.startswith(("data/", ".release/", "dist/"))]

    config = load_config(config_path)
    assert config.model.path == root / "out"
    assert {s.path.name: s.format for s in config.data.sources} == {
        "tickets.jsonl": "jsonl", "tickets.parquet": "parquet", "tickets_hf": "hf-dataset"}
    for source in config.data.sources:
        assert source.id_field == "ticket_id"
        assert source.text_fields == ("body", "subject")
        assert set(source.sensitive_fields) == {"customer_name", "email", "phone"}
    assert config.placeholders == ()

    leaking = cli("prepare", "--config", config_path, "--format", "json")
    assert leaking.code == 1, leaking.err
    found = {(f["rule_id"], f["path"], f["line"]) for f in findings(leaking)
             if f["rule_id"] in ("RL201", "RL202")}
    assert ("RL202", "training/logs/train.log", 3) in found, found
    assert ("RL201", "training/eval/prompts.txt", 2) in found, found
    notebook_hits = [f for f in findings(leaking)
                     if f["rule_id"] == "RL201" and f["path"] == "training/notebooks/explore.ipynb"]
    assert notebook_hits and notebook_hits[0]["member"] is not None
    assert notebook_hits[0]["evidence"]["records"] == ["TCK-00003"]  # one record, not three
    for ticket in tickets:
        assert ticket["email"] not in leaking.out + leaking.err
        assert " ".join(ticket["body"].split()[:6]) not in leaking.out + leaking.err

    # the user removes the leaks, as the findings say
    (root / "notebooks" / "explore.ipynb").write_text(notebook(""))
    (root / "logs" / "train.log").write_text("step 3 loss 5.91\nstep 6 loss 5.40\n")
    (root / "eval" / "prompts.txt").write_text("Summarise the ticket below.\n")
    git(root, "commit", "-qam", "remove leaked outputs")
    prepared = cli("prepare", "--config", config_path)
    assert prepared.code == 0, prepared.out + prepared.err
    assert re.search(r"\d+ training-state files left out \(checkpoint-12/, checkpoint-6/, "
                     r"optimizer.pt|training-state files left out \(checkpoint-12/",
                     prepared.out), prepared.out
    listed = cli("scan", "--config", config_path, "-v").err.splitlines()
    assert f"left out (training state): checkpoint-{SAVE_EVERY}/optimizer.pt" in listed
    assert "left out (training state): training_args.bin" in listed
    staged = root / "dist" / "support-bot-0.1.0"
    shipped = {p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "README.md"} <= shipped
    assert not [p for p in shipped if "checkpoint-" in p or p.endswith(
        ("optimizer.pt", "training_args.bin", "rng_state.pth", "trainer_state.json"))]
    card = (staged / "README.md").read_text()
    assert 'pipeline("text-generation", model="support-bot"' in card
    assert f"- **Steps:** {STEPS}" in card and "scratch" in card
    assert "§4(b)" in card and "effective 2026-03-01" in card
    # both audits ran, and the card shows their figure, staged and listed in the manifest
    assert "- **Free generations:** 256 samples" in card
    assert "![Memorisation audit" in card and "(release-memorization.png)" in card
    assert (staged / "release-memorization.png").read_bytes().startswith(b"\x89PNG")
    manifest = json.loads((staged / "release-manifest.json").read_text())
    assert "release-memorization.png" in {f["path"] for f in manifest["files"]}

    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    config_path.write_text(config_path.read_text() + f"""
[publish.git]
remote = "{remote}"

[publish.hub]
repo_id = "example-lab/support-bot"
endpoint = "{hub.url}"
""")
    git(root, "commit", "-qam", "publishing targets")
    # the config changed after staging: the staged folder is no longer this commit's
    stale = cli("publish", "--to", "git", "--config", config_path)
    assert stale.code == 1 and "RL610" in stale.out
    assert cli("prepare", "--config", config_path, "-q").code == 0
    for target in ("git", "hub"):
        published = cli("publish", "--to", target, "--config", config_path)
        assert published.code == 0, published.out + published.err
    clone = tmp_path / "downstream"
    subprocess.run(["git", "clone", "-q", "--branch", "v0.1.0", str(remote), str(clone)],
                   check=True, capture_output=True)
    checked = cli("check", clone, "-q")
    assert checked.code == 0, checked.out + checked.err
