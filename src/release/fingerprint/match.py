"""Queries every gram of artifact text against the index; confirms runs; finds sensitive values."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from release.fingerprint.hashing import U64, gram_hashes, mix64, normalize_many, rotl, siphash13
from release.fingerprint.hashing import tokenize as tokenize_norm
from release.fingerprint.index import LoadedIndex

MAX_STORED_PER_GRAM = 4096  # stored copies of one gram examined per artifact position


@dataclass(frozen=True)
class TextHit:
    """A confirmed shared run: tokens [start, end) of a piece, and the records it came from."""

    piece: int
    start: int
    end: int
    records: frozenset[int]


@dataclass(frozen=True)
class SensitiveHit:
    piece: int
    start: int
    end: int
    record: int


def grams_at(token_hashes: U64, positions: np.ndarray, n: int) -> U64:
    """`gram_hashes(token_hashes, n)[positions]` without hashing every position."""
    out = token_hashes[positions].copy()
    with np.errstate(over="ignore"):
        for offset in range(1, n):
            out ^= rotl(token_hashes[positions + offset], 13 * offset)
        return mix64(out + np.uint64(n))


def _expand(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges [lo, hi): which range each element belongs to, and the element."""
    counts = hi - lo
    owner = np.repeat(np.arange(lo.shape[0]), counts)
    first = np.concatenate(([0], np.cumsum(counts)[:-1])) if counts.size else counts
    return owner, np.asarray(lo[owner] + (np.arange(owner.shape[0]) - first[owner]))


def _merge_spans(starts: np.ndarray, ends: np.ndarray, records: np.ndarray,
                 piece_of: np.ndarray, piece_first: np.ndarray) -> list[TextHit]:
    """Overlapping or touching runs of one piece become one hit with all their records."""
    order = np.lexsort((ends, starts))
    starts, ends, records = starts[order], ends[order], records[order]
    reach = np.maximum.accumulate(ends)
    pieces = piece_of[starts]
    new_group = np.ones(starts.shape[0], dtype=bool)
    new_group[1:] = (starts[1:] > reach[:-1]) | (pieces[1:] != pieces[:-1])
    group = np.cumsum(new_group) - 1
    group_start = starts[new_group]
    group_end = np.zeros(group_start.shape[0], dtype=np.int64)
    np.maximum.at(group_end, group, ends)
    pairs = np.unique(np.stack([group, records]), axis=1)
    members = np.split(pairs[1], np.flatnonzero(np.diff(pairs[0])) + 1)
    hits = []
    for number, (start, end) in enumerate(zip(group_start.tolist(), group_end.tolist(),
                                              strict=True)):
        piece = int(pieces[new_group][number])
        first = int(piece_first[piece])
        hits.append(TextHit(piece, start - first, end - first,
                            frozenset(members[number].tolist())))
    return hits


class _Bitmap:
    """A set of 64-bit values answered approximately in one gather: no false negatives, about
    one false positive in 32, so exact lookups run only on the few survivors."""

    def __init__(self, values: U64) -> None:
        self.bits = max(16, int(np.ceil(np.log2(max(values.shape[0], 2)))) + 5)
        self.mask = np.uint64((1 << self.bits) - 1)
        present = np.zeros(1 << self.bits, dtype=bool)
        present[(values & self.mask).astype(np.int64)] = True
        self.packed = np.packbits(present, bitorder="little")

    def maybe(self, values: U64) -> np.ndarray:
        bucket = (values & self.mask).astype(np.int64)
        bits = (self.packed[bucket >> 3] >> (bucket & 7).astype(np.uint8)) & 1
        return np.asarray(bits, dtype=bool)


