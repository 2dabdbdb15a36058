"""Every credential rule finds its own fake, and ordinary project text holds no credential."""

from __future__ import annotations

import hashlib
import json
import re
import sysconfig
import uuid
from pathlib import Path

import numpy as np
import pytest

from release.credentials import credential_file, find_secrets, secret_rules
from tests.credentials.fakes import fakes

REPO = Path(__file__).resolve().parents[2]
FAKES = fakes()


def test_every_rule_has_a_fake() -> None:
    assert {rule.id for rule in secret_rules()} == set(FAKES)


@pytest.mark.parametrize("rule_id", sorted(FAKES))
def test_each_rule_finds_its_fake(rule_id: str) -> None:
    text, secret = FAKES[rule_id]
    hits = list(find_secrets(f"some text before\n{text}\nand after\n".encode()))
    assert [h.rule.id for h in hits] == [rule_id], hits
    if rule_id != "private-key":  # found by its header, which is public
        assert secret.encode() in hits[0].secret or hits[0].secret in secret.encode()


def _ordinary_texts() -> list[bytes]:
    texts = [p.read_bytes() for p in sorted((REPO / "src").rglob("*.py"))]
    texts += [p.read_bytes() for p in sorted((REPO / "tests").rglob("*.py"))
              if "credentials" not in p.parts and p.name != "executable_corpus.py"]
    lib = Path(sysconfig.get_paths()["stdlib"])
    texts += [p.read_bytes() for p in sorted((lib / "json").rglob("*.py"))]
    vocab = {f"tok{i}": i for i in range(5000)} | {"<pad>": 0, "<|endoftext|>": 1, "Ġthe": 2}
    texts.append(json.dumps({"model": {"vocab": vocab}, "added_tokens": [
        {"content": "<pad>", "special": True}], "pad_token": "<pad>",
        "eos_token": "<|endoftext|>", "tokenizer_class": "GPT2TokenizerFast"}).encode())
    weights = np.random.default_rng(0).standard_normal(4096).astype("f4").tobytes()
    import base64

    texts.append(json.dumps({"weights": base64.b64encode(weights).decode()}).encode())
    texts.append("\n".join(str(uuid.UUID(int=i * 7919)) for i in range(2000)).encode())
    texts.append("\n".join(hashlib.sha1(str(i).encode()).hexdigest() for i in range(2000))
                 .encode())
    texts.append(json.dumps({"files": [{"path": f"m{i}.bin", "sha256": hashlib.sha256(
        str(i).encode()).hexdigest()} for i in range(1000)]}).encode())
    return texts


def test_ordinary_code_and_model_files_hold_no_credential() -> None:
    found = [(h.rule.id, n) for n, text in enumerate(_ordinary_texts())
             for h in find_secrets(text)]
    assert found == []


@pytest.mark.parametrize("path", [
    ".netrc", "token", "config/.env", ".env.production", "keys/id_rsa", "deploy/server.pem",
    ".git-credentials", ".huggingface/token", "wandb/settings", ".pypirc", "aws/credentials"])
def test_credential_stores_by_name(path: str) -> None:
    assert credential_file(path)


@pytest.mark.parametrize("path", ["tokenizer.json", "tokens.txt", "environment.yml",
                                  "README.md", "model.safetensors", "env.py"])
def test_ordinary_names_are_not_credential_stores(path: str) -> None:
    assert not credential_file(path)


def test_a_rule_hyperscan_refuses_is_prefiltered_by_its_keywords(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("hyperscan")
    import release.credentials as credentials
    from release.credentials.rules import SecretRule

    refused = SecretRule("repeated", "test", re.compile(rb"tok_(\w)\1([a-z]{12})"), (b"tok_",),
                         2)
    monkeypatch.setattr(credentials, "secret_rules", lambda: [*secret_rules(), refused])
    engine = credentials._Engine()
    assert engine.database is not None
    assert refused in engine.candidates(b"x = tok_aaqwertyuiopas")
    assert refused not in engine.candidates(b"x = nothing here")
