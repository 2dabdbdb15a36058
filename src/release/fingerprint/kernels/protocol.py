"""The kernel interface both backends implement: the hot loops of hashing and matching."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
Key = tuple[int, int]  # a 128-bit SipHash key as two 64-bit halves


class Kernels(Protocol):
    """What the fingerprint code asks of a backend. Every method writes into arrays the caller
    owns (so a scan can reuse them) and checks that they are large enough: an output too small
    for its result raises KernelError instead of writing past it. The native backend
    (`_kernels.c` through ctypes) and the numpy one compute the same values bit for bit."""

    name: str  # "native" or "numpy"

    def count_words(self, text: U8) -> int:
        """How many words `tokenize` finds in the folded text."""
        ...

    def tokenize(self, text: U8, hashes: U64, starts: I64 | None = None,
                 ends: I64 | None = None) -> int:
        """Hash every word of folded text into `hashes` (and its byte span into `starts` and
        `ends`, when given); returns the number of words."""
        ...

    def count_byte(self, data: U8, byte: int) -> int:
        """How many bytes of `data` equal `byte`."""
        ...

    def high_runs(self, data: U8, starts: I64, ends: I64) -> int:
        """Byte spans of the runs of non-ASCII bytes; returns how many (n / 2 + 1 suffice)."""
        ...

    def pack_runs(self, data: U8, starts: I64, ends: I64, out: U64) -> None:
        """Each run's bytes as a little-endian integer when it has at most 8, else 0."""
        ...

    def splice(self, data: U8, starts: I64, ends: I64, replacements: bytes, first: I64,
               last: I64, out: U8) -> int:
        """`data` with run i replaced by replacements[first[i]:last[i]]; returns its length."""
        ...

    def siphash13(self, key: Key, values: U64, out: U64) -> None:
        """SipHash-1-3 of each 8-byte value (a PRF: without the key it says nothing)."""
        ...

    def gram_fingerprints(self, tokens: U64, words: int, positions: I64, key: Key, mask: int,
                          out: U64) -> None:
        """The masked keyed hash of the run of `words` tokens starting at each position."""
        ...

    def sorted_ranges(self, values: U64, directory: I64, shift: int, queries: U64, lo: I64,
                      hi: I64) -> None:
        """[lo, hi) of the sorted values equal to each query; `directory[b]` is where values
        whose top bits (value >> shift) are b begin."""
        ...

    def packed_ranges(self, rows: U8, directory: I64, shift: int, queries: U64, lo: I64,
                      hi: I64) -> None:
        """`sorted_ranges` over sorted values stored as rows of little-endian bytes (an
        (n, width) array, width 1 to 8), of which only the bits below `shift` are compared
        (the directory tells the rest)."""
        ...

    def probe(self, hashes: U64, words: int, gram_key: Key, fingerprint_shift: int,
              gram_bitmap: U8, gram_bits: int, token_key: Key, first_bitmap: U8 | None,
              first_bits: int, prf: U64, gram_at: I64, gram_fp: U64, first_at: I64
              ) -> tuple[int, int]:
        """A scan's per-token work: every token's PRF into `prf`; the grams whose fingerprint
        (shifted right by `fingerprint_shift` bits) passes the gram bitmap (positions and
        fingerprints); the tokens whose PRF's top 32 bits pass the first-token bitmap (none
        without one). Returns how many of each."""
        ...

    def radix_order(self, keys: U64, order: I64, bits: int) -> None:
        """Sort `keys` (of at most `bits` bits) in place, stably, permuting `order` with them."""
        ...

    def bitmap_fill(self, bitmap: U8, bits: int, values: U64) -> None:
        """Set the bit of each value's low `bits` bits (little-endian bit order)."""
        ...