class Matcher:
    """Finds training text and sensitive values in batches of text pieces."""

    def __init__(self, index: LoadedIndex) -> None:
        self.index = index
        p = index.meta.params
        self.params = p
        self.gram_key = index.key.sip("gram")
        self.token_key = index.key.sip("token")
        self.sensitive_key = index.key.sip("sensitive")
        self.fingerprint_mask = np.uint64((1 << (8 * p.fingerprint_bytes)) - 1)
        self.check_mask = np.uint64((1 << p.check_bits) - 1)
        self.grams = _Bitmap(index.sorted_fingerprints)
        self.first_tokens = _Bitmap(index.sensitive_first)

    def match(self, pieces: list[str]) -> tuple[list[TextHit], list[SensitiveHit]]:
        buffer, starts = normalize_many(pieces)
        tokens = tokenize_norm(buffer)
        count = len(tokens)
        if count == 0:
            return [], []
        offsets = np.array(starts)
        piece_of = np.searchsorted(offsets, tokens.starts, side="right") - 1
        piece_first = np.searchsorted(tokens.starts, offsets)
        token_prf = siphash13(self.token_key, tokens.hashes)
        sensitive = self._sensitive(tokens.hashes, token_prf, piece_of, piece_first)
        text = self._text(tokens.hashes, token_prf, piece_of, piece_first)
        return text, sensitive

    def _sensitive(self, hashes: U64, token_prf: U64, piece_of: np.ndarray,
                   piece_first: np.ndarray) -> list[SensitiveHit]:
        index = self.index
        if index.sensitive_sorted.size == 0:
            return []
        first = token_prf >> np.uint64(32)
        candidates = np.flatnonzero(self.first_tokens.maybe(first))
        slot = np.minimum(np.searchsorted(index.sensitive_first, first[candidates]),
                          index.sensitive_first.shape[0] - 1)
        candidates = candidates[index.sensitive_first[slot] == first[candidates]]
        hits: list[SensitiveHit] = []
        count = hashes.shape[0]
        for length in index.sensitive_lengths:
            pos = candidates[candidates + length <= count]
            pos = pos[piece_of[pos] == piece_of[pos + length - 1]]
            if pos.size == 0:
                continue
            values = siphash13(self.sensitive_key, grams_at(hashes, pos, length))
            lo = np.searchsorted(index.sensitive_sorted, values, side="left")
            hi = np.searchsorted(index.sensitive_sorted, values, side="right")
            owner, stored = _expand(lo, hi)
            units = index.sensitive_units[index.sensitive_order[stored]]
            for at, unit in zip(pos[owner], units, strict=True):
                if int(unit[1]) == length:
                    piece = int(piece_of[at])
                    start = int(at - piece_first[piece])
                    hits.append(SensitiveHit(piece, start, start + length, int(unit[0])))
        return hits

    def _text(self, hashes: U64, token_prf: U64, piece_of: np.ndarray,
              piece_first: np.ndarray) -> list[TextHit]:
        p = self.params
        index = self.index
        k = p.gram_words
        grams = gram_hashes(hashes, k)
        if grams.size == 0:
            return []
        fingerprints = siphash13(self.gram_key, grams) & self.fingerprint_mask
        query = np.flatnonzero(self.grams.maybe(fingerprints)
                               & (piece_of[: grams.size] == piece_of[k - 1:]))
        if query.size == 0:
            return []
        lo = np.searchsorted(index.sorted_fingerprints, fingerprints[query], side="left")
        hi = np.searchsorted(index.sorted_fingerprints, fingerprints[query], side="right")
        hi = np.minimum(hi, lo + MAX_STORED_PER_GRAM)
        owner, sorted_slot = _expand(lo, hi)
        if owner.size == 0:
            return []
        at = query[owner]
        stored = index.order[sorted_slot]
        left, right = self._extensions(at, stored, token_prf, piece_of)
        confirmed = np.flatnonzero(left + right >= p.context)
        if confirmed.size == 0:
            return []
        records = index.unit_record[index.gram_unit[stored[confirmed]]]
        return _merge_spans((at - left)[confirmed], (at + k + right)[confirmed], records,
                            piece_of, piece_first)

    def _extensions(self, at: np.ndarray, stored: np.ndarray, token_prf: U64,
                    piece_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """How many neighbouring tokens left and right of each candidate agree with the
        stored check bits, counting outwards until the first disagreement."""
        p = self.params
        index = self.index
        k = p.gram_words
        count = token_prf.shape[0]
        position = index.gram_position[stored]
        length = index.unit_length[index.gram_unit[stored]]
        packed = index.checks[stored]
        piece = piece_of[at]
        left_run = np.ones(at.shape[0], dtype=bool)
        right_run = np.ones(at.shape[0], dtype=bool)
        left = np.zeros(at.shape[0], dtype=np.int64)
        right = np.zeros(at.shape[0], dtype=np.int64)
        for offset in range(1, p.context + 1):
            for side in (0, 1):
                slot = 2 * (offset - 1) + side
                stored_bits = (packed >> np.uint64(slot * p.check_bits)) & self.check_mask
                if side == 0:
                    where = at - offset
                    in_record = position - offset >= 0
                else:
                    where = at + k - 1 + offset
                    in_record = position + k - 1 + offset < length
                safe = np.clip(where, 0, count - 1)
                agrees = ((where >= 0) & (where < count) & (piece_of[safe] == piece) & in_record
                          & ((token_prf[safe] & self.check_mask) == stored_bits))
                if side == 0:
                    left_run &= agrees
                    left += left_run
                else:
                    right_run &= agrees
                    right += right_run
        return left, right
