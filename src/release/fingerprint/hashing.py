"""Vectorised text hashing: normalisation, word tokens, gram hashes and the SipHash-1-3 PRF."""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, cast

import numpy as np
import numpy.typing as npt

from release.fingerprint import native

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
Buffer = bytes | npt.NDArray[np.uint8]  # folded text: bytes, or bytes in a reused array

_ASCII_WORD = frozenset(range(48, 58)) | frozenset(range(97, 123))
# what the tokenizer reads each byte as, once non-ASCII characters are folded: ASCII letters
# lower-cased, digits and the bytes of non-ASCII characters kept, everything else a space
_FOLD_TABLE = bytes(
    c + 32 if 65 <= c <= 90 else c if c in _ASCII_WORD or c >= 128 else 32 for c in range(256)
)
_SPACE = 32
_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
_LENGTH_SALT = np.uint64(0x9E3779B97F4A7C15)
TOKEN_SLACK = 8  # spans rk_tokenize may write past the last word


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
    tokenizer reads them through `_FOLD_TABLE` (`normalize` applies it)."""
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


def _fold_into(raw: bytes, scratch: Scratch) -> Buffer:
    """`fold_utf8`, in a reused array when there is something to fold: a fresh megabyte for
    every piece is fresh pages from the OS, which cost more than the folding."""
    library = native.LIBRARY
    assert library is not None
    data = np.frombuffer(raw, dtype=np.uint8)
    runs = high_runs(data)
    if runs.size == 0:
        return raw
    run_starts, run_ends = np.ascontiguousarray(runs[:, 0]), np.ascontiguousarray(runs[:, 1])
    kinds, kind_of_run = _distinct_runs(data, run_starts, run_ends)
    replacements = [_fold(run) for run in kinds]
    ends = np.cumsum(np.fromiter(map(len, replacements), dtype=np.int64, count=len(kinds)))
    to = ends[kind_of_run]
    from_ = to - np.diff(ends, prepend=0)[kind_of_run]
    size = data.size + int((to - from_).sum() - (run_ends - run_starts).sum())
    out = scratch.take("folded", size, np.uint8)
    library.rk_splice(data.ctypes.data, data.size, run_starts.ctypes.data, run_ends.ctypes.data,
                      run_starts.shape[0], b"".join(replacements), from_.ctypes.data,
                      to.ctypes.data, out.ctypes.data)
    return out


def tokenize_pieces(texts: Sequence[bytes], scratch: Scratch) -> tuple[U64, I64]:
    """The token hashes of UTF-8 texts, each folded and tokenized on its own into reused arrays,
    and the number of each text's first token: what `tokenize(fold_many(texts))` finds, with no
    joined copy of the texts (a scan's pieces are megabytes). Needs the compiled kernels."""
    library = native.LIBRARY
    assert library is not None
    hashes = scratch.take("token-hashes", sum(len(text) // 2 + 1 for text in texts), np.uint64)
    first = np.empty(len(texts), dtype=np.int64)
    count = 0
    for number, text in enumerate(texts):
        data = np.frombuffer(_fold_into(text, scratch), dtype=np.uint8)
        first[number] = count
        # no word spans: the scan needs only the hashes
        count += library.rk_tokenize(data.ctypes.data, data.size, hashes[count:].ctypes.data,
                                     None, None)
    return hashes[:count], first


def _distinct_runs(data: npt.NDArray[np.uint8], starts: I64, ends: I64
                   ) -> tuple[list[bytes], I64]:
    """The distinct runs (as bytes) and which of them each run is. Text has few distinct runs
    (a bullet, a dash, a few accented letters) repeated many times: runs of up to 8 bytes are
    told apart by their bytes packed into one integer, so only distinct ones become objects."""
    library = native.LIBRARY
    assert library is not None
    lengths = ends - starts
    short = np.flatnonzero(lengths <= 8)
    packed = np.empty(starts.shape[0], dtype=np.uint64)
    library.rk_pack_runs(data.ctypes.data, starts.ctypes.data, ends.ctypes.data,
                         starts.shape[0], packed.ctypes.data)
    distinct, which = np.unique(packed[short], return_inverse=True)
    kinds = [value.to_bytes(8, "little").rstrip(b"\0") for value in distinct.tolist()]
    kind_of_run = np.empty(starts.shape[0], dtype=np.int64)
    kind_of_run[short] = which.reshape(-1)
    long_runs = np.flatnonzero(lengths > 8)
    kind_of_run[long_runs] = np.arange(len(kinds), len(kinds) + long_runs.shape[0])
    kinds += [data[starts[run]: ends[run]].tobytes() for run in long_runs.tolist()]
    return kinds, kind_of_run


def count_newlines(data: bytes, end: int) -> int:
    """How many line feeds data[:end] holds (`bytes.count` of one byte is a plain byte loop; the
    kernel's is vectorised)."""
    library = native.LIBRARY
    end = max(0, min(end, len(data)))
    if library is None:
        return data.count(b"\n", 0, end)
    return int(library.rk_count_byte(data, end, 10))


def high_runs(raw: Buffer) -> I64:
    """(start, end) byte offsets of the runs of non-ASCII bytes, one row per run."""
    data = np.frombuffer(raw, dtype=np.uint8)
    library = native.LIBRARY
    if library is None:
        high = np.empty(data.size + 2, dtype=np.int8)
        high[0] = high[-1] = 0
        high[1:-1] = data >= 0x80
        edges = np.diff(high)
        return np.stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)], axis=1)
    size = data.size // 2 + 1
    starts = np.empty(size, dtype=np.int64)
    ends = np.empty(size, dtype=np.int64)
    count = library.rk_high_runs(data.ctypes.data, data.size, starts.ctypes.data,
                                 ends.ctypes.data)
    return np.stack([starts[:count], ends[:count]], axis=1)


