"""Syntactically valid fake credentials, one per rule, generated fresh (never real keys), each
in the context its rule needs; shared by the credential tests."""

from __future__ import annotations

import base64
import io
import json
import pickle
import random
import string
import tarfile
import zipfile
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

ALNUM = string.ascii_letters + string.digits
rng = random.Random(17)


def _pick(count: int, alphabet: str = ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(count))


def fakes() -> dict[str, tuple[str, str]]:
    """rule id -> (text holding the credential, the secret value itself); the same on every
    call."""
    rng.seed(17)
    upper = string.ascii_uppercase + string.digits
    hexdigits = "0123456789abcdef"
    made: dict[str, tuple[str, str]] = {}

    def add(rule: str, secret: str, text: str | None = None) -> None:
        made[rule] = (text if text is not None else secret, secret)

    add("aws-access-key-id", "AKIA" + _pick(16, upper))
    secret = _pick(40, ALNUM + "/+")
    add("aws-secret-access-key", secret, f'aws_secret_access_key = "{secret}"')
    add("azure-storage-key", "AccountKey=" + _pick(86, ALNUM + "+/") + "==",
        None)
    add("github-token", "ghp_" + _pick(36))
    add("github-fine-grained-token", f"github_pat_{_pick(22)}_{_pick(59)}")
    add("gitlab-token", "glpat-" + _pick(20))
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
    body = base64.urlsafe_b64encode(json.dumps({"sub": _pick(8)}).encode()).decode().rstrip("=")
    add("jwt", f"{header}.{body}.{_pick(43, ALNUM + '-_')}")
    secret = "npm_" + _pick(36)
    add("npm-token", secret, f"//registry.npmjs.org/:_authToken={secret}")
    add("openai-key", f"sk-{_pick(20)}T3BlbkFJ{_pick(20)}")
    add("openai-project-key", "sk-proj-" + _pick(80, ALNUM + "_-"))
    body = _pick(70, ALNUM + "+/")
    add("private-key", body, f"-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n"
                             "-----END OPENSSH PRIVATE KEY-----\n")
    add("pypi-token", "pypi-AgEIcHlwaS5vcmc" + _pick(80, ALNUM + "-_"))
    add("sendgrid-key", f"SG.{_pick(22)}.{_pick(43)}")
    add("slack-token", f"xoxb-{rng.randrange(10**11, 10**12)}-{_pick(24, string.ascii_lowercase)}")
    add("slack-webhook", f"https://hooks.slack.com/services/T{_pick(8)}/B{_pick(8)}/{_pick(24)}")
    add("stripe-key", "sk_live_" + _pick(24))
    add("twilio-key", "AC" + _pick(32, hexdigits))
    add("square-oauth-secret", "sq0csp-" + _pick(43, ALNUM + "-_"))
    add("discord-bot-token", f"M{_pick(23)}.{_pick(6)}.{_pick(27)}")
    add("mailchimp-key", _pick(32, string.ascii_lowercase + string.digits) + "-us12")
    add("telegram-bot-token", f"{rng.randrange(10**8, 10**9)}:{_pick(35, ALNUM + '_-')}")
    secret = "AKC" + _pick(20)
    add("artifactory-token", secret, f'artifactory_token: "{secret}"')
    secret = _pick(64, hexdigits)
    add("cloudant-credentials", secret, f'cloudant_password = "{secret}"')
    secret = _pick(44, ALNUM + "_-")
    add("ibm-cloud-iam-key", secret, f'ibm_cloud_iam_api_key = "{secret}"')
    secret = _pick(48, hexdigits)
    add("ibm-cos-hmac-key", secret, f'cos_hmac_secret_access_key = "{secret}"')
    secret = _pick(64, string.ascii_lowercase + string.digits)
    add("softlayer-key", secret, f'softlayer_api_key = "{secret}"')
    password = _pick(14)
    add("database-url", password, f"postgresql://trainer:{password}@db.internal.example:5432/x")
    add("huggingface-token", "hf_" + _pick(34, string.ascii_letters))
    add("anthropic-key", "sk-ant-api03-" + _pick(93, ALNUM + "_-") + "AA")
    add("replicate-token", "r8_" + _pick(37))
    add("google-api-key", "AIza" + _pick(35, ALNUM + "_-"))
    body = _pick(120, ALNUM + "+/")
    pem = "-----BEGIN RSA KEY-----\\n" + body + "\\n-----END RSA KEY-----\\n"
    add("gcp-service-account", body, json.dumps(
        {"type": "service_account", "project_id": "p", "private_key_id": _pick(40, hexdigits),
         "private_key": pem.replace("\\n", "\n"), "client_email": "x@p.iam.example"}))
    secret = _pick(40, ALNUM + "+/")
    add("azure-connection-string", secret,
        f"Endpoint=sb://x.servicebus.example/;SharedAccessKeyName=root;SharedAccessKey={secret};")
    secret = _pick(40, hexdigits)
    add("wandb-key", secret, f"WANDB_API_KEY={secret}")
    secret = _pick(40)
    add("cohere-key", secret, f'co = cohere.Client("{secret}")')
    add("neptune-token", "eyJhcGlfYWRkcmVzcyI6" + _pick(60, ALNUM + "="))
    secret = _pick(25)
    add("comet-key", secret, f'COMET_API_KEY="{secret}"')
    secret = base64.b64encode(f"user:{_pick(16)}".encode()).decode()
    add("docker-auth", secret, json.dumps({"auths": {"registry.example": {"auth": secret}}}))
    secret = _pick(16)
    add("netrc-password", secret, f"machine api.wandb.ai\n  login user\n  password {secret}\n")
    secret = _pick(20)
    add("git-credentials", secret, f"https://someone:{secret}@git.example.org\n")
    secret = _pick(24)
    add("generic-secret", secret, f'client_secret = "{secret}"')
    return made


