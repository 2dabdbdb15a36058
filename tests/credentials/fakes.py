"""Syntactically valid fake credentials, one per rule, generated fresh (never real keys), each
in the context its rule needs; shared by the credential tests."""

from __future__ import annotations

import base64
import json
import random
import string

ALNUM = string.ascii_letters + string.digits
rng = random.Random(17)


def _pick(count: int, alphabet: str = ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(count))


def fakes() -> dict[str, tuple[str, str]]:
    """rule id -> (text holding the credential, the secret value itself)."""
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