def normalize(text: str) -> bytes:
    """NFKC, case-folded text in which non-word characters (punctuation, spaces, underscores)
    are spaces, as UTF-8; words are the runs between spaces. Only runs of non-ASCII characters
    pay for Unicode handling; the ASCII text around them is mapped by one table lookup."""
    return fold(text).translate(_FOLD_TABLE)


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

    def __init__(self, raw: bytes) -> None:
        runs = high_runs(raw)
        folded, replacements = _fold_runs(raw, runs)
        tokens = tokenize(folded)
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


def utf8_length(raw: bytes, start: int, end: int) -> int:
    """Characters in raw[start:end] of UTF-8 text (bytes that are not continuation bytes)."""
    data = np.frombuffer(raw, dtype=np.uint8)[start:end]
    return int(np.count_nonzero((data & 0xC0) != 0x80))


def mix64(x: U64) -> U64:
    """The splitmix64 finaliser, element-wise (wrapping uint64 arithmetic)."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


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


def tokenize(folded: Buffer, scratch: Scratch | None = None) -> Tokens:
    """Hash every word of a folded (or normalised) buffer. A word's hash reads its bytes as
    little-endian 8-byte chunks, the last zero-padded: every chunk but the last is xored into the
    state and mixed; the last is xored in, the length times a salt added, and the sum mixed."""
    library = native.LIBRARY
    if library is None:
        return tokenize_numpy(folded)
    data = np.frombuffer(folded, dtype=np.uint8)
    # reused arrays can hold the most words there can be; new ones are made to measure (the
    # kernel writes a few spans past the last word)
    size = TOKEN_SLACK + (data.size // 2 + 1 if scratch is not None
                          else library.rk_count_words(data.ctypes.data, data.size))
    hashes = _array(scratch, "token-hashes", size, np.uint64)
    starts = _array(scratch, "token-starts", size, np.int64)
    ends = _array(scratch, "token-ends", size, np.int64)
    count = library.rk_tokenize(data.ctypes.data, data.size, hashes.ctypes.data,
                                starts.ctypes.data, ends.ctypes.data)
    return Tokens(hashes[:count], starts[:count], ends[:count])


def tokenize_numpy(folded: Buffer) -> Tokens:
    """`tokenize` in numpy: the reference for the compiled kernel, and its fallback."""
    data = np.frombuffer(bytes(folded).translate(_FOLD_TABLE), dtype=np.uint8)
    if data.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Tokens(np.zeros(0, dtype=np.uint64), empty, empty)
    word = np.empty(data.size + 2, dtype=np.int8)
    word[0] = word[-1] = 0
    word[1:-1] = data != _SPACE
    edges = np.diff(word)
    starts = np.flatnonzero(edges == 1).astype(np.int64)
    ends = np.flatnonzero(edges == -1).astype(np.int64)
    lengths = ends - starts
    padded = np.zeros(data.size + 8, dtype=np.uint8)
    padded[: data.size] = data
    # every byte offset viewed as the start of an unaligned little-endian uint64
    windows = np.ndarray(shape=(data.size,), dtype="<u8", buffer=padded, strides=(1,))
    last_chunk = (lengths - 1) // 8
    state = np.zeros(starts.shape[0], dtype=np.uint64)
    with np.errstate(over="ignore"):
        for chunk in range(int(last_chunk.max(initial=0))):
            inner = np.flatnonzero(last_chunk > chunk)
            state[inner] = mix64(state[inner] ^ windows[starts[inner] + 8 * chunk])
        last = windows[starts + 8 * last_chunk] & _MASKS[lengths - 8 * last_chunk]
        hashes = mix64((state ^ last) + lengths.astype(np.uint64) * _LENGTH_SALT)
    return Tokens(hashes, starts, ends)


def rotl(x: U64, bits: int) -> U64:
    bits %= 64
    if bits == 0:
        return x
    return (x << np.uint64(bits)) | (x >> np.uint64(64 - bits))


def gram_hashes(token_hashes: U64, n: int) -> U64:
    """An unkeyed 64-bit hash of every run of `n` consecutive tokens (len - n + 1 of them)."""
    count = token_hashes.shape[0] - n + 1
    if count <= 0:
        return np.zeros(0, dtype=np.uint64)
    out = token_hashes[:count].copy()
    with np.errstate(over="ignore"):
        for offset in range(1, n):
            out ^= rotl(token_hashes[offset: offset + count], 13 * offset)
        return mix64(out + np.uint64(n))


def gram_hashes_at(token_hashes: U64, positions: I64, n: int) -> U64:
    """`gram_hashes(token_hashes, n)[positions]`, computing only those grams."""
    out = token_hashes[positions].copy()
    with np.errstate(over="ignore"):
        for offset in range(1, n):
            out ^= rotl(token_hashes[positions + offset], 13 * offset)
        return mix64(out + np.uint64(n))


def _rotl_into(x: U64, bits: int, scratch: U64) -> None:
    """x = rotl(x, bits), in place, using `scratch` (same shape) instead of new arrays."""
    np.right_shift(x, np.uint64(64 - bits), out=scratch)
    np.left_shift(x, np.uint64(bits), out=x)
    np.bitwise_or(x, scratch, out=x)


def _sipround(v0: U64, v1: U64, v2: U64, v3: U64, scratch: U64) -> None:
    """One SipRound on four state arrays, in place."""
    v0 += v1
    _rotl_into(v1, 13, scratch)
    v1 ^= v0
    _rotl_into(v0, 32, scratch)
    v2 += v3
    _rotl_into(v3, 16, scratch)
    v3 ^= v2
    v0 += v3
    _rotl_into(v3, 21, scratch)
    v3 ^= v0
    v2 += v1
    _rotl_into(v1, 17, scratch)
    v1 ^= v2
    _rotl_into(v2, 32, scratch)


_PRF_CHUNK = 1 << 16


def siphash13(key: tuple[int, int], values: U64) -> U64:
    """SipHash-1-3 of each 8-byte value under a 128-bit key: a PRF, so without the key the
    outputs say nothing about the inputs."""
    library = native.LIBRARY
    if library is None:
        return siphash13_numpy(key, values)
    values = np.ascontiguousarray(values, dtype=np.uint64)
    out = np.empty(values.shape[0], dtype=np.uint64)
    library.rk_siphash13(key[0], key[1], values.ctypes.data, values.shape[0], out.ctypes.data)
    return out


def gram_fingerprints(token_hashes: U64, n: int, key: tuple[int, int], mask: int,
                      positions: I64 | None = None) -> U64:
    """`siphash13(key, gram_hashes(token_hashes, n)) & mask`, or only at `positions`."""
    library = native.LIBRARY
    if library is None:
        grams = (gram_hashes(token_hashes, n) if positions is None
                 else gram_hashes_at(token_hashes, positions, n))
        return siphash13_numpy(key, grams) & np.uint64(mask)
    token_hashes = np.ascontiguousarray(token_hashes, dtype=np.uint64)
    if positions is None:
        positions = np.arange(max(0, token_hashes.shape[0] - n + 1), dtype=np.int64)
    positions = np.ascontiguousarray(positions, dtype=np.int64)
    out = np.empty(positions.shape[0], dtype=np.uint64)
    library.rk_gram_fingerprints(token_hashes.ctypes.data, n, positions.ctypes.data,
                                 positions.shape[0], key[0], key[1], mask, out.ctypes.data)
    return out


def sorted_with_order(values: U64, bits: int = 64) -> tuple[U64, I64]:
    """The values sorted, and the stable order that sorts them (values of at most `bits` bits):
    a radix sort in the kernels, which loads a million-record index in half the time
    np.argsort takes; np.argsort(kind="stable") without them."""
    values = np.ascontiguousarray(values, dtype=np.uint64)
    library = native.LIBRARY
    if library is None:
        order = np.argsort(values, kind="stable")
        return values[order], order
    keys = values.copy()
    order = np.arange(values.shape[0], dtype=np.int64)
    spare_keys = np.empty_like(keys)
    spare_order = np.empty_like(order)
    library.rk_radix_order(keys.ctypes.data, order.ctypes.data, spare_keys.ctypes.data,
                           spare_order.ctypes.data, values.shape[0], bits)
    return keys, order


def siphash13_numpy(key: tuple[int, int], values: U64) -> U64:
    """`siphash13` in numpy: the reference for the compiled kernel, and its fallback."""
    out = np.empty_like(values)
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    final = np.uint64(8 << 56)
    with np.errstate(over="ignore"):
        for begin in range(0, values.shape[0], _PRF_CHUNK):
            m = values[begin: begin + _PRF_CHUNK]
            size = m.shape[0]
            scratch = np.empty(size, dtype=np.uint64)
            v0 = np.full(size, k0 ^ np.uint64(0x736F6D6570736575))
            v1 = np.full(size, k1 ^ np.uint64(0x646F72616E646F6D))
            v2 = np.full(size, k0 ^ np.uint64(0x6C7967656E657261))
            v3 = (k1 ^ np.uint64(0x7465646279746573)) ^ m
            _sipround(v0, v1, v2, v3, scratch)
            v0 ^= m
            v3 ^= final
            _sipround(v0, v1, v2, v3, scratch)
            v0 ^= final
            v2 ^= np.uint64(0xFF)
            for _ in range(3):
                _sipround(v0, v1, v2, v3, scratch)
            v0 ^= v1
            v0 ^= v2
            v0 ^= v3
            out[begin: begin + size] = v0
    return out
