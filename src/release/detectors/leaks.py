"""Detects training text and sensitive values in every shipped byte, reduced to text segments."""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from release import rules
from release.credentials import SecretRule, find_secrets, masked
from release.detectors import Artifact, DetectionContext, Detector, FileDetector, register
from release.detectors.hazards import hazard_finding
from release.errors import display_path
from release.extract import Hazard, Problem, Segment, extract_file
from release.findings import Finding
from release.fingerprint.match import Matcher, TextSpans
from release.fingerprint.tokens import WordPlaces
from release.pipeline.workers import Workers

BATCH_CHARS = 1 << 20
MAX_IDS_IN_EVIDENCE = 20


@dataclass
class _Tally:
    """What was found in one member of a file (or the whole file): one finding per kind, however
    many lines, so a copied data file is one finding and not one per record."""

    records: set[int] = field(default_factory=set)
    words: int = 0
    chars: int = 0
    fraction: float = 0.0
    values: int = 0
    value_records: set[int] = field(default_factory=set)
    text_lines: set[int] = field(default_factory=set)
    value_lines: set[int] = field(default_factory=set)


@dataclass
class _SecretTally:
    """One credential value found in one member: how often, on which lines, how long."""

    rule: SecretRule
    length: int
    digest: str | None  # keyed hash of the value (None without an index key)
    count: int = 0
    lines: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class _SecretFound:
    """A credential found in a batch: where, which rule, how long, its keyed hash (None without
    a key) and the value's group (a hash that tells values apart, never reported)."""

    member: str | None
    rule: SecretRule
    length: int
    digest: str | None
    group: str
    line: int | None


@dataclass(frozen=True)
class _Matched:
    members: list[str | None]  # of the batch's pieces
    runs: _Runs | None
    values: list[_Located]
    secrets: list[_SecretFound]


@dataclass
class _Scan:
    """An artifact being scanned: what was found so far, and its findings once complete."""

    artifact: Artifact
    findings: list[Finding] = field(default_factory=list)
    tallies: dict[str | None, _Tally] = field(default_factory=dict)
    secrets: dict[tuple[str | None, str, str], _SecretTally] = field(default_factory=dict)
    result: list[Finding] | None = None


@dataclass(frozen=True)
class _Located:
    """A sensitive value placed in its artifact: where it is, never what it says."""

    member: str | None
    line: int | None
    record: int
    new_value: bool  # the first record of the value found at this place


@dataclass(frozen=True)
class _Runs:
    """A batch's runs of training text placed in their artifact, as arrays in piece order:
    each run's piece, line (-1: none), characters, words and the tokens of its shortest record
    (at least 1), and its records (CSR, as TextSpans holds them)."""

    spans: TextSpans
    line: np.ndarray
    chars: np.ndarray
    shortest: np.ndarray


@register
def training_data(context: DetectionContext) -> Detector:
    return TrainingData(context.matcher, context.workers, secrets=context.checks.secrets)


@register
def no_data_sources(context: DetectionContext) -> Detector | None:
    return NoDataSources(context) if context.matcher is None else None


class NoDataSources(FileDetector):
    """Without data sources nothing proves the training data stays out: a finding of the run."""

    def detect(self, artifact: Artifact) -> Iterable[Finding]:
        return ()

    def finish(self) -> list[Finding]:
        return [Finding(rules.NO_DATA_SOURCES, None,
                        f"{display_path(self.context.config_path.name)} has no "
                        "[[data.sources]]; add the confidential training data so it can be "
                        "checked", config_key="data")]


class _Settled:
    """An artifact's findings, computed when first asked for (its last batches may still be
    matching on a worker thread)."""

    def __init__(self, detector: TrainingData, scan: _Scan) -> None:
        self.detector = detector
        self.scan = scan

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.detector.settle(self.scan))


