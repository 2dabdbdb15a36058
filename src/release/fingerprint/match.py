"""Queries every gram of artifact text against the index; confirms runs; finds sensitive values."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np

from release.fingerprint.index import LoadedIndex, SortedColumn
from release.fingerprint.kernels import KERNELS, U64, Kernels
from release.fingerprint.kernels.reference import bitmap_hits, widened
from release.fingerprint.tokens import (
    Scratch,
    fold_many,
    gram_hashes_at,
    siphash13,
    tokenize_pieces,
)
from release.fingerprint.tokens import tokenize as tokenize_folded

MAX_STORED_PER_GRAM = 4096  # stored copies of one gram examined per artifact position


@dataclass(frozen=True)
class TextHit:
    """A confirmed shared run: tokens [start, end) of a piece, and the records it came from."""

    piece: int
    start: int
    end: int
    records: frozenset[int]


@dataclass(frozen=True)
class TextSpans:
    """A batch's confirmed shared runs as arrays, in piece order: run i is tokens
    [start[i], end[i]) of piece[i], shared with the records members[offsets[i]:offsets[i+1]].
    Many hits cost a few arrays, not an object each."""

    piece: np.ndarray
    start: np.ndarray
    end: np.ndarray
    offsets: np.ndarray
    members: np.ndarray

    @classmethod
    def empty(cls) -> TextSpans:
        none = np.zeros(0, dtype=np.int64)
        return cls(none, none, none, np.zeros(1, dtype=np.int64), none)

    def __len__(self) -> int:
        return int(self.piece.shape[0])

    def hits(self) -> list[TextHit]:
        members, offsets = self.members.tolist(), self.offsets.tolist()
        return [TextHit(piece, start, end, frozenset(members[offsets[n]: offsets[n + 1]]))
                for n, (piece, start, end) in enumerate(zip(
                    self.piece.tolist(), self.start.tolist(), self.end.tolist(), strict=True))]


@dataclass(frozen=True)
class SensitiveHit:
    piece: int
    start: int
    end: int
    record: int


def _expand(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges [lo, hi): which range each element belongs to, and the element."""
    counts = hi - lo
    owner = np.repeat(np.arange(lo.shape[0]), counts)
    first = np.concatenate(([0], np.cumsum(counts)[:-1])) if counts.size else counts
    return owner, np.asarray(lo[owner] + (np.arange(owner.shape[0]) - first[owner]))


@dataclass(frozen=True)
class _Pieces:
    """Which text piece a token belongs to, from the first token of each piece."""

    first: np.ndarray

    def of(self, tokens: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.first, tokens, side="right") - 1


def _merge_spans(starts: np.ndarray, ends: np.ndarray, records: np.ndarray,
                 pieces: _Pieces) -> TextSpans:
    """Overlapping or touching runs of one piece become one hit with all their records."""
    order = np.lexsort((ends, starts))
    starts, ends, records = starts[order], ends[order], records[order]
    reach = np.maximum.accumulate(ends)
    piece_of_run = pieces.of(starts)
    new_group = np.ones(starts.shape[0], dtype=bool)
    new_group[1:] = (starts[1:] > reach[:-1]) | (piece_of_run[1:] != piece_of_run[:-1])
    group = np.cumsum(new_group) - 1
    group_start = starts[new_group]
    group_end = np.zeros(group_start.shape[0], dtype=np.int64)
    np.maximum.at(group_end, group, ends)
    # each group's distinct records, from one sort of (group, record) as one 64-bit key
    width = int(records.max()) + 1
    pairs = np.sort(group.astype(np.int64) * width + records)  # (np.unique hashes: slower)
    pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]
    owners, members = np.divmod(pairs, width)
    offsets = np.searchsorted(owners, np.arange(group_start.shape[0] + 1))
    piece = piece_of_run[new_group].astype(np.int64)
    first = pieces.first[piece]
    return TextSpans(piece, group_start - first, group_end - first, offsets.astype(np.int64),
                     members.astype(np.int64))


