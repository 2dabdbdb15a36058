"""Credentials in text: which rules hit a piece of text, where, and how long the secret is;
never the secret itself beyond the scan. Hyperscan (where it is installed) tells in one pass
which rules can hit a piece; Python's `re` then finds where."""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from release.credentials.rules import PLACEHOLDER, SecretRule, secret_rules

__all__ = ["SecretHit", "SecretRule", "credential_file", "find_secrets", "masked",
           "secret_rules"]

MAX_HITS_PER_PIECE = 1000
WINDOW_BYTES = 64 << 10
OVERLAP_BYTES = 8 << 10  # longer than any credential the rules find

# files whose very name says they store credentials (matched on the lower-cased release path)
CREDENTIAL_FILES = re.compile(
    r"(?:^|/)(?:token|\.netrc|_netrc|\.git-credentials|credentials|\.env(?:\.[\w.-]+)?|"
    r"id_(?:rsa|dsa|ecdsa|ed25519)|[^/]+\.(?:pem|p12|pfx|ppk)|\.pypirc|\.npmrc|\.htpasswd|"
    r"wandb/settings|\.huggingface/token|huggingface/token|\.docker/config\.json|"
    r"\.aws/credentials|\.kaggle/kaggle\.json|kaggle\.json|\.boto)$")


@dataclass(frozen=True)
class SecretHit:
    """A credential found in a piece of text: its rule, its byte span, and the secret's bytes
    (kept only for the keyed hash of the finding, never reported)."""

    rule: SecretRule
    start: int
    end: int
    secret: bytes


def entropy(data: bytes) -> float:
    """Shannon entropy in bits per byte."""
    if not data:
        return 0.0
    counts = Counter(data)
    return -sum(c / len(data) * math.log2(c / len(data)) for c in counts.values())


class _Engine:
    """The rules compiled once: a hyperscan database of their regexes (a rule whose regex
    hyperscan refuses uses its keywords instead) telling which rules may hit a piece."""

    def __init__(self) -> None:
        self.rules = secret_rules()
        self.database: Any = None
        try:
            import hyperscan
        except ImportError:
            return
        expressions, ids, flags = [], [], []
        for number, rule in enumerate(self.rules):
            expressions.append(_superset(rule))
            ids.append(number)
            flags.append(_flags(rule, hyperscan))
        database = hyperscan.Database()
        try:
            database.compile(expressions=expressions, ids=ids, elements=len(ids), flags=flags)
        except hyperscan.error:  # a rule hyperscan refuses: find it, and use its keywords
            expressions, ids, flags = self._accepted(hyperscan)
            database.compile(expressions=expressions, ids=ids, elements=len(ids), flags=flags)
        self.database = database
        self._hyperscan = hyperscan
        self._local = threading.local()  # hyperscan's scratch space is one per thread

    def _accepted(self, hyperscan: Any) -> tuple[list[bytes], list[int], list[int]]:
        """Each rule's expression where hyperscan compiles it alone, else its keywords."""
        expressions, ids, flags = [], [], []
        for number, rule in enumerate(self.rules):
            prefilter = _prefilter(rule, hyperscan)
            candidates = [prefilter] if prefilter is not None else \
                [re.escape(k) for k in rule.keywords]
            for expression in candidates:
                expressions.append(expression)
                ids.append(number)
                flags.append(_flags(rule, hyperscan))
        return expressions, ids, flags

    def _scratch(self) -> Any:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._hyperscan.Scratch(self.database)
        return scratch

    def candidates(self, data: bytes) -> list[SecretRule]:
        if self.database is None:
            return [r for r in self.rules if any(k in data for k in r.keywords)]
        found: set[int] = set()

        def on_match(rule_id: int, start: int, end: int, flags: int, context: object) -> None:
            found.add(rule_id)

        self.database.scan(data, match_event_handler=on_match, scratch=self._scratch())
        return [self.rules[n] for n in sorted(found)]


_LOOKAROUND = re.compile(rb"\(\?<?[=!](?:[^()\\]|\\.)*\)")


