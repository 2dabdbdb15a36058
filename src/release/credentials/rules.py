"""The credential rules: detect-secrets' own detectors where it has the provider (its regexes are
read from the installed library, not copied), this project's for the providers it lacks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class SecretRule:
    """One kind of credential: the regex that finds it (group `group` is the secret), the
    literal keywords one of which it always contains (the prefilter when no regex engine is
    compiled), and the public prefix a report may show."""

    id: str
    provider: str
    pattern: re.Pattern[bytes]
    keywords: tuple[bytes, ...]
    group: int = 0
    shown_prefix: str = ""
    min_entropy: float = 0.0  # bits per character of the secret, for generic rules
    source: str = "release"  # "detect-secrets <Detector>" or "release"
    generic: bool = False  # a value found by its context: placeholders and low entropy are not
    # what the one-pass prefilter looks for instead of `pattern` (a superset that starts where
    # the match does), for a regex whose long bounded repeats make hyperscan slow to compile
    prefilter: bytes | None = None


def _detect_secrets(detector: str, index: int | None = 0) -> re.Pattern[bytes]:
    """A detect-secrets detector's regex (`denylist[index]`; all of them, as alternatives,
    for None), compiled for bytes."""
    import importlib

    module, _, name = detector.rpartition(".")
    plugin = getattr(importlib.import_module(f"detect_secrets.plugins.{module}"), name)
    patterns: list[re.Pattern[str]] = list(plugin.denylist) if index is None else \
        [plugin.denylist[index]]
    joined = "|".join(f"(?:{p.pattern})" for p in patterns) if len(patterns) > 1 else \
        patterns[0].pattern
    return re.compile(joined.encode(), patterns[0].flags & ~re.UNICODE)


def _own(pattern: str, flags: int = 0) -> re.Pattern[bytes]:
    return re.compile(pattern.encode(), flags)


# placeholders a generic rule never reports (documentation, templates, environment lookups)
PLACEHOLDER = re.compile(
    rb"^(?:x+|\*+|\.+|<[^>]*>|\$\{[^}]*\}|\$[A-Z_]+|\{\{[^}]*\}\}|%\([^)]*\)s|"
    rb"(?i:changeme|password|secret|token|example\w*|dummy\w*|fake\w*|test\w*|your[_-]\w*|none|"
    rb"null|true|false|redacted|placeholder))$")


@cache
def secret_rules() -> tuple[SecretRule, ...]:
    """Every rule, detect-secrets' first."""
    ds = "detect-secrets "
    rules = [
        SecretRule("aws-access-key-id", "AWS", _detect_secrets("aws.AWSKeyDetector"),
                   (b"AKIA", b"ASIA", b"ABIA", b"ACCA", b"A3T"), 0, "AKIA",
                   source=ds + "AWSKeyDetector"),
        SecretRule("aws-secret-access-key", "AWS", _detect_secrets("aws.AWSKeyDetector", 1),
                   (b"aws", b"AWS", b"Aws"), 1, source=ds + "AWSKeyDetector"),
        SecretRule("azure-storage-key", "Azure", _detect_secrets(
            "azure_storage_key.AzureStorageKeyDetector"), (b"AccountKey=",),
            source=ds + "AzureStorageKeyDetector"),
        SecretRule("github-token", "GitHub", _detect_secrets("github_token.GitHubTokenDetector"),
                   (b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_"), 0, "gh*_",
                   source=ds + "GitHubTokenDetector"),
        SecretRule("gitlab-token", "GitLab",
                   _detect_secrets("gitlab_token.GitLabTokenDetector", None),
                   (b"glpat-", b"gldt-", b"glft-", b"glsoat-", b"glrt-"), 0, "glpat-",
                   source=ds + "GitLabTokenDetector"),
        SecretRule("jwt", "JSON Web Token", _detect_secrets("jwt.JwtTokenDetector"),
                   (b"eyJ",), 0, "eyJ", source=ds + "JwtTokenDetector"),
        SecretRule("npm-token", "npm", _detect_secrets("npm.NpmDetector"), (b"_authToken",), 1,
                   source=ds + "NpmDetector"),
        SecretRule("openai-key", "OpenAI", _detect_secrets("openai.OpenAIDetector"),
                   (b"T3BlbkFJ",), 0, "sk-", source=ds + "OpenAIDetector"),
        SecretRule("private-key", "private key",
                   _detect_secrets("private_key.PrivateKeyDetector", None),
                   (b"PRIVATE KEY", b"PuTTY-User-Key-File"), 0, "-----BEGIN",
                   source=ds + "PrivateKeyDetector"),
        SecretRule("pypi-token", "PyPI", _detect_secrets("pypi_token.PypiTokenDetector"),
                   (b"pypi-AgE",), 0, "pypi-", source=ds + "PypiTokenDetector"),
        SecretRule("sendgrid-key", "SendGrid", _detect_secrets("sendgrid.SendGridDetector"),
                   (b"SG.",), 0, "SG.", source=ds + "SendGridDetector"),
        SecretRule("slack-token", "Slack", _detect_secrets("slack.SlackDetector"), (b"xox",), 0,
                   "xox", source=ds + "SlackDetector"),
        SecretRule("slack-webhook", "Slack", _detect_secrets("slack.SlackDetector", 1),
                   (b"hooks.slack.com",), 0, "https://hooks.slack.com/services/",
                   source=ds + "SlackDetector"),
        SecretRule("stripe-key", "Stripe", _detect_secrets("stripe.StripeDetector"),
                   (b"k_live_",), 0, "sk_live_", source=ds + "StripeDetector"),
        SecretRule("square-oauth-secret", "Square", _detect_secrets(
            "square_oauth.SquareOAuthDetector"), (b"sq0csp-",), 0, "sq0csp-",
            source=ds + "SquareOAuthDetector"),
        SecretRule("discord-bot-token", "Discord", _detect_secrets(
            "discord.DiscordBotTokenDetector"), (b".",), 0, source=ds + "DiscordBotTokenDetector"),
        SecretRule("mailchimp-key", "Mailchimp", _detect_secrets("mailchimp.MailchimpDetector"),
                   (b"-us",), 0, source=ds + "MailchimpDetector"),
        SecretRule("telegram-bot-token", "Telegram", _detect_secrets(
            "telegram_token.TelegramBotTokenDetector"), (b":",), 0,
            source=ds + "TelegramBotTokenDetector"),
        SecretRule("artifactory-token", "Artifactory", _detect_secrets(
            "artifactory.ArtifactoryDetector"), (b"AKC",), 0, "AKC",
            source=ds + "ArtifactoryDetector"),
        SecretRule("cloudant-credentials", "IBM Cloudant", _detect_secrets(
            "cloudant.CloudantDetector", None), (b"cloudant", b"Cloudant", b"CLOUDANT"), 1,
            source=ds + "CloudantDetector"),
        SecretRule("ibm-cloud-iam-key", "IBM Cloud", _detect_secrets(
            "ibm_cloud_iam.IbmCloudIamDetector"), (b"ibm", b"IBM", b"iam", b"IAM"), 1,
            source=ds + "IbmCloudIamDetector"),
        SecretRule("ibm-cos-hmac-key", "IBM Cloud", _detect_secrets(
            "ibm_cos_hmac.IbmCosHmacDetector"), (b"cos", b"COS"), 1,
            source=ds + "IbmCosHmacDetector"),
        SecretRule("softlayer-key", "SoftLayer", _detect_secrets(
            "softlayer.SoftlayerDetector", None), (b"softlayer", b"SoftLayer", b"SOFTLAYER"), 1,
            source=ds + "SoftlayerDetector"),
        SecretRule("twilio-key", "Twilio", _own(r"\b(?:AC|SK)[0-9a-f]{32}\b"), (b"AC", b"SK"),
                   0, "AC", source="release (detect-secrets' TwilioKeyDetector, hex only)"),
        SecretRule("database-url", "database URL", _own(
            r"\b(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|redis|rediss|amqps?|mssql|"
            r"oracle|snowflake|clickhouse)(?:\+\w+)?://[^\s:/@'\"]+:([^\s@/'\"]{3,})@[^\s'\"]+"),
            (b"://",), 1, min_entropy=3.0, generic=True),
        # the providers detect-secrets lacks
        SecretRule("huggingface-token", "Hugging Face", _own(r"\b(?:hf|api_org)_[A-Za-z]{34}\b"),
                   (b"hf_", b"api_org_"), 0, "hf_"),
        SecretRule("github-fine-grained-token", "GitHub",
                   _own(r"\bgithub_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}\b"), (b"github_pat_",), 0,
                   "github_pat_"),
        SecretRule("anthropic-key", "Anthropic", _own(r"\bsk-ant-(?:api|admin)\d{2}-[\w-]{80,100}"),
                   (b"sk-ant-",), 0, "sk-ant-"),
        SecretRule("openai-project-key", "OpenAI",
                   _own(r"\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,200}"), (b"sk-proj-",
                                                                              b"sk-svcacct-",
                                                                              b"sk-admin-"), 0,
                   "sk-proj-"),
        SecretRule("replicate-token", "Replicate", _own(r"\br8_[A-Za-z0-9]{37}\b"), (b"r8_",), 0,
                   "r8_"),
        SecretRule("google-api-key", "Google Cloud",
                   _own(r"\b(AIza[0-9A-Za-z_-]{35})(?:[^0-9A-Za-z_-]|$)"), (b"AIza",), 1,
                   "AIza"),
        SecretRule("gcp-service-account", "Google Cloud", _own(
            r'"type"\s*:\s*"service_account"[^}]{0,4000}?"private_key"\s*:\s*"([^"]{64,})"'),
            (b"service_account",), 1, prefilter=rb'"type"\s*:\s*"service_account"'),
        SecretRule("azure-connection-string", "Azure", _own(
            r"(?:SharedAccessKey|AccountKey|Password|pwd)=([A-Za-z0-9+/=]{20,})(?:;|$)"),
            (b"SharedAccessKey=", b"AccountKey=", b"Password=", b"pwd="), 1),
        SecretRule("wandb-key", "Weights & Biases", _own(
            r"(?i)(?:wandb|WANDB_API_KEY|api\.wandb\.ai)[^\n]{0,40}?\b([0-9a-f]{40})\b"),
            (b"wandb", b"WANDB"), 1),
        SecretRule("cohere-key", "Cohere", _own(
            r"(?i)(?:cohere|co_api_key)[^\n]{0,30}?['\"=: ]([A-Za-z0-9]{40})\b"),
            (b"cohere", b"COHERE", b"co_api_key", b"CO_API_KEY"), 1),
        SecretRule("neptune-token", "Neptune", _own(
            r"\beyJhcGlfYWRkcmVzcyI6[A-Za-z0-9+/=_-]{40,}"), (b"eyJhcGlfYWRkcmVzcyI6",), 0,
            "eyJhcGlf"),
        SecretRule("comet-key", "Comet", _own(
            r"(?i)(?:comet_api_key|comet\.api_key|COMET_API_KEY)[^\n]{0,10}?['\"=: ]"
            r"([A-Za-z0-9]{25})\b"), (b"comet", b"COMET"), 1),
        SecretRule("docker-auth", "Docker/OCI registry", _own(
            r'"auths"\s*:\s*\{[^{}]{0,500}\{[^{}]{0,500}?"auth"\s*:\s*"([A-Za-z0-9+/=]{8,})"'),
            (b"auths",), 1, generic=True),
        SecretRule("netrc-password", ".netrc", _own(
            r"\bmachine[ \t]+\S+\s+(?:login[ \t]+\S+\s+)?password[ \t]+(\S{4,})"), (b"machine",), 1,
            generic=True),
        SecretRule("git-credentials", "git credentials", _own(
            r"\bhttps?://[^\s:/@]+:([^\s@]{4,})@[A-Za-z0-9.-]+"), (b"://",), 1, min_entropy=3.0,
            generic=True),
        SecretRule("generic-secret", "secret assignment", _own(
            r"(?i)(?:passw(?:or)?d|pwd|secret|api[_-]?key|apikey|access[_-]?key|private[_-]?key|"
            r"token)s?['\"]?[ \t]{0,3}(?::=|[:=])[ \t]{0,3}['\"]([^'\"\s]{8,200})['\"]"),
            (b"ass", b"ASS", b"wd", b"WD", b"ecret", b"ECRET", b"key", b"KEY", b"Key", b"oken",
             b"OKEN"), 1, min_entropy=3.0, generic=True),
    ]
    return tuple(rules)