class _Bitmap:
    """A set of 64-bit values answered approximately in one gather (made when the index is
    opened, or stored with a large one): no false negatives, rare false positives, so exact
    lookups run only on the survivors."""

    def __init__(self, packed: np.ndarray, bits: int) -> None:
        self.packed = packed
        self.bits = bits

    def hits(self, values: U64, shift: int = 0) -> np.ndarray:
        """Positions of the values (shifted right by `shift` bits) that may be in the set, in
        order (a scan's own probes are part of the probe kernel)."""
        return bitmap_hits(self.packed, self.bits, values, shift)


class _SortedSet:
    """A sorted array of values with a directory of their top bits, for finding where each
    query's equal values lie: a short search per query instead of one over the whole array."""

    def __init__(self, column: SortedColumn, kernels: Kernels) -> None:
        self.kernels = kernels
        self.values = column.values
        self.directory = column.directory
        self.shift = column.shift

    def ranges(self, queries: U64) -> tuple[np.ndarray, np.ndarray]:
        """[lo, hi) of the values equal to each query."""
        queries = np.ascontiguousarray(queries, dtype=np.uint64)
        lo = np.empty(queries.shape[0], dtype=np.int64)
        hi = np.empty(queries.shape[0], dtype=np.int64)
        self.kernels.sorted_ranges(self.values, self.directory, self.shift, queries, lo, hi)
        return lo, hi


@dataclass(frozen=True)
class _Stored:
    """The stored grams equal to candidate artifact grams: which candidate each is for, and
    its number (which tells its unit and token position) and check bits."""

    owner: np.ndarray
    grams: U64
    checks: U64


@dataclass(frozen=True)
class _Probed:
    """Every token's PRF; the grams whose fingerprint passed the bitmap (their first tokens and
    fingerprints); the tokens that may start a sensitive value."""

    token_prf: U64
    grams: np.ndarray
    gram_fingerprints: U64
    first: np.ndarray