class TrainingData:
    """Every artifact reduced to text segments: what could not be reduced, and what would run
    code on load (hazards), are findings; the text is matched for training text and sensitive
    values when there are data sources. This thread extracts; the workers match (the kernels
    release the GIL), at most two batches each ahead of the extraction, so memory stays
    bounded; results are taken in order, so the findings are the same whatever the thread
    count."""

    def __init__(self, matcher: Matcher | None, workers: Workers, *, secrets: bool = True
                 ) -> None:
        self.matcher = matcher
        self.workers = workers
        self.secrets = secrets
        # an unkeyed run tells values apart with a key of its own, never reported
        self._grouping = hashlib.blake2b(os.urandom(32), digest_size=16).digest()
        # each artifact's batches in order, then the artifact itself (None) once all are in
        self._pending: deque[tuple[_Scan, Future[_Matched] | None]] = deque()

    def detect(self, artifact: Artifact) -> Iterable[Finding]:
        scan = _Scan(artifact)
        if self.matcher is None:  # no training text to match: credentials only
            for batch in self._batches(scan):
                self._record_secrets(self._secrets_in(batch), scan)
            return [*scan.findings, *self._secret_findings(scan)]
        for batch in self._batches(scan):
            self._pending.append((scan, self.workers.submit(self._match, batch)))
            while len(self._pending) > 2 * self.workers.threads:
                self._take(*self._pending.popleft())
        self._pending.append((scan, None))
        return _Settled(self, scan)

    def settle(self, scan: _Scan) -> list[Finding]:
        """The artifact's findings, once every batch before its end has been taken."""
        while scan.result is None:
            self._take(*self._pending.popleft())
        return scan.result

    def finish(self) -> Iterable[Finding]:
        while self._pending:
            self._take(*self._pending.popleft())
        return ()

    def _take(self, scan: _Scan, future: Future[_Matched] | None) -> None:
        if future is not None:
            matched = future.result()
            self._tally(matched.members, matched.runs, matched.values, scan.tallies)
            self._record_secrets(matched.secrets, scan)
        else:
            scan.result = [*scan.findings,
                           *self._findings(scan.artifact.item.path, scan.tallies),
                           *self._secret_findings(scan)]

    @property
    def _matcher(self) -> Matcher:
        assert self.matcher is not None, "only matched text has hits"
        return self.matcher

    def _record_id(self, number: int) -> str:
        return self._matcher.index.record_id(number)

    def _safe_member(self, member: str | None) -> str | None:
        """A member path that quotes training text or a sensitive value is replaced by a hash."""
        if member is None or self.matcher is None:
            return member
        text_hits, sensitive_hits = self._matcher.match([member])
        if text_hits or sensitive_hits:
            return "member#" + hashlib.sha256(member.encode("utf-8")).hexdigest()[:12]
        return member

    def _batches(self, scan: _Scan) -> Iterator[list[Segment]]:
        """The artifact's text in batches of about BATCH_CHARS; what cannot be reduced to text
        becomes a finding."""
        item = scan.artifact.item
        batch: list[Segment] = []
        size = 0
        for extracted in extract_file(item.source, item.path.rsplit("/", 1)[-1], item.kind,
                                      scan.artifact.size):
            if isinstance(extracted, Problem):
                rule = rules.ARCHIVE_LIMIT if extracted.bomb else rules.UNSCANNABLE_CONTENT
                scan.findings.append(Finding(rule, item.path, extracted.reason,
                                             member=self._safe_member(extracted.member),
                                             basis=extracted.reason))
                continue
            if isinstance(extracted, Hazard):
                scan.findings.append(hazard_finding(
                    item.path, extracted, self._safe_member(extracted.member)))
                continue
            batch.append(extracted)
            size += len(extracted.text)
            if size >= BATCH_CHARS:
                yield batch
                batch, size = [], 0
        if batch:
            yield batch

    def _secrets_in(self, batch: list[Segment]) -> list[_SecretFound]:
        """Credentials in a batch of segments, by keyed hash of the value (run by the matching
        threads when there are any)."""
        if not self.secrets:
            return []
        key = self.matcher.index.key if self.matcher is not None else None
        found = []
        for segment in batch:
            text = segment.text
            data = text if isinstance(text, bytes) else \
                text.encode("utf-8", errors="surrogatepass")
            for hit in find_secrets(data):
                digest = key.mac("credential", hit.secret) if key is not None else None
                group = digest or hashlib.blake2b(hit.secret, key=self._grouping,
                                                  digest_size=16).hexdigest()
                line = None if segment.line is None else \
                    segment.line + data.count(b"\n", 0, hit.start)
                found.append(_SecretFound(segment.member, hit.rule, len(hit.secret), digest,
                                          group, line))
        return found

    @staticmethod
    def _record_secrets(found: list[_SecretFound], scan: _Scan) -> None:
        for secret in found:
            tally = scan.secrets.setdefault(
                (secret.member, secret.rule.id, secret.group),
                _SecretTally(secret.rule, secret.length, secret.digest))
            tally.count += 1
            if secret.line is not None:
                tally.lines.add(secret.line)

    def _secret_findings(self, scan: _Scan) -> Iterator[Finding]:
        path = scan.artifact.item.path
        ordinal: dict[tuple[str | None, str], int] = {}
        for (member, rule_id, _), tally in scan.secrets.items():
            place = (member, rule_id)
            ordinal[place] = ordinal.get(place, 0) + 1
            rule = tally.rule
            evidence: dict[str, object] = {
                "secret_rule": rule.id, "provider": rule.provider, "shown": masked(rule),
                "length": tally.length, "occurrences": tally.count, "source": rule.source}
            if tally.digest is not None:
                evidence["keyed_hash"] = tally.digest
            where = _where(tally.lines) if len(tally.lines) > 1 else ""
            yield Finding(
                rules.CREDENTIAL, path,
                f"a {rule.provider} credential ({rule.id}, {masked(rule)}, {tally.length} "
                f"characters) appears{where}; rotate it first, then remove it",
                member=self._safe_member(member), line=min(tally.lines, default=None),
                evidence=evidence,
                basis=f"credential:{rule.id}:{tally.digest or ordinal[place]}")

    def _match(self, batch: list[Segment]) -> _Matched:
        """A batch's hits and credentials (run by the matching threads)."""
        runs, values = self._locate(batch)
        return _Matched([s.member for s in batch], runs, values, self._secrets_in(batch))

    def _locate(self, batch: list[Segment]) -> tuple[_Runs | None, list[_Located]]:
        """The batch's hits, placed by line: each piece with a hit is read once for where its
        words, lines and characters are, and all its hits are placed together as arrays, so
        many hits cost about what few do."""
        spans, sensitive_hits = self._matcher.match_spans([s.text for s in batch])
        if not len(spans) and not sensitive_hits:
            return None, []
        hits = np.concatenate([
            np.stack([spans.piece, spans.start, spans.end], axis=1),
            np.array([(h.piece, h.start, h.end) for h in sensitive_hits],
                     dtype=np.int64).reshape(-1, 3)])
        lines, chars = self._place(batch, hits)
        count = len(spans)
        runs = None
        if count:
            runs = _Runs(spans, lines[:count], chars[:count], self._shortest(spans))
        seen: set[tuple[int, int]] = set()
        values = []
        for sensitive, line in zip(sensitive_hits, lines[count:].tolist(), strict=True):
            first = (sensitive.piece, sensitive.start) not in seen  # one value, many records
            seen.add((sensitive.piece, sensitive.start))
            values.append(_Located(batch[sensitive.piece].member, None if line < 0 else line,
                                   sensitive.record, first))
        return runs, values

    def _shortest(self, spans: TextSpans) -> np.ndarray:
        """Tokens of the shortest record of each run, in one read of the record table
        (0-token records count as 1)."""
        lengths = np.asarray(self._matcher.index.record_length)[spans.members].astype(np.int64)
        shortest: np.ndarray = np.maximum(np.minimum.reduceat(lengths, spans.offsets[:-1]), 1)
        return shortest

    def _place(self, batch: list[Segment], hits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Line (-1 where the segment has none) and character count of each hit (piece, first
        token, end token)."""
        lines = np.full(hits.shape[0], -1, dtype=np.int64)
        chars = np.zeros(hits.shape[0], dtype=np.int64)
        for piece in np.unique(hits[:, 0]).tolist():
            mine = np.flatnonzero(hits[:, 0] == piece)
            segment = batch[piece]
            text = segment.text
            raw = text if isinstance(text, bytes) else \
                text.encode("utf-8", errors="surrogatepass")
            places = WordPlaces(raw, self._matcher.kernels)
            starts, ends = hits[mine, 1], hits[mine, 2]
            whole = ends <= len(places)
            begins, finishes = places.span(np.where(whole, starts, 0),
                                           np.where(whole, ends - 1, 0))
            data = np.frombuffer(raw, dtype=np.uint8)
            if raw.isascii():  # a byte a character
                chars[mine] = np.where(whole, finishes - begins, 0)
            else:  # characters before each byte offset (UTF-8 bytes that begin a character)
                characters = np.concatenate(([0], np.cumsum((data & 0xC0) != 0x80)))
                chars[mine] = np.where(whole, characters[finishes] - characters[begins], 0)
            if segment.line is not None:
                newlines = np.flatnonzero(data == 0x0A)
                lines[mine] = segment.line + np.where(whole, np.searchsorted(newlines, begins),
                                                      0)
        return lines, chars

    def _tally(self, batch_members: list[str | None], runs: _Runs | None,
               values: list[_Located], tallies: dict[str | None, _Tally]) -> None:
        if runs is not None:
            spans = runs.spans
            words = spans.end - spans.start
            fraction = np.minimum(1.0, words / runs.shortest)
            # runs come in piece order: one block of runs per piece, one member per piece
            bounds = np.flatnonzero(np.diff(spans.piece)) + 1
            for begin, end in zip([0, *bounds.tolist()], [*bounds.tolist(), len(spans)],
                                  strict=True):
                tally = tallies.setdefault(batch_members[int(spans.piece[begin])], _Tally())
                tally.records.update(
                    spans.members[spans.offsets[begin]: spans.offsets[end]].tolist())
                tally.words += int(words[begin:end].sum())
                tally.chars += int(runs.chars[begin:end].sum())
                tally.fraction = max(tally.fraction, float(fraction[begin:end].max()))
                lines = runs.line[begin:end]
                tally.text_lines.update(lines[lines >= 0].tolist())
        for value in values:
            tally = tallies.setdefault(value.member, _Tally())
            if value.line is not None:
                tally.value_lines.add(value.line)
            tally.values += int(value.new_value)
            tally.value_records.add(value.record)

    def _ids(self, records: Iterable[int]) -> list[str]:
        """The distinct ids of the records: a record several sources hold (the same tickets
        as JSON Lines and as Parquet, under one id_field) is one record."""
        return sorted({self._record_id(r) for r in records})

    def _findings(self, path: str, tallies: dict[str | None, _Tally]
                  ) -> Iterator[Finding]:
        for member, tally in sorted(tallies.items(), key=lambda kv: kv[0] or ""):
            safe = self._safe_member(member)
            if tally.records:
                distinct = self._ids(tally.records)
                ids = distinct[:MAX_IDS_IN_EVIDENCE]
                yield Finding(
                    rules.TRAINING_TEXT, path,
                    f"{tally.words} words ({tally.chars} characters) of {len(distinct)} "
                    f"training record(s) appear verbatim{_where(tally.text_lines)}",
                    member=safe, line=min(tally.text_lines, default=None),
                    evidence={"records": ids, "record_count": len(distinct),
                              "matched_words": tally.words, "matched_chars": tally.chars,
                              "record_fraction": round(tally.fraction, 3),
                              "lines": len(tally.text_lines)},
                    basis="text:" + ",".join(ids))
            if tally.value_records:
                distinct = self._ids(tally.value_records)
                ids = distinct[:MAX_IDS_IN_EVIDENCE]
                yield Finding(
                    rules.SENSITIVE_VALUE, path,
                    f"{tally.values} sensitive value(s) of {len(distinct)} training "
                    f"record(s) appear{_where(tally.value_lines)}",
                    member=safe, line=min(tally.value_lines, default=None),
                    evidence={"records": ids, "record_count": len(distinct),
                              "values": tally.values, "lines": len(tally.value_lines)},
                    basis="sensitive:" + ",".join(ids))


def _where(lines: set[int]) -> str:
    return f" on {len(lines)} lines" if len(lines) > 1 else ""