def _flags(rule: SecretRule, hyperscan: Any) -> int:
    """One report a scan at most (which rules may hit is all the prefilter tells)."""
    caseless = hyperscan.HS_FLAG_CASELESS if rule.pattern.flags & re.IGNORECASE else 0
    return int(hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_ALLOWEMPTY | caseless)


def _superset(rule: SecretRule) -> bytes:
    """The expression hyperscan runs for a rule: its own prefilter, or its regex without the
    lookarounds hyperscan refuses (a superset, which `re` narrows)."""
    return rule.prefilter or _LOOKAROUND.sub(b"", rule.pattern.pattern)


def _prefilter(rule: SecretRule, hyperscan: Any) -> bytes | None:
    """`_superset` of a rule, or its regex as it is, where hyperscan compiles it alone; None
    when it compiles neither (the rule's keywords are used)."""
    for expression in (_superset(rule), rule.pattern.pattern):
        try:
            hyperscan.Database().compile(expressions=[expression], ids=[0], elements=1,
                                         flags=[_flags(rule, hyperscan)])
        except hyperscan.error:
            continue
        return expression
    return None


@cache
def _engine() -> _Engine:
    return _Engine()


def engine_name() -> str:
    """Which prefilter is in use, for benchmarks and notes."""
    return "hyperscan" if _engine().database is not None else "re"


def _plausible(rule: SecretRule, secret: bytes) -> bool:
    if not rule.generic:
        return True
    return not PLACEHOLDER.match(secret) and entropy(secret) >= rule.min_entropy


def _secret_group(match: re.Match[bytes], rule: SecretRule) -> int:
    """The group holding the secret: the rule's, or, in a regex of several alternatives each
    with its own group (detect-secrets' denylists joined), the one that matched."""
    if rule.group == 0 or match.group(rule.group) is not None:
        return rule.group
    return next((n for n in range(1, (match.re.groups or 0) + 1)
                 if match.group(n) is not None), 0)


def _windows(size: int) -> Iterator[tuple[int, int]]:
    """Overlapping windows of a piece: the rules' regexes run only on the windows the
    prefilter says they can hit, and a credential shorter than the overlap is whole in one."""
    start = 0
    while True:
        yield start, min(size, start + WINDOW_BYTES + OVERLAP_BYTES)
        start += WINDOW_BYTES
        if start + OVERLAP_BYTES >= size:
            return


def find_secrets(text: str | bytes) -> Iterator[SecretHit]:
    """Every credential in `text`, by byte offset of its UTF-8 form."""
    data = text if isinstance(text, bytes) else text.encode("utf-8", errors="surrogatepass")
    engine = _engine()
    found: dict[tuple[str, int], SecretHit] = {}
    for begin, end in _windows(len(data)):
        window = data[begin:end] if begin or end < len(data) else data
        for rule in engine.candidates(window):
            # on the whole text from `begin` (not the slice), so \b and lookbehinds see what
            # comes before the window; a match cut at `end` is found whole in the next window
            for match in rule.pattern.finditer(data, begin, end):
                group = _secret_group(match, rule)
                secret = match.group(group) or b""
                if not secret or not _plausible(rule, secret):
                    continue
                hit = SecretHit(rule, match.start(group), match.end(group), secret)
                seen = found.get((rule.id, hit.start))
                if seen is None or seen.end < hit.end:
                    found[(rule.id, hit.start)] = hit
        if len(found) >= MAX_HITS_PER_PIECE:
            break
    hits = sorted(found.values(), key=lambda h: (h.start, h.rule.id))
    specific = [(h.start, h.end) for h in hits if not h.rule.generic]
    for hit in hits:  # a provider's token inside `token = "..."` is the provider's finding
        if hit.rule.generic and any(s < hit.end and hit.start < e for s, e in specific):
            continue
        yield hit


def masked(rule: SecretRule) -> str:
    """How a report shows a secret: the provider's public prefix, then a mask."""
    return f"{rule.shown_prefix}****"


def credential_file(path: str) -> bool:
    """Whether a release path names a credential store (a finding whatever it holds)."""
    return CREDENTIAL_FILES.search(path.lower()) is not None