class Matcher:
    """Finds training text and sensitive values in batches of text pieces."""

    def __init__(self, index: LoadedIndex, kernels: Kernels = KERNELS) -> None:
        self.index = index
        self.kernels = kernels
        p = index.meta.params
        self.params = p
        self.gram_key = index.key.sip("gram")
        self.token_key = index.key.sip("token")
        self.sensitive_key = index.key.sip("sensitive")
        layout = index.layout
        self.fingerprint_shift = 64 - p.fingerprint_bits
        self.residual_bits = p.fingerprint_bits - layout.shard_bits
        self.check_mask = np.uint64((1 << p.check_bits) - 1)
        self.grams = _Bitmap(index.gram_bitmap, layout.gram_bitmap_bits)
        self.stored_values = _SortedSet(index.sensitive, kernels)
        self.first_tokens = _Bitmap(index.first_bitmap, layout.first_bitmap_bits)
        self.stored_first_tokens = _SortedSet(index.sensitive_first, kernels)
        self._local = threading.local()

    @property
    def scratch(self) -> Scratch:
        """This thread's reused arrays: one Matcher serves several scanning threads."""
        scratch: Scratch | None = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = Scratch()
        return scratch

    def match(self, pieces: Sequence[str | bytes]
              ) -> tuple[list[TextHit], list[SensitiveHit]]:
        """Hits in each piece (str, or UTF-8 bytes), by piece number and token range. Safe to
        call from several threads at once."""
        spans, sensitive = self.match_spans(pieces)
        return spans.hits(), sensitive

    def match_spans(self, pieces: Sequence[str | bytes]
                    ) -> tuple[TextSpans, list[SensitiveHit]]:
        """As `match`, the runs of training text as arrays (for scans with many hits)."""
        scratch = self.scratch
        if all(isinstance(piece, bytes) for piece in pieces):
            hashes, first = tokenize_pieces(cast(Sequence[bytes], pieces), scratch, self.kernels)
        else:
            buffer, offsets = fold_many(pieces)
            tokens = tokenize_folded(buffer, scratch, self.kernels)
            hashes, first = tokens.hashes, tokens.pieces(offsets)[0]
        if hashes.shape[0] == 0:
            return TextSpans.empty(), []
        piece_map = _Pieces(first)
        probed = self._probe(hashes, scratch)
        sensitive = self._sensitive(hashes, probed, piece_map)
        text = self._text(probed, piece_map)
        return text, sensitive

    def _probe(self, hashes: U64, scratch: Scratch) -> _Probed:
        """Every token's PRF, the grams whose fingerprint passes the bitmap (with their
        fingerprints), and the tokens that may start a sensitive value."""
        count = hashes.shape[0]
        token_prf = scratch.take("prf", count, np.uint64)
        gram_at = scratch.take("gram-at", count, np.int64)
        gram_fp = scratch.take("gram-fp", count, np.uint64)
        first_at = scratch.take("first-at", count, np.int64)
        sensitive = self.index.meta.sensitive > 0
        passed, firsts = self.kernels.probe(
            hashes, self.params.gram_words, self.gram_key, self.fingerprint_shift,
            self.grams.packed, self.grams.bits, self.token_key,
            self.first_tokens.packed if sensitive else None, self.first_tokens.bits,
            token_prf, gram_at, gram_fp, first_at)
        return _Probed(token_prf, gram_at[:passed].copy(), gram_fp[:passed].copy(),
                       first_at[:firsts].copy())

    def _sensitive(self, hashes: U64, probed: _Probed, pieces: _Pieces) -> list[SensitiveHit]:
        index = self.index
        if index.meta.sensitive == 0:
            return []
        token_prf = probed.token_prf
        candidates = probed.first
        lo, hi = self.stored_first_tokens.ranges(token_prf[candidates] >> np.uint64(32))
        candidates = candidates[hi > lo]
        hits: list[SensitiveHit] = []
        count = hashes.shape[0]
        for length in index.sensitive_lengths:
            pos = candidates[candidates + length <= count]
            pos = pos[pieces.of(pos) == pieces.of(pos + length - 1)]
            if pos.size == 0:
                continue
            values = siphash13(self.sensitive_key, gram_hashes_at(hashes, pos, length),
                               self.kernels)
            lo, hi = self.stored_values.ranges(values)
            owner, stored = _expand(lo, hi)
            units = index.sensitive_units[stored]
            for at, unit in zip(pos[owner], units, strict=True):
                if int(unit[1]) == length:
                    piece = int(pieces.of(at))
                    start = int(at - pieces.first[piece])
                    hits.append(SensitiveHit(piece, start, start + length, int(unit[0])))
        return hits

    def _text(self, probed: _Probed, pieces: _Pieces) -> TextSpans:
        p = self.params
        index = self.index
        k = p.gram_words
        token_prf = probed.token_prf
        inside = pieces.of(probed.grams) == pieces.of(probed.grams + k - 1)  # not across pieces
        query = probed.grams[inside]
        if query.size == 0:
            return TextSpans.empty()
        stored = self._stored(probed.gram_fingerprints[inside])
        if stored.owner.size == 0:
            return TextSpans.empty()
        at = query[stored.owner]
        if p.context:
            # a run of `context` agreeing neighbours has at least min(2, context) among the
            # two nearest on each side: stored copies of a common gram in other contexts go
            # before their units are looked up (without the records' bounds, which only
            # ever shorten a run)
            reach = min(2, p.context)
            left, right = self._extensions(at, stored.checks, token_prf, pieces, reach=reach)
            maybe = np.flatnonzero(left + right >= reach)
            if maybe.size == 0:
                return TextSpans.empty()
            at, checks, grams = at[maybe], stored.checks[maybe], stored.grams[maybe]
        else:
            checks, grams = stored.checks, stored.grams
        units, positions = self._units_of(grams)
        lengths = np.asarray(index.unit_length[units], dtype=np.int64)
        left, right = self._extensions(at, checks, token_prf, pieces, (positions, lengths))
        confirmed = np.flatnonzero(left + right >= p.context)
        if confirmed.size == 0:
            return TextSpans.empty()
        records = np.asarray(index.unit_record[units[confirmed]], dtype=np.int64)
        return _merge_spans((at - left)[confirmed], (at + k + right)[confirmed], records,
                            pieces)

    def _stored(self, fingerprints: U64) -> _Stored:
        """The stored grams with each of these fingerprints, looked up in their shards where
        the shard files lie (only the rows found are read)."""
        layout = self.index.layout
        residual = fingerprints & np.uint64((1 << self.residual_bits) - 1) \
            if self.residual_bits < 64 else fingerprints
        # in fingerprint order: each shard's queries together, and walked through it in
        # order, so an index larger than memory is read a page once, not a page per query
        order = np.argsort(fingerprints, kind="stable")
        shard_of = (fingerprints[order] >> np.uint64(self.residual_bits)).astype(np.int64) \
            if layout.shard_bits else np.zeros(fingerprints.shape[0], dtype=np.int64)
        bounds = np.searchsorted(shard_of, np.arange(len(self.index.shards) + 1))
        owners, grams, checks = [], [], []
        for number, shard in enumerate(self.index.shards):
            lo_query, hi_query = int(bounds[number]), int(bounds[number + 1])
            if hi_query <= lo_query or shard.fingerprints.shape[0] == 0:
                continue
            queries = order[lo_query:hi_query]
            lo = np.empty(queries.shape[0], dtype=np.int64)
            hi = np.empty(queries.shape[0], dtype=np.int64)
            self.kernels.packed_ranges(shard.fingerprints, shard.directory, shard.shift,
                                       np.ascontiguousarray(residual[queries]), lo, hi)
            hi = np.minimum(hi, lo + MAX_STORED_PER_GRAM)
            owner, slot = _expand(lo, hi)
            if owner.size:
                owners.append(queries[owner])
                grams.append(widened(np.asarray(shard.grams[slot])))
                checks.append(widened(np.asarray(shard.checks[slot])))
        if not owners:
            return _Stored(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64),
                           np.zeros(0, dtype=np.uint64))
        return _Stored(np.concatenate(owners), np.concatenate(grams), np.concatenate(checks))

    def _units_of(self, grams: U64) -> tuple[np.ndarray, np.ndarray]:
        """The unit of each stored gram (by its number) and the gram's first token in it. The
        numbers are looked up in order (keys of the table's own type: mixed types would copy
        it), so the table is read forwards instead of at random, several times faster when
        a common gram has many stored copies."""
        first_gram = self.index.unit_first_gram
        order = np.argsort(grams)
        ordered = grams[order]
        units_ordered = np.searchsorted(first_gram, ordered, side="right") - 1
        units = np.empty(grams.shape[0], dtype=np.int64)
        units[order] = units_ordered
        positions = np.empty(grams.shape[0], dtype=np.int64)
        positions[order] = (ordered - np.asarray(first_gram[units_ordered])).astype(np.int64) \
            * self.params.stride
        return units, positions

    def _extensions(self, at: np.ndarray, packed: U64, token_prf: U64, pieces: _Pieces,
                    bounds: tuple[np.ndarray, np.ndarray] | None = None,
                    reach: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """How many neighbouring tokens left and right of each candidate (up to `reach`, by
        default all that are checked) agree with the stored check bits (`packed`), counting
        outwards until the first disagreement; with `bounds` (each stored gram's position
        and its unit's length), only neighbours inside the stored record count."""
        p = self.params
        k = p.gram_words
        count = token_prf.shape[0]
        piece = pieces.of(at)
        piece_start = pieces.first[piece]
        piece_end = np.append(pieces.first[1:], count)[piece]
        left_run = np.ones(at.shape[0], dtype=bool)
        right_run = np.ones(at.shape[0], dtype=bool)
        left = np.zeros(at.shape[0], dtype=np.int64)
        right = np.zeros(at.shape[0], dtype=np.int64)
        for offset in range(1, (reach or p.context) + 1):
            for side in (0, 1):
                slot = 2 * (offset - 1) + side
                stored_bits = (packed >> np.uint64(slot * p.check_bits)) & self.check_mask
                where = at - offset if side == 0 else at + k - 1 + offset
                safe = np.clip(where, 0, count - 1)
                agrees = ((where >= piece_start) & (where < piece_end)
                          & ((token_prf[safe] & self.check_mask) == stored_bits))
                if bounds is not None:
                    position, length = bounds
                    agrees &= (position - offset >= 0) if side == 0 else \
                        (position + k - 1 + offset < length)
                if side == 0:
                    left_run &= agrees
                    left += left_run
                else:
                    right_run &= agrees
                    right += right_run
        return left, right