def plant(model: Path) -> dict[str, list[int]]:
    """Every fake in six carriers in the model folder (a Python file, a notebook output, a
    YAML config, a JSON member of a zip inside a tar.gz, pickle strings, safetensors
    metadata); returns the Python file's line range per rule."""
    made = fakes()
    lines: dict[str, list[int]] = {}
    source = ["# settings\n"]
    for rule, (text, _) in sorted(made.items()):
        start = sum(chunk.count("\n") for chunk in source) + 1
        source.append(text + "\n")
        lines[rule] = list(range(start, start + text.count("\n") + 1))
    (model / "launch.py").write_text("".join(source))
    notebook = {"cells": [{"cell_type": "code", "source": ["print(settings)\n"],
                           "metadata": {}, "execution_count": 1,
                           "outputs": [{"output_type": "stream", "name": "stdout",
                                        "text": [f"{text}\n" for text, _ in made.values()]}]}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (model / "explore.ipynb").write_text(json.dumps(notebook))
    (model / "train_config.yaml").write_text("".join(
        f"{rule}: {json.dumps(text)}\n" for rule, (text, _) in sorted(made.items())))
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("settings.json", json.dumps({r: t for r, (t, _) in made.items()}))
    outer = io.BytesIO()
    with tarfile.open(fileobj=outer, mode="w:gz") as archive:
        info = tarfile.TarInfo("bundle/settings.zip")
        info.size = len(inner.getvalue())
        archive.addfile(info, io.BytesIO(inner.getvalue()))
    (model / "assets.tar.gz").write_bytes(outer.getvalue())
    (model / "state.pkl").write_bytes(pickle.dumps({r: t for r, (t, _) in made.items()},
                                                   protocol=4))
    save_file({"w": np.zeros((2, 2), "f4")}, str(model / "adapter.safetensors"),
              metadata={r.replace("-", "_"): t for r, (t, _) in made.items()})
    return lines
