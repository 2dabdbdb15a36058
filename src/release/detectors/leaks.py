"""Detects training text and sensitive values in every shipped byte, reduced to text segments."""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from release import rules
from release.detectors import Artifact
from release.errors import UsageError
from release.extract import Problem, Segment, extract_file
from release.findings import Finding
from release.fingerprint.match import Matcher
from release.fingerprint.tokens import WordPlaces, count_newlines, utf8_length
from release.progress import ProgressTask

BATCH_CHARS = 1 << 20
MAX_IDS_IN_EVIDENCE = 20
MAX_SCAN_THREADS = 8
THREADS_ENV = "RELEASE_SCAN_THREADS"


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
class _Scan:
    """An artifact being scanned: what was found so far."""

    artifact: Artifact
    findings: list[Finding] = field(default_factory=list)
    tallies: dict[str | None, _Tally] = field(default_factory=dict)


@dataclass(frozen=True)
class _Located:
    """A hit placed in its artifact: where it is and how big, never what it says."""

    member: str | None
    line: int | None
    chars: int
    words: int
    records: frozenset[int]
    value: bool = False  # a sensitive value; otherwise a run of training text
    new_value: bool = False  # the first record of the value found at this place


def scan_threads() -> int:
    """How many threads match text: RELEASE_SCAN_THREADS, or the CPUs this process may use
    (at most MAX_SCAN_THREADS)."""
    configured = os.environ.get(THREADS_ENV, "").strip()
    if configured:
        if not configured.isdigit() or int(configured) < 1:
            raise UsageError(f"{THREADS_ENV} must be a whole number of at least 1, "
                             f"not {configured!r}")
        return int(configured)
    available = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return max(1, min(MAX_SCAN_THREADS, len(available) if available else os.cpu_count() or 1))


