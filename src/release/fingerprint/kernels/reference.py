"""The numpy twin of every compiled kernel: the reference the tests compare with, and the
fallback where no C compiler built the library."""

from __future__ import annotations

import numpy as np

from release.errors import KernelError
from release.fingerprint.kernels.protocol import I64, U8, U64, Key

_ASCII_WORD = frozenset(range(48, 58)) | frozenset(range(97, 123))
# what the tokenizer reads each byte as, once non-ASCII characters are folded: ASCII letters
# lower-cased, digits and the bytes of non-ASCII characters kept, everything else a space
FOLD_TABLE = bytes(
    c + 32 if 65 <= c <= 90 else c if c in _ASCII_WORD or c >= 128 else 32 for c in range(256)
)
_SPACE = 32
_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
_LENGTH_SALT = np.uint64(0x9E3779B97F4A7C15)
_PRF_CHUNK = 1 << 16


def _refuse(name: str) -> KernelError:
    return KernelError(f"{name}: an output array is too small for its result, or an input "
                       "lies outside its array")


def _fits(name: str, needed: int, *outputs: np.ndarray) -> None:
    """The numpy side of the kernels' capacity checks."""
    if any(output.shape[0] < needed for output in outputs):
        raise _refuse(name)


def mix64(x: U64) -> U64:
    """The splitmix64 finaliser, element-wise (wrapping uint64 arithmetic)."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def rotl(x: U64, bits: int) -> U64:
    bits %= 64
    if bits == 0:
        return x
    return (x << np.uint64(bits)) | (x >> np.uint64(64 - bits))


def _word_spans(folded: bytes | U8) -> tuple[U8, I64, I64]:
    """The buffer as the tokenizer reads it, and where its words start and end."""
    data = np.frombuffer(bytes(folded).translate(FOLD_TABLE), dtype=np.uint8)
    word = np.zeros(data.size + 2, dtype=np.int8)
    word[1:-1] = data != _SPACE
    edges = np.diff(word)
    return (data, np.flatnonzero(edges == 1).astype(np.int64),
            np.flatnonzero(edges == -1).astype(np.int64))


def word_hashes(folded: bytes | U8) -> tuple[U64, I64, I64]:
    """Hashes and byte spans of the words of a folded buffer. A word's hash reads its bytes as
    little-endian 8-byte chunks, the last zero-padded: every chunk but the last is xored into
    the state and mixed; the last is xored in, the length times a salt added, and the sum
    mixed."""
    data, starts, ends = _word_spans(folded)
    if data.size == 0:
        return np.zeros(0, dtype=np.uint64), starts, ends
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
    return hashes, starts, ends


def gram_hashes(token_hashes: U64, n: int) -> U64:
    """An unkeyed 64-bit hash of every run of `n` consecutive tokens (len - n + 1 of them)."""
    count = token_hashes.shape[0] - n + 1
    if count <= 0:
        return np.zeros(0, dtype=np.uint64)
    return gram_hashes_at(token_hashes, np.arange(count, dtype=np.int64), n)


def gram_hashes_at(token_hashes: U64, positions: I64, n: int) -> U64:
    """The unkeyed hash of the runs of `n` tokens that start at `positions`."""
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


def siphash13_values(key: Key, values: U64) -> U64:
    """SipHash-1-3 of each 8-byte value under a 128-bit key, in chunks of fresh arrays."""
    out = np.empty(values.shape[0], dtype=np.uint64)
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


def bitmap_hits(bitmap: U8, bits: int, values: U64, shift: int = 0) -> I64:
    """Positions of the values (shifted right by `shift` bits) whose bit is set, in order."""
    mask = np.uint64((1 << bits) - 1)
    bucket = ((values >> np.uint64(shift)) & mask).astype(np.int64)
    present = (bitmap[bucket >> 3] >> (bucket & 7).astype(np.uint8)) & 1
    return np.flatnonzero(present).astype(np.int64)


def widened(rows: U8) -> U64:
    """Rows of 1 to 8 little-endian bytes as 64-bit values."""
    full = np.zeros((rows.shape[0], 8), dtype=np.uint8)
    full[:, : rows.shape[1]] = rows
    return full.view("<u8").reshape(-1).astype(np.uint64)


class NumpyKernels:
    """The Kernels protocol in numpy."""

    name = "numpy"

    def count_words(self, text: U8) -> int:
        return int(_word_spans(text)[1].shape[0])  # the spans only: no hashing

    def tokenize(self, text: U8, hashes: U64, starts: I64 | None = None,
                 ends: I64 | None = None) -> int:
        found, word_starts, word_ends = word_hashes(text)
        count = found.shape[0]
        _fits("tokenize", count, hashes)
        hashes[:count] = found
        if starts is not None and ends is not None:
            _fits("tokenize", count, starts, ends)
            starts[:count] = word_starts
            ends[:count] = word_ends
        return int(count)

    def count_byte(self, data: U8, byte: int) -> int:
        return int(np.count_nonzero(data == byte))

    def high_runs(self, data: U8, starts: I64, ends: I64) -> int:
        high = np.empty(data.size + 2, dtype=np.int8)
        high[0] = high[-1] = 0
        high[1:-1] = data >= 0x80
        edges = np.diff(high)
        found_starts, found_ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        count = found_starts.shape[0]
        _fits("high_runs", count, starts, ends)
        starts[:count] = found_starts
        ends[:count] = found_ends
        return int(count)

    def pack_runs(self, data: U8, starts: I64, ends: I64, out: U64) -> None:
        count = starts.shape[0]
        _fits("pack_runs", count, out)
        if count and (starts.min() < 0 or (ends < starts).any() or ends.max() > data.size):
            raise _refuse("pack_runs")
        lengths = ends - starts
        packed = np.zeros(count, dtype=np.uint64)
        padded = np.zeros(data.size + 8, dtype=np.uint8)
        padded[: data.size] = data
        for offset in range(8):
            present = lengths > offset
            byte = padded[starts + offset].astype(np.uint64)
            packed |= np.where(present, byte << np.uint64(8 * offset), np.uint64(0))
        out[:count] = np.where(lengths <= 8, packed, np.uint64(0))

    def splice(self, data: U8, starts: I64, ends: I64, replacements: bytes, first: I64,
               last: I64, out: U8) -> int:
        raw = data.tobytes()
        cuts = [0, *np.stack([starts, ends], axis=1).ravel().tolist(), len(raw)]
        if cuts != sorted(cuts) or (last < first).any() or (first < 0).any() or \
                (last > len(replacements)).any():
            raise _refuse("splice")
        kept = [raw[cuts[i]: cuts[i + 1]] for i in range(0, len(cuts), 2)]
        parts = [replacements[a:b] for a, b in zip(first.tolist(), last.tolist(), strict=True)]
        joined = b"".join(piece for pair in zip(kept, [*parts, b""], strict=True)
                          for piece in pair)
        _fits("splice", len(joined), out)
        out[: len(joined)] = np.frombuffer(joined, dtype=np.uint8)
        return len(joined)

    def siphash13(self, key: Key, values: U64, out: U64) -> None:
        _fits("siphash13", values.shape[0], out)
        out[: values.shape[0]] = siphash13_values(key, values)

    def gram_fingerprints(self, tokens: U64, words: int, positions: I64, key: Key, mask: int,
                          out: U64) -> None:
        _fits("gram_fingerprints", positions.shape[0], out)
        if positions.size and (positions.min() < 0 or positions.max() > tokens.shape[0] - words):
            raise _refuse("gram_fingerprints")
        grams = gram_hashes_at(tokens, positions, words)
        out[: positions.shape[0]] = siphash13_values(key, grams) & np.uint64(mask)

    def sorted_ranges(self, values: U64, directory: I64, shift: int, queries: U64, lo: I64,
                      hi: I64) -> None:
        _fits("sorted_ranges", queries.shape[0], lo, hi)
        lo[: queries.shape[0]] = np.searchsorted(values, queries, side="left")
        hi[: queries.shape[0]] = np.searchsorted(values, queries, side="right")

    def packed_ranges(self, rows: U8, directory: I64, shift: int, queries: U64, lo: I64,
                      hi: I64) -> None:
        _fits("packed_ranges", queries.shape[0], lo, hi)
        low_bits = np.uint64((1 << shift) - 1) if shift < 64 else np.uint64((1 << 64) - 1)
        top = (queries >> np.uint64(shift)).astype(np.int64) if shift < 64 else \
            np.zeros(queries.shape[0], dtype=np.int64)
        buckets = directory.shape[0] - 1
        # whole values, from each row's bucket (rows hold only the bits below `shift`)
        row_bucket = np.repeat(np.arange(buckets, dtype=np.uint64), np.diff(directory))
        values = (widened(rows) & low_bits) | (row_bucket << np.uint64(shift)
                                               if shift < 64 else np.uint64(0))
        wanted = np.where(top < buckets, queries, np.uint64((1 << 64) - 1))
        lo[: queries.shape[0]] = np.where(top < buckets,
                                          np.searchsorted(values, wanted, side="left"),
                                          directory[buckets])
        hi[: queries.shape[0]] = np.where(top < buckets,
                                          np.searchsorted(values, wanted, side="right"),
                                          directory[buckets])

    def probe(self, hashes: U64, words: int, gram_key: Key, fingerprint_shift: int,
              gram_bitmap: U8, gram_bits: int, token_key: Key, first_bitmap: U8 | None,
              first_bits: int, prf: U64, gram_at: I64, gram_fp: U64, first_at: I64
              ) -> tuple[int, int]:
        count = hashes.shape[0]
        _fits("probe", count, prf, gram_at, gram_fp, first_at)
        prf[:count] = siphash13_values(token_key, hashes)
        fingerprints = siphash13_values(gram_key, gram_hashes(hashes, words)) >> \
            np.uint64(fingerprint_shift)
        grams = bitmap_hits(gram_bitmap, gram_bits, fingerprints)
        gram_at[: grams.shape[0]] = grams
        gram_fp[: grams.shape[0]] = fingerprints[grams]
        firsts = (bitmap_hits(first_bitmap, first_bits, prf[:count], shift=32)
                  if first_bitmap is not None else np.zeros(0, dtype=np.int64))
        first_at[: firsts.shape[0]] = firsts
        return int(grams.shape[0]), int(firsts.shape[0])

    def radix_order(self, keys: U64, order: I64, bits: int) -> None:
        _fits("radix_order", keys.shape[0], order)
        permutation = np.argsort(keys, kind="stable")
        keys[:] = keys[permutation]
        order[: keys.shape[0]] = order[: keys.shape[0]][permutation]

    def bitmap_fill(self, bitmap: U8, bits: int, values: U64) -> None:
        _fits("bitmap_fill", 1 << max(0, bits - 3), bitmap)
        bucket = (values & np.uint64((1 << bits) - 1)).astype(np.int64)
        np.bitwise_or.at(bitmap, bucket >> 3, (1 << (bucket & 7)).astype(np.uint8))
