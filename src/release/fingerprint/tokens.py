"""Text into word tokens: normalisation, word hashes, gram fingerprints and the keyed PRF."""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, cast

import numpy as np

from release.fingerprint.kernels import I64, KERNELS, U8, U64, Kernels, Key
from release.fingerprint.kernels.reference import FOLD_TABLE, gram_hashes_at

__all__ = ["I64", "U64", "Scratch", "Tokens", "WordPlaces", "count_newlines", "fold",
           "fold_many", "fold_utf8", "gram_fingerprints", "gram_hashes_at", "high_runs",
           "normalize", "siphash13", "sorted_with_order", "tokenize", "tokenize_pieces"]

Buffer = bytes | U8  # folded text: bytes, or bytes in a reused array


class Scratch:
    """Arrays reused from call to call. A scan hashes text piece after piece; fresh
    multi-megabyte arrays for every piece are fresh pages from the OS every time, and those page
    faults cost more than the hashing. Views it hands out are valid until the next `take` of the
    same name."""

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def take(self, name: str, size: int, dtype: type[np.generic]) -> np.ndarray:
        array = self._arrays.get(name)
        if array is None or array.shape[0] < size or array.dtype != dtype:
            array = np.empty(max(size + size // 4, 1 << 12), dtype=dtype)
            self._arrays[name] = array
        return array[:size]


def _array(scratch: Scratch | None, name: str, size: int, dtype: type[np.generic]
           ) -> np.ndarray:
    if scratch is None:
        return np.empty(size, dtype=dtype)
    return scratch.take(name, size, dtype)


def fold(text: str) -> bytes:
    """The text as UTF-8 in which every run of non-ASCII characters is NFKC-normalised and
    case-folded, its non-word characters made spaces. ASCII bytes are left as they are: the
    tokenizer reads them through `FOLD_TABLE` (`normalize` applies it)."""
    if text.isascii():
        return text.encode("ascii")
    return fold_utf8(text.encode("utf-8", errors="surrogatepass"))


def fold_utf8(raw: bytes) -> bytes:
    """`fold` of UTF-8 bytes (invalid sequences read as U+FFFD, which is not a word)."""
    return _fold_runs(raw, high_runs(raw))[0]


def _fold_runs(raw: bytes, runs: I64) -> tuple[bytes, list[bytes]]:
    """`fold_utf8` given the runs of non-ASCII bytes, and what each run became."""
    if runs.size == 0:
        return raw, []
    cuts = [0, *runs.ravel().tolist(), len(raw)]
    parts = [raw[begin:end] for begin, end in itertools.pairwise(cuts)]  # ASCII, run, ..., ASCII
    parts[1::2] = map(_fold, parts[1::2])
    return b"".join(parts), parts[1::2]


def _fold_into(raw: bytes, scratch: Scratch, kernels: Kernels) -> Buffer:
    """`fold_utf8`, in a reused array when there is something to fold: a fresh megabyte for
    every piece is fresh pages from the OS, which cost more than the folding."""
    data = np.frombuffer(raw, dtype=np.uint8)
    runs = high_runs(data, kernels)
    if runs.size == 0:
        return raw
    run_starts, run_ends = np.ascontiguousarray(runs[:, 0]), np.ascontiguousarray(runs[:, 1])
    kinds, kind_of_run = _distinct_runs(data, run_starts, run_ends, kernels)
    replacements = [_fold(run) for run in kinds]
    ends = np.cumsum(np.fromiter(map(len, replacements), dtype=np.int64, count=len(kinds)))
    last = ends[kind_of_run]
    first = last - np.diff(ends, prepend=0)[kind_of_run]
    size = data.size + int((last - first).sum() - (run_ends - run_starts).sum())
    out = scratch.take("folded", size, np.uint8)
    kernels.splice(data, run_starts, run_ends, b"".join(replacements), first, last, out)
    return out


def tokenize_pieces(texts: Sequence[bytes], scratch: Scratch, kernels: Kernels = KERNELS
                    ) -> tuple[U64, I64]:
    """The token hashes of UTF-8 texts, each folded and tokenized on its own into reused arrays,
    and the number of each text's first token: what `tokenize(fold_many(texts))` finds, with no
    joined copy of the texts (a scan's pieces are megabytes)."""
    # a word takes a byte and a separator, so folded text has at most half its length in words
    # (rounded up); folding can make text longer (U+FDFA is 3 bytes and 4 words), so the
    # array grows when a folded piece needs more
    hashes = scratch.take("token-hashes", sum(len(text) // 2 + 1 for text in texts), np.uint64)
    first = np.empty(len(texts), dtype=np.int64)
    count = 0
    for number, text in enumerate(texts):
        data = np.frombuffer(_fold_into(text, scratch, kernels), dtype=np.uint8)
        needed = count + data.size // 2 + 1
        if needed > hashes.shape[0]:
            grown = np.empty(needed + needed // 4, dtype=np.uint64)
            grown[:count] = hashes[:count]
            hashes = grown
        first[number] = count
        # no word spans: the scan needs only the hashes
        count += kernels.tokenize(data, hashes[count:])
    return hashes[:count], first


def _distinct_runs(data: U8, starts: I64, ends: I64, kernels: Kernels
                   ) -> tuple[list[bytes], I64]:
    """The distinct runs (as bytes) and which of them each run is. Text has few distinct runs
    (a bullet, a dash, a few accented letters) repeated many times: runs of up to 8 bytes are
    told apart by their bytes packed into one integer, so only distinct ones become objects."""
    lengths = ends - starts
    short = np.flatnonzero(lengths <= 8)
    packed = np.empty(starts.shape[0], dtype=np.uint64)
    kernels.pack_runs(data, starts, ends, packed)
    distinct, which = np.unique(packed[short], return_inverse=True)
    kinds = [value.to_bytes(8, "little").rstrip(b"\0") for value in distinct.tolist()]
    kind_of_run = np.empty(starts.shape[0], dtype=np.int64)
    kind_of_run[short] = which.reshape(-1)
    long_runs = np.flatnonzero(lengths > 8)
    kind_of_run[long_runs] = np.arange(len(kinds), len(kinds) + long_runs.shape[0])
    kinds += [data[starts[run]: ends[run]].tobytes() for run in long_runs.tolist()]
    return kinds, kind_of_run


def count_newlines(data: bytes, end: int, kernels: Kernels = KERNELS) -> int:
    """How many line feeds data[:end] holds (`bytes.count` of one byte is a plain byte loop; the
    kernel's is vectorised)."""
    end = max(0, min(end, len(data)))
    return kernels.count_byte(np.frombuffer(data, dtype=np.uint8)[:end], 10)


def high_runs(raw: Buffer, kernels: Kernels = KERNELS) -> I64:
    """(start, end) byte offsets of the runs of non-ASCII bytes, one row per run."""
    data = np.frombuffer(raw, dtype=np.uint8)
    size = data.size // 2 + 1  # runs are separated by at least one ASCII byte
    starts = np.empty(size, dtype=np.int64)
    ends = np.empty(size, dtype=np.int64)
    count = kernels.high_runs(data, starts, ends)
    return np.stack([starts[:count], ends[:count]], axis=1)


def normalize(text: str) -> bytes:
    """NFKC, case-folded text in which non-word characters (punctuation, spaces, underscores)
    are spaces, as UTF-8; words are the runs between spaces. Only runs of non-ASCII characters
    pay for Unicode handling; the ASCII text around them is mapped by one table lookup."""
    return fold(text).translate(FOLD_TABLE)


def fold_many(texts: Sequence[str | bytes]) -> tuple[bytes, I64]:
    """Fold texts (str, or UTF-8 bytes) into one buffer, separated by spaces, and the byte
    offset at which each starts: the tokenizer's input (one call, not one per text, when they
    are all ASCII str)."""
    if bytes not in set(map(type, texts)):
        joined = " ".join(cast(Sequence[str], texts))
        if joined.isascii():
            return joined.encode("ascii"), _starts(texts)
    pieces = [fold(text) if isinstance(text, str) else fold_utf8(text) for text in texts]
    return b" ".join(pieces), _starts(pieces)


def _starts(pieces: Sequence[str | bytes]) -> I64:
    """Where each piece starts once they are joined with one separator between them."""
    starts = np.zeros(len(pieces), dtype=np.int64)
    lengths = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
    np.cumsum(lengths[:-1] + 1, out=starts[1:])
    return starts


@lru_cache(maxsize=1 << 16)
def _fold(run: bytes) -> bytes:
    """NFKC and case folding of a run of non-ASCII characters (UTF-8 in, UTF-8 out); non-word
    characters become spaces."""
    text = run.decode("utf-8", errors="replace")
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return "".join(ch if ch.isalnum() else " " for ch in folded).encode("utf-8")


class WordPlaces:
    """Where in UTF-8 text the words `tokenize(fold_utf8(raw))` finds start and end, as byte
    offsets: how a reported match is located (only in pieces with a hit, and only for the
    words asked about). A word that starts or ends inside a folded run of non-ASCII characters
    is given the whole run."""

    def __init__(self, raw: bytes, kernels: Kernels = KERNELS) -> None:
        runs = high_runs(raw, kernels)
        folded, replacements = _fold_runs(raw, runs)
        tokens = tokenize(folded, kernels=kernels)
        self.starts, self.ends = tokens.starts, tokens.ends
        self.run_starts, self.run_ends = runs[:, 0], runs[:, 1]
        folded_lengths = np.fromiter(map(len, replacements), dtype=np.int64,
                                     count=len(replacements))
        # growth[j]: how much longer the text is, once folded, after runs 0..j-1
        self.growth = np.concatenate(
            ([0], np.cumsum(folded_lengths - (self.run_ends - self.run_starts))))
        self.folded_starts = self.run_starts + self.growth[:-1]
        self.folded_ends = self.folded_starts + folded_lengths

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    def span(self, first: I64, last: I64) -> tuple[I64, I64]:
        """Byte offsets where words `first` start and words `last` end."""
        # a start at a run's first byte is inside it; an end at a run's last byte too
        return (self._to_raw(self.starts[first], "right", self.run_starts),
                self._to_raw(self.ends[last], "left", self.run_ends))

    def _to_raw(self, offsets: I64, side: Literal["left", "right"], inside_run: I64) -> I64:
        run = np.searchsorted(self.folded_starts, offsets, side=side) - 1  # at or before
        after_some = run >= 0
        inside = np.zeros(offsets.shape[0], dtype=bool)
        ends = self.folded_ends[run[after_some]]
        inside[after_some] = (offsets[after_some] < ends if side == "right"
                              else offsets[after_some] <= ends)
        raw_offsets = offsets - self.growth[run + 1]
        raw_offsets[~after_some] = offsets[~after_some]
        raw_offsets[inside] = inside_run[run[inside]]
        return raw_offsets


@dataclass(frozen=True)
class Tokens:
    """Word tokens of a normalised buffer: 64-bit hashes and byte spans."""

    hashes: U64
    starts: I64
    ends: I64

    def __len__(self) -> int:
        return int(self.hashes.shape[0])

    def pieces(self, offsets: I64) -> tuple[I64, I64]:
        """For pieces of the buffer starting at these byte offsets: the number of each one's
        first token, and how many tokens it has."""
        first = np.searchsorted(self.starts, offsets)
        return first, np.diff(np.append(first, len(self)))


def tokenize(folded: Buffer, scratch: Scratch | None = None, kernels: Kernels = KERNELS
             ) -> Tokens:
    """Hash every word of a folded (or normalised) buffer, with its byte span: in reused arrays
    that can hold the most words there can be, or in new ones made to measure."""
    data = np.frombuffer(folded, dtype=np.uint8)
    size = data.size // 2 + 1 if scratch is not None else kernels.count_words(data)
    hashes = _array(scratch, "token-hashes", size, np.uint64)
    starts = _array(scratch, "token-starts", size, np.int64)
    ends = _array(scratch, "token-ends", size, np.int64)
    count = kernels.tokenize(data, hashes, starts, ends)
    return Tokens(hashes[:count], starts[:count], ends[:count])


def siphash13(key: Key, values: U64, kernels: Kernels = KERNELS) -> U64:
    """SipHash-1-3 of each 8-byte value under a 128-bit key: a PRF, so without the key the
    outputs say nothing about the inputs."""
    values = np.ascontiguousarray(values, dtype=np.uint64)
    out = np.empty(values.shape[0], dtype=np.uint64)
    kernels.siphash13(key, values, out)
    return out


def gram_fingerprints(token_hashes: U64, n: int, key: Key, mask: int,
                      positions: I64 | None = None, kernels: Kernels = KERNELS) -> U64:
    """The keyed hash of every run of `n` tokens (or of those starting at `positions`),
    masked: `siphash13(key, gram_hashes_at(token_hashes, positions, n)) & mask`."""
    token_hashes = np.ascontiguousarray(token_hashes, dtype=np.uint64)
    if positions is None:
        positions = np.arange(max(0, token_hashes.shape[0] - n + 1), dtype=np.int64)
    positions = np.ascontiguousarray(positions, dtype=np.int64)
    out = np.empty(positions.shape[0], dtype=np.uint64)
    kernels.gram_fingerprints(token_hashes, n, positions, key, mask, out)
    return out


def sorted_with_order(values: U64, bits: int = 64, kernels: Kernels = KERNELS
                      ) -> tuple[U64, I64]:
    """The values sorted, and the stable order that sorts them (values of at most `bits` bits):
    the native backend's radix sort loads a million-record index in half the time np.argsort
    takes."""
    keys = np.array(values, dtype=np.uint64)  # a copy, sorted in place
    order = np.arange(keys.shape[0], dtype=np.int64)
    kernels.radix_order(keys, order, bits)
    return keys, order
