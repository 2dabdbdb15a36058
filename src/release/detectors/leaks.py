"""Detects training text and sensitive values in every shipped byte, reduced to text segments."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from release import rules
from release.detectors import Artifact
from release.extract import Problem, Segment, extract_file
from release.findings import Finding
from release.fingerprint.hashing import I64, word_spans
from release.fingerprint.match import Matcher, SensitiveHit, TextHit
from release.progress import ProgressTask

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


def _line_of(segment: Segment, char: int | None) -> int | None:
    if segment.line is None or char is None:
        return segment.line
    return segment.line + str(segment.text).count("\n", 0, char)


def _char_span(spans: tuple[I64, I64], start: int, end: int) -> tuple[int, int] | None:
    starts, ends = spans
    if end > len(starts):
        return None
    return int(starts[start]), int(ends[end - 1])


class LeakScanner:
    """Runs extraction and matching over artifacts; returns findings only, never text."""

    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher
        self.index = matcher.index

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

    def scan(self, artifact: Artifact, task: ProgressTask) -> list[Finding]:
        item = artifact.item
        findings: list[Finding] = []
        tallies: dict[str | None, _Tally] = {}
        batch: list[Segment] = []
        size = 0
        for extracted in extract_file(item.source, item.path.rsplit("/", 1)[-1], item.kind,
                                      artifact.size):
            if isinstance(extracted, Problem):
                rule = rules.ARCHIVE_LIMIT if extracted.bomb else rules.UNSCANNABLE_CONTENT
                findings.append(Finding(rule, item.path, extracted.reason,
                                        member=self._safe_member(extracted.member),
                                        basis=extracted.reason))
                continue
            batch.append(extracted)
            size += len(extracted.text)
            if size >= BATCH_CHARS:
                self._match(batch, tallies)
                batch, size = [], 0
        if batch:
            self._match(batch, tallies)
        task.advance(artifact.size)
        findings.extend(self._findings(item.path, tallies))
        return findings

    def _match(self, batch: list[Segment], tallies: dict[str | None, _Tally]
               ) -> None:
        text_hits, sensitive_hits = self.matcher.match([s.text for s in batch])
        located: dict[int, tuple[Segment, tuple[I64, I64]]] = {}

        def locate(piece: int) -> tuple[Segment, tuple[I64, I64]]:
            """The piece as str with its word spans (only pieces with a hit pay for this)."""
            if piece not in located:
                segment = batch[piece].decoded()
                located[piece] = segment, word_spans(str(segment.text))
            return located[piece]

        for hit in text_hits:
            self._add_text(*locate(hit.piece), hit, tallies)
        seen: set[tuple[int, int]] = set()
        for sensitive in sensitive_hits:
            first = (sensitive.piece, sensitive.start) not in seen  # one value, many records
            seen.add((sensitive.piece, sensitive.start))
            self._add_sensitive(*locate(sensitive.piece), sensitive, tallies, new_value=first)

    def _tally(self, segment: Segment, spans: tuple[I64, I64], start: int, end: int,
               tallies: dict[str | None, _Tally]) -> tuple[_Tally, int, int | None]:
        span = _char_span(spans, start, end)
        line = _line_of(segment, span[0] if span else None)
        tally = tallies.setdefault(segment.member, _Tally())
        return tally, (span[1] - span[0]) if span else 0, line

    def _add_text(self, segment: Segment, spans: tuple[I64, I64], hit: TextHit,
                  tallies: dict[str | None, _Tally]) -> None:
        tally, chars, line = self._tally(segment, spans, hit.start, hit.end, tallies)
        if line is not None:
            tally.text_lines.add(line)
        words = hit.end - hit.start
        tally.records |= hit.records
        tally.words += words
        tally.chars += chars
        for record in hit.records:
            length = int(self.index.record_length[record]) or 1
            tally.fraction = max(tally.fraction, min(1.0, words / length))

    def _add_sensitive(self, segment: Segment, spans: tuple[I64, I64], hit: SensitiveHit,
                       tallies: dict[str | None, _Tally], *, new_value: bool) -> None:
        tally, _chars, line = self._tally(segment, spans, hit.start, hit.end, tallies)
        if line is not None:
            tally.value_lines.add(line)
        tally.values += int(new_value)
        tally.value_records.add(hit.record)

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
