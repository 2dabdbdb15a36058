"""Vectorised text hashing: normalisation, word tokens, gram hashes and the SipHash-1-3 PRF."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

_ASCII_WORD = frozenset(range(48, 58)) | frozenset(range(97, 123))
_ASCII_TABLE = bytes(
    c + 32 if 65 <= c <= 90 else c if c in _ASCII_WORD else 32 for c in range(256)
)
# the same for UTF-8 text whose non-ASCII characters were already folded: their bytes stay
_UTF8_TABLE = _ASCII_TABLE[:128] + bytes(range(128, 256))
_WORD = re.compile(r"[^\W_]+")
_SPACE = 32
_MAX_VECTOR_TOKEN = 32  # longer tokens are hashed one by one (rare)
_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
_LENGTH_SALT = np.uint64(0x9E3779B97F4A7C15)


def normalize(text: str) -> bytes:
    """NFKC, case-folded text in which non-word characters (punctuation, spaces, underscores)
    are spaces, as UTF-8; words are the runs between spaces. Only runs of non-ASCII characters
    pay for Unicode handling; the ASCII text around them is mapped by one table lookup."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_TABLE)
    raw = text.encode("utf-8", errors="surrogatepass")
    high = np.empty(len(raw) + 2, dtype=np.int8)
    high[0] = high[-1] = 0
    high[1:-1] = np.frombuffer(raw, dtype=np.uint8) >= 0x80
    edges = np.diff(high)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    parts = []
    previous = 0
    for begin, end in zip(starts.tolist(), ends.tolist(), strict=True):
        parts.append(raw[previous:begin])
        parts.append(_fold(raw[begin:end]))
        previous = end
    parts.append(raw[previous:])
    return b"".join(parts).translate(_UTF8_TABLE)


def normalize_many(texts: list[str]) -> tuple[bytes, list[int]]:
    """Normalise texts into one buffer, separated by spaces, and the byte offset at which each
    text starts (one call, not one per text, when they are all ASCII)."""
    joined = " ".join(texts)
    if joined.isascii():
        offsets = [0]
        for text in texts[:-1]:
            offsets.append(offsets[-1] + len(text) + 1)
        return normalize(joined), offsets
    pieces = [normalize(text) for text in texts]
    offsets = [0]
    for piece in pieces[:-1]:
        offsets.append(offsets[-1] + len(piece) + 1)
    return b" ".join(pieces), offsets


@lru_cache(maxsize=1 << 16)
def _fold(run: bytes) -> bytes:
    """NFKC and case folding of a run of non-ASCII characters (UTF-8 in, UTF-8 out); non-word
    characters become spaces."""
    text = run.decode("utf-8", errors="replace")
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return "".join(ch if ch.isalnum() else " " for ch in folded).encode("utf-8")


def word_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the words of the original text, in the order `tokenize` sees them
    (used only to locate a reported match, never on the hot path)."""
    if text.isascii():
        return [(m.start(), m.end()) for m in re.finditer(rb"[A-Za-z0-9]+",
                                                           text.encode("ascii"))]
    return [(m.start(), m.end()) for m in _WORD.finditer(text)]


def mix64(x: U64) -> U64:
    """The splitmix64 finaliser, element-wise (wrapping uint64 arithmetic)."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _long_token_hash(token: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(token, digest_size=8, person=b"release-tok").digest(),
                          "little")


@dataclass(frozen=True)
class Tokens:
    """Word tokens of a normalised buffer: 64-bit hashes and byte spans."""

    hashes: U64
    starts: I64
    ends: I64

    def __len__(self) -> int:
        return int(self.hashes.shape[0])


def tokenize(norm: bytes) -> Tokens:
    """Hash every word of a normalised buffer (words are separated by single spaces)."""
    data = np.frombuffer(norm, dtype=np.uint8)
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
    padded = np.zeros(data.size + _MAX_VECTOR_TOKEN + 8, dtype=np.uint8)
    padded[: data.size] = data
    # every byte offset viewed as the start of an unaligned little-endian uint64
    windows = np.ndarray(shape=(data.size + _MAX_VECTOR_TOKEN,), dtype="<u8", buffer=padded,
                         strides=(1,))
    with np.errstate(over="ignore"):
        first = windows[starts] & _MASKS[np.minimum(lengths, 8)]
        hashes = mix64(first + lengths.astype(np.uint64) * _LENGTH_SALT)
        for word_index in range(1, _MAX_VECTOR_TOKEN // 8):
            longer = np.flatnonzero(lengths > 8 * word_index)
            if longer.size == 0:
                break
            rest = np.minimum(lengths[longer] - 8 * word_index, 8)
            chunk = windows[starts[longer] + 8 * word_index] & _MASKS[rest]
            hashes[longer] = mix64(hashes[longer] ^ chunk)
    for index in np.flatnonzero(lengths > _MAX_VECTOR_TOKEN):
        hashes[index] = _long_token_hash(norm[starts[index]: ends[index]])
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