class LeakScanner:
    """Runs extraction and matching over artifacts; returns findings only, never text."""

    def __init__(self, matcher: Matcher, threads: int | None = None) -> None:
        self.matcher = matcher
        self.index = matcher.index
        self.threads = threads if threads is not None else scan_threads()

    def _record_id(self, number: int) -> str:
        return self.index.record_ids[number]

    def _safe_member(self, member: str | None) -> str | None:
        """A member path that quotes training text or a sensitive value is replaced by a hash."""
        if member is None:
            return None
        text_hits, sensitive_hits = self.matcher.match([member])
        if text_hits or sensitive_hits:
            return "member#" + hashlib.sha256(member.encode("utf-8")).hexdigest()[:12]
        return member

    def scan_all(self, artifacts: Iterable[Artifact], task: ProgressTask) -> list[Finding]:
        """Findings of each artifact in turn. This thread extracts text; `threads` workers
        match it (the kernels release the GIL), at most two batches each ahead of the
        extraction, so memory stays bounded; results are applied in order, so the findings are
        the same whatever the thread count."""
        findings: list[Finding] = []
        # each artifact's batches in order, then the artifact itself (None) once they are all in
        pending: deque[tuple[_Scan, Future[list[_Located]] | None]] = deque()
        with ThreadPoolExecutor(self.threads, thread_name_prefix="leak-match") as pool:

            def submit(batch: list[Segment]) -> Future[list[_Located]]:
                if self.threads == 1:  # no hand-over to a worker
                    future: Future[list[_Located]] = Future()
                    future.set_result(self._locate(batch))
                    return future
                return pool.submit(self._locate, batch)

            def apply(scan: _Scan, future: Future[list[_Located]] | None) -> None:
                if future is not None:
                    self._apply(future.result(), scan.tallies)
                    return
                findings.extend(scan.findings)
                findings.extend(self._findings(scan.artifact.item.path, scan.tallies))
                task.advance(scan.artifact.size)

            for artifact in artifacts:
                scan = _Scan(artifact)
                for batch in self._batches(scan):
                    pending.append((scan, submit(batch)))
                    while len(pending) > 2 * self.threads:
                        apply(*pending.popleft())
                pending.append((scan, None))
            while pending:
                apply(*pending.popleft())
        return findings

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
            batch.append(extracted)
            size += len(extracted.text)
            if size >= BATCH_CHARS:
                yield batch
                batch, size = [], 0
        if batch:
            yield batch

    def _locate(self, batch: list[Segment]) -> list[_Located]:
        """The batch's hits, placed by member and line (run by the matching threads)."""
        text_hits, sensitive_hits = self.matcher.match([s.text for s in batch])
        located: dict[int, tuple[bytes, WordPlaces]] = {}

        def place(piece: int, start: int, end: int) -> tuple[str | None, int | None, int]:
            """Member, line and character count of tokens [start, end) of a piece (only
            pieces with a hit pay for finding where their words are)."""
            segment = batch[piece]
            if piece not in located:
                text = segment.text
                raw = text if isinstance(text, bytes) else \
                    text.encode("utf-8", errors="surrogatepass")
                located[piece] = raw, WordPlaces(raw, self.matcher.kernels)
            raw, places = located[piece]
            if end > len(places):
                return segment.member, segment.line, 0
            begins, finishes = places.span(np.array([start]), np.array([end - 1]))
            begin, finish = int(begins[0]), int(finishes[0])
            line = None if segment.line is None else \
                segment.line + count_newlines(raw, begin, self.matcher.kernels)
            return segment.member, line, utf8_length(raw, begin, finish)

        places = [_Located(*place(hit.piece, hit.start, hit.end), hit.end - hit.start,
                           hit.records) for hit in text_hits]
        seen: set[tuple[int, int]] = set()
        for sensitive in sensitive_hits:
            first = (sensitive.piece, sensitive.start) not in seen  # one value, many records
            seen.add((sensitive.piece, sensitive.start))
            places.append(_Located(*place(sensitive.piece, sensitive.start, sensitive.end),
                                   sensitive.end - sensitive.start,
                                   frozenset((sensitive.record,)), value=True, new_value=first))
        return places

    def _apply(self, places: list[_Located], tallies: dict[str | None, _Tally]) -> None:
        for hit in places:
            tally = tallies.setdefault(hit.member, _Tally())
            if hit.value:
                if hit.line is not None:
                    tally.value_lines.add(hit.line)
                tally.values += int(hit.new_value)
                tally.value_records |= hit.records
                continue
            if hit.line is not None:
                tally.text_lines.add(hit.line)
            tally.records |= hit.records
            tally.words += hit.words
            tally.chars += hit.chars
            for record in hit.records:
                length = int(self.index.record_length[record]) or 1
                tally.fraction = max(tally.fraction, min(1.0, hit.words / length))

    def _ids(self, records: Iterable[int]) -> list[str]:
        return sorted(self._record_id(r) for r in records)[:MAX_IDS_IN_EVIDENCE]

    def _findings(self, path: str, tallies: dict[str | None, _Tally]
                  ) -> Iterator[Finding]:
        for member, tally in sorted(tallies.items(), key=lambda kv: kv[0] or ""):
            safe = self._safe_member(member)
            if tally.records:
                ids = self._ids(tally.records)
                yield Finding(
                    rules.TRAINING_TEXT, path,
                    f"{tally.words} words ({tally.chars} characters) of {len(tally.records)} "
                    f"training record(s) appear verbatim{_where(tally.text_lines)}",
                    member=safe, line=min(tally.text_lines, default=None),
                    evidence={"records": ids, "record_count": len(tally.records),
                              "matched_words": tally.words, "matched_chars": tally.chars,
                              "record_fraction": round(tally.fraction, 3),
                              "lines": len(tally.text_lines)},
                    basis="text:" + ",".join(ids))
            if tally.value_records:
                ids = self._ids(tally.value_records)
                yield Finding(
                    rules.SENSITIVE_VALUE, path,
                    f"{tally.values} sensitive value(s) of {len(tally.value_records)} training "
                    f"record(s) appear{_where(tally.value_lines)}",
                    member=safe, line=min(tally.value_lines, default=None),
                    evidence={"records": ids, "record_count": len(tally.value_records),
                              "values": tally.values, "lines": len(tally.value_lines)},
                    basis="sensitive:" + ",".join(ids))


def _where(lines: set[int]) -> str:
    return f" on {len(lines)} lines" if len(lines) > 1 else ""
