/* Compiled hot loops of the fingerprint index: word hashes, SipHash-1-3, gram fingerprints and
 * bitmap probes. Each function computes exactly what its numpy twin in kernels/reference.py
 * computes. Every function that writes an array is given that array's capacity and returns -1,
 * having written nothing past it, when its inputs would need more (or lie outside their
 * arrays); kernels/native.py turns -1 into an error. */

#include <stdint.h>
#include <string.h>

#define RK_ABI 13
#define LENGTH_SALT 0x9E3779B97F4A7C15ULL

int64_t rk_abi(void) { return RK_ABI; }

static inline uint64_t rotl(uint64_t x, unsigned bits) {
    bits &= 63;
    return bits ? (x << bits) | (x >> (64 - bits)) : x;
}

static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VECTORISED __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define VECTORISED
#endif

/* The low n bytes of a 64-bit word, for n in 0..8 (a table: GCC 12 does not vectorise a shift
 * by a variable number of bits). */
static const uint64_t LOW_BYTES[9] = {
    0, 0xFF, 0xFFFF, 0xFFFFFF, 0xFFFFFFFFULL, 0xFFFFFFFFFFULL, 0xFFFFFFFFFFFFULL,
    0xFFFFFFFFFFFFFFULL, ~0ULL};

#define BYTES(b) (0x0101010101010101ULL * (uint64_t)(b))
#define HIGH_BITS BYTES(0x80)

/* Up to 8 bytes at p as a little-endian integer, zero-padded past `available`. */
static inline uint64_t load8(const uint8_t *p, int64_t available) {
    uint64_t value = 0;
    if (available >= 8) {
        memcpy(&value, p, 8);
        return value;
    }
    for (int64_t i = available - 1; i >= 0; i--) value = (value << 8) | p[i];
    return value;
}

/* The high bit of each byte of x that lies in [lo, hi], for bytes below 0x80. */
static inline uint64_t in_range(uint64_t x, uint8_t lo, uint8_t hi) {
    return (x + BYTES(0x80 - lo)) & ~(x + BYTES(0x7F - hi)) & HIGH_BITS;
}

/* The high bit of each byte of x that is part of a word: an ASCII letter or digit, or a byte of
 * an (already folded) non-ASCII character. */
static inline uint64_t word_bytes(uint64_t x) {
    uint64_t low = x & ~HIGH_BITS;
    return (x & HIGH_BITS) | in_range(low | BYTES(0x20), 'a', 'z') | in_range(low, '0', '9');
}

/* x with its ASCII capitals made lower case. */
static inline uint64_t lower(uint64_t x) {
    return x | ((in_range(x & ~HIGH_BITS, 'A', 'Z') & ~x) >> 2);
}

/* One bit per byte (bit i for byte i) from the high bits of the 8 bytes of flags. */
static inline uint64_t gather_bits(uint64_t flags) {
    return ((flags >> 7) * 0x0102040810204080ULL) >> 56;
}

/* The hash of the word in bytes [start, end): its bytes lower-cased, read as little-endian
 * 8-byte chunks, the last zero-padded; each chunk but the last xored into the state and mixed;
 * the last xored in, the length times a salt added, and the sum mixed. */
static inline uint64_t word_hash(const uint8_t *buffer, int64_t n, int64_t start, int64_t end) {
    uint64_t state = 0;
    int64_t at = start;
    for (; end - at > 8; at += 8) state = mix64(state ^ lower(load8(buffer + at, n - at)));
    int64_t rest = end - at;
    uint64_t last = lower(load8(buffer + at, n - at));
    if (rest < 8) last &= (1ULL << (8 * rest)) - 1;
    return mix64((state ^ last) + (uint64_t)(end - start) * LENGTH_SALT);
}

/* Bit i set when byte block + i of the buffer is part of a word (see rk_tokenize). */
static inline uint64_t block_mask(const uint8_t *buffer, int64_t n, int64_t block) {
    uint64_t mask = 0;
    for (int64_t part = 0; part < 64 && block + part < n; part += 8)
        mask |= gather_bits(word_bytes(load8(buffer + block + part, n - block - part))) << part;
    return mask;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2_MASK 1

/* The high bit of each of 32 bytes that is part of a word, as `word_bytes` decides. */
__attribute__((target("avx2"))) static inline __m256i word_bytes32(__m256i x) {
    /* b - lo, offset by 128 so that a signed compare tests lo <= b <= lo + span - 1 */
    __m256i folded = _mm256_or_si256(x, _mm256_set1_epi8(0x20));
    __m256i letter = _mm256_cmpgt_epi8(_mm256_set1_epi8(-128 + 26),
                                       _mm256_sub_epi8(folded, _mm256_set1_epi8((char)('a' + 128))));
    __m256i digit = _mm256_cmpgt_epi8(_mm256_set1_epi8(-128 + 10),
                                      _mm256_sub_epi8(x, _mm256_set1_epi8((char)('0' + 128))));
    return _mm256_or_si256(x, _mm256_or_si256(letter, digit));
}

/* `block_mask` of a whole block of 64 bytes, with two AVX2 loads. */
__attribute__((target("avx2"))) static inline uint64_t block_mask_avx2(const uint8_t *p) {
    uint32_t low = (uint32_t)_mm256_movemask_epi8(word_bytes32(
        _mm256_loadu_si256((const __m256i *)p)));
    uint32_t high = (uint32_t)_mm256_movemask_epi8(word_bytes32(
        _mm256_loadu_si256((const __m256i *)(p + 32))));
    return (uint64_t)low | ((uint64_t)high << 32);
}
#endif

/* Writes block + the position of each set bit of `bits`, in order, to out[0..popcount); writes
 * up to 4 entries past them (the window has that slack). Four unconditional writes first: a
 * 64-byte block has about three word starts, so the loop's exit is rarely mispredicted. */
static inline int64_t bit_positions(uint64_t bits, int64_t block, int64_t *out) {
    int64_t count = __builtin_popcountll(bits);
    for (int i = 0; i < 4; i++) {
        out[i] = block + (bits ? __builtin_ctzll(bits) : 0);
        bits &= bits - 1;
    }
    for (int64_t i = 4; bits; i++, bits &= bits - 1) out[i] = block + __builtin_ctzll(bits);
    return count;
}

#define WORD_BATCH 256  /* words found, then hashed, at a time */
#define WORD_WINDOW (WORD_BATCH + 64 + 8)  /* a block adds at most 32; bit_positions writes 4
                                              past; one unfinished word is carried over */

/* Where rk_tokenize is in its buffer: the next 64-byte block, whether the byte before it is
 * part of a word, and how many word starts and ends are in the window. */
typedef struct {
    int64_t block;
    uint64_t carry;
    int64_t begun, count;
} word_scan;

/* Finds word starts and ends, 64 bytes at a time, until the window holds WORD_BATCH finished
 * words or the buffer ends (see rk_tokenize). `whole` is the mask of each full 64-byte block
 * (NULL: the portable one). */
static inline __attribute__((always_inline)) void
word_edges(const uint8_t *buffer, int64_t n, word_scan *scan, int64_t *starts, int64_t *ends,
           uint64_t (*whole)(const uint8_t *)) {
    int64_t block = scan->block, begun = scan->begun, count = scan->count;
    uint64_t carry = scan->carry;
    for (; block < n && count < WORD_BATCH; block += 64) {
        uint64_t mask = whole != NULL && block + 64 <= n ? whole(buffer + block)
                                                           : block_mask(buffer, n, block);
        uint64_t before = (mask << 1) | carry;
        carry = mask >> 63;
        begun += bit_positions(mask & ~before, block, starts + begun);
        count += bit_positions(~mask & before, block, ends + count);
    }
    if (block >= n && carry) {
        ends[count++] = n;
        carry = 0;
    }
    scan->block = block;
    scan->carry = carry;
    scan->begun = begun;
    scan->count = count;
}

static void word_edges_portable(const uint8_t *buffer, int64_t n, word_scan *scan,
                                int64_t *starts, int64_t *ends) {
    word_edges(buffer, n, scan, starts, ends, NULL);
}

#ifdef HAVE_AVX2_MASK
static volatile int avx2_known = -1;

/* Whether this CPU has AVX2, asked once (threads racing here all store the same answer). */
static int has_avx2(void) {
    if (avx2_known < 0) {
        __builtin_cpu_init();
        avx2_known = __builtin_cpu_supports("avx2") != 0;
    }
    return avx2_known;
}

__attribute__((target("avx2"))) static void word_edges_avx2(const uint8_t *buffer, int64_t n,
                                                            word_scan *scan, int64_t *starts,
                                                            int64_t *ends) {
    word_edges(buffer, n, scan, starts, ends, block_mask_avx2);
}
#endif

/* Lets the tests run the portable word finder on an AVX2 machine: allowed 0 turns AVX2 off, 1
 * back on where the CPU has it. Returns whether it is used now. */
int64_t rk_allow_avx2(int64_t allowed) {
#ifdef HAVE_AVX2_MASK
    avx2_known = -1;
    if (!allowed) avx2_known = 0;
    return has_avx2();
#else
    (void)allowed;
    return 0;
#endif
}

/* How many words rk_tokenize will find (so that its arrays are allocated to size). */
int64_t rk_count_words(const uint8_t *buffer, int64_t n) {
    int64_t count = 0;
    uint64_t carry = 0;
    for (int64_t block = 0; block < n; block += 64) {
        uint64_t mask = block_mask(buffer, n, block);
        count += __builtin_popcountll(mask & ~((mask << 1) | carry));
        carry = mask >> 63;
    }
    return count;
}

/* The hashes of `count` (at most WORD_WINDOW) words, as `word_hash` computes them. Words of up
 * to 16 bytes are hashed branch-free from their first two chunks, which the compiler
 * vectorises; longer ones one by one. */
VECTORISED static void hash_words(const uint8_t *buffer, int64_t n, const int64_t *starts,
                                  const int64_t *ends, int64_t count, uint64_t *hashes) {
    uint64_t first[WORD_WINDOW], second[WORD_WINDOW];
    int64_t length[WORD_WINDOW], longer[WORD_WINDOW], longest = 0;
    for (int64_t i = 0; i < count; i++) {
        length[i] = ends[i] - starts[i];
        first[i] = load8(buffer + starts[i], n - starts[i]);
        second[i] = length[i] > 8 ? load8(buffer + starts[i] + 8, n - starts[i] - 8) : 0;
        if (length[i] > 16) longer[longest++] = i;
    }
    for (int64_t i = 0; i < count; i++) {
        int64_t two = length[i] > 8;
        uint64_t state = two ? mix64(lower(first[i])) : 0;
        uint64_t last = lower(two ? second[i] : first[i]);
        int64_t rest = length[i] - 8 * two;
        last &= LOW_BYTES[rest < 8 ? rest : 8];
        hashes[i] = mix64((state ^ last) + (uint64_t)length[i] * LENGTH_SALT);
    }
    for (int64_t j = 0; j < longest; j++)
        hashes[longer[j]] = word_hash(buffer, n, starts[longer[j]], ends[longer[j]]);
}

/* Words are the runs of ASCII letters and digits and non-ASCII bytes (the input is folded: its
 * non-ASCII characters are all word characters or spaces). Writes each word's hash, and its
 * byte span unless starts and ends are NULL (a scan needs only the hashes), each array holding
 * `capacity` entries; returns the number of words, or -1 when there are more than `capacity`.
 * Finds the words 64 bytes at a time (a bit mask of word bytes, whose edges are the word starts
 * and ends) into a small window and hashes them WORD_BATCH at a time, while their spans are in
 * cache. */
int64_t rk_tokenize(const uint8_t *buffer, int64_t n, uint64_t *hashes, int64_t *starts,
                    int64_t *ends, int64_t capacity) {
    int64_t window_starts[WORD_WINDOW], window_ends[WORD_WINDOW], total = 0;
    int spans = starts != NULL && ends != NULL;
    word_scan scan = {0, 0, 0, 0};
#ifdef HAVE_AVX2_MASK
    void (*edges)(const uint8_t *, int64_t, word_scan *, int64_t *, int64_t *) =
        has_avx2() ? word_edges_avx2 : word_edges_portable;
#else
    void (*edges)(const uint8_t *, int64_t, word_scan *, int64_t *, int64_t *) =
        word_edges_portable;
#endif
    do {
        edges(buffer, n, &scan, window_starts, window_ends);
        if (scan.count > capacity - total) return -1;
        hash_words(buffer, n, window_starts, window_ends, scan.count, hashes + total);
        if (spans) {
            memcpy(starts + total, window_starts, (size_t)scan.count * sizeof *starts);
            memcpy(ends + total, window_ends, (size_t)scan.count * sizeof *ends);
        }
        total += scan.count;
        /* a word begun but not finished starts the next window */
        if (scan.begun > scan.count) window_starts[0] = window_starts[scan.count];
        scan.begun -= scan.count;
        scan.count = 0;
    } while (scan.block < n);
    return total;
}

/* How many of the first n bytes equal `byte` (vectorised; bytes.count of one byte is not). */
VECTORISED int64_t rk_count_byte(const uint8_t *buffer, int64_t n, int64_t byte) {
    int64_t count = 0;
    uint8_t wanted = (uint8_t)byte;
    for (int64_t i = 0; i < n; i++) count += buffer[i] == wanted;
    return count;
}

/* buffer[0, n) with run i, bytes [starts[i], ends[i]) (in order, not overlapping), replaced by
 * bytes [from[i], to[i]) of `replacements` (`size` bytes); returns the length written to out,
 * or -1 when it would exceed `capacity` or a run lies outside its buffer. */
int64_t rk_splice(const uint8_t *buffer, int64_t n, const int64_t *starts, const int64_t *ends,
                  int64_t count, const uint8_t *replacements, int64_t size, const int64_t *from,
                  const int64_t *to, uint8_t *out, int64_t capacity) {
    int64_t length = n, previous = 0;
    for (int64_t i = 0; i < count; i++) {
        if (starts[i] < previous || ends[i] < starts[i] || ends[i] > n || from[i] < 0 ||
            to[i] < from[i] || to[i] > size)
            return -1;
        length += (to[i] - from[i]) - (ends[i] - starts[i]);
        previous = ends[i];
    }
    if (length > capacity) return -1;
    int64_t at = 0;
    previous = 0;
    for (int64_t i = 0; i < count; i++) {
        memcpy(out + at, buffer + previous, (size_t)(starts[i] - previous));
        at += starts[i] - previous;
        memcpy(out + at, replacements + from[i], (size_t)(to[i] - from[i]));
        at += to[i] - from[i];
        previous = ends[i];
    }
    memcpy(out + at, buffer + previous, (size_t)(n - previous));
    return at + n - previous;
}

/* Byte spans of the runs of non-ASCII bytes, in arrays of `capacity` entries (n / 2 + 1 always
 * suffice); returns how many, or -1 when there are more. */
int64_t rk_high_runs(const uint8_t *buffer, int64_t n, int64_t *starts, int64_t *ends,
                     int64_t capacity) {
    int64_t count = 0;
    int64_t i = 0;
    while (i < n) {
        while (i + 8 <= n) {  /* skip ASCII eight bytes at a time */
            uint64_t word;
            memcpy(&word, buffer + i, 8);
            if (word & 0x8080808080808080ULL) break;
            i += 8;
        }
        while (i < n && buffer[i] < 0x80) i++;
        if (i >= n) break;
        if (count >= capacity) return -1;
        starts[count] = i;
        while (i < n && buffer[i] >= 0x80) i++;
        ends[count++] = i;
    }
    return count;
}

/* Each run's bytes as a little-endian integer when it has at most 8 (non-ASCII bytes are never
 * zero, so the packing tells runs apart), 0 when it is longer; -1 when out holds fewer than
 * `count` entries or a run lies outside the buffer's n bytes. */
int64_t rk_pack_runs(const uint8_t *buffer, int64_t n, const int64_t *starts,
                     const int64_t *ends, int64_t count, uint64_t *out, int64_t capacity) {
    if (count > capacity) return -1;
    for (int64_t i = 0; i < count; i++)
        if (starts[i] < 0 || ends[i] < starts[i] || ends[i] > n) return -1;
    for (int64_t i = 0; i < count; i++) {
        int64_t length = ends[i] - starts[i];
        uint64_t packed = 0;
        if (length <= 8)
            for (int64_t at = length - 1; at >= 0; at--) packed = (packed << 8) | buffer[starts[i] + at];
        out[i] = packed;
    }
    return 0;
}

#define SIPROUND                                                        \
    do {                                                                \
        v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);       \
        v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                          \
        v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                          \
        v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);       \
    } while (0)

static inline uint64_t siphash13(uint64_t k0, uint64_t k1, uint64_t m) {
    uint64_t v0 = k0 ^ 0x736F6D6570736575ULL;
    uint64_t v1 = k1 ^ 0x646F72616E646F6DULL;
    uint64_t v2 = k0 ^ 0x6C7967656E657261ULL;
    uint64_t v3 = k1 ^ 0x7465646279746573ULL ^ m;
    const uint64_t final = 8ULL << 56;
    SIPROUND;
    v0 ^= m;
    v3 ^= final;
    SIPROUND;
    v0 ^= final;
    v2 ^= 0xFF;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* SipHash-1-3 of each 8-byte value; -1 when out holds fewer than n. */
VECTORISED int64_t rk_siphash13(uint64_t k0, uint64_t k1, const uint64_t *values, int64_t n,
                                uint64_t *out, int64_t capacity) {
    if (n > capacity) return -1;
    for (int64_t i = 0; i < n; i++) out[i] = siphash13(k0, k1, values[i]);
    return 0;
}

/* The tokens of a gram combined (before mixing): each rotated by 13 bits per position. */
static inline uint64_t gram_xor(const uint64_t *tokens, int64_t words) {
    uint64_t value = tokens[0];
    for (int64_t offset = 1; offset < words; offset++)
        value ^= rotl(tokens[offset], (unsigned)(13 * offset));
    return value;
}

/* The keyed fingerprint (SipHash of the gram hash, masked) of the runs of `words` of the n
 * tokens that start at `positions` (a scan's every gram is fingerprinted inside rk_probe); -1
 * when out holds fewer than `count` or a run does not lie inside the tokens. */
VECTORISED int64_t rk_gram_fingerprints(const uint64_t *tokens, int64_t n, int64_t words,
                                        const int64_t *positions, int64_t count, uint64_t k0,
                                        uint64_t k1, uint64_t mask, uint64_t *out,
                                        int64_t capacity) {
    if (count > capacity || words < 1) return -1;
    for (int64_t i = 0; i < count; i++)
        if (positions[i] < 0 || positions[i] > n - words) return -1;
    for (int64_t i = 0; i < count; i++) out[i] = gram_xor(tokens + positions[i], words);
    for (int64_t i = 0; i < count; i++)  /* apart, so that it vectorises */
        out[i] = siphash13(k0, k1, mix64(out[i] + (uint64_t)words)) & mask;
    return 0;
}

/* The little-endian value of `width` (1 to 8) bytes, on a machine of either byte order. */
static inline uint64_t load_width(const uint8_t *p, int64_t width) {
    uint64_t value = 0;
    for (int64_t k = 0; k < width; k++) value |= (uint64_t)p[k] << (8 * k);
    return value;
}

/* For each query, the range [lo, hi) of the n sorted values equal to it, the values stored in
 * `width` little-endian bytes each (rows of an index file, read where they lie).
 * `directory[b]` (buckets + 1 entries) is the first row whose value has top bits
 * (value >> shift) of at least b, so only a short stretch is searched: one or two cache
 * misses per query instead of one per halving. Values of one bucket share their bits from
 * `shift` up, so only the bits below it are compared: rows may hold just those. */
int64_t rk_packed_ranges(const uint8_t *rows, int64_t n, int64_t width,
                         const int64_t *directory, int64_t buckets, int64_t shift,
                         const uint64_t *queries, int64_t m, int64_t *lo, int64_t *hi,
                         int64_t capacity) {
    if (m > capacity || width < 1 || width > 8 || buckets < 1 || shift < 0 || shift > 64 ||
        directory[0] < 0 || directory[buckets] > n)
        return -1;
    const uint64_t low_bits = shift == 64 ? ~0ULL : (1ULL << shift) - 1;
    for (int64_t i = 0; i < m; i++) {
        uint64_t bucket = shift == 64 ? 0 : queries[i] >> shift;
        uint64_t query = queries[i] & low_bits;
        if (bucket >= (uint64_t)buckets) {
            lo[i] = hi[i] = directory[buckets];
            continue;
        }
        int64_t low = directory[bucket], high = directory[bucket + 1];
        while (low < high) { /* first value >= query */
            int64_t middle = low + (high - low) / 2;
            if ((load_width(rows + middle * width, width) & low_bits) < query) low = middle + 1;
            else high = middle;
        }
        int64_t end = low;
        while (end < directory[bucket + 1] &&
               (load_width(rows + end * width, width) & low_bits) == query)
            end++;
        lo[i] = low;
        hi[i] = end;
    }
    return 0;
}

#define PROBE_BLOCK 2048
#define PREFETCH 16  /* probes ahead */

/* Bit `bucket` of a little-endian bitmap. */
static inline int64_t bitmap_bit(const uint8_t *bitmap, uint64_t bucket) {
    return (bitmap[bucket >> 3] >> (bucket & 7)) & 1;
}

/* What a scan computes for each token, a block of tokens at a time so that a block's values
 * stay in cache from step to step: every token's PRF (the check bits and sensitive values are
 * read from it) in prf; the grams of `words` tokens whose fingerprint (as rk_gram_fingerprints
 * computes it, shifted right by fp_shift bits) has its bit set in gram_bitmap, by position (gram_at) with their fingerprints
 * (gram_fp); and the tokens whose PRF's top 32 bits have their bit set in first_bitmap (none
 * when it is NULL) in first_at. found gets how many grams and tokens. The bitmaps have 2**bits
 * bits; the four arrays hold `capacity` entries: -1 when that is less than n, or a bitmap is
 * smaller than its bits say (`*_bytes`). */
VECTORISED int64_t rk_probe(const uint64_t *hashes, int64_t n, int64_t words, uint64_t gram_k0,
                            uint64_t gram_k1, uint64_t fp_shift, const uint8_t *gram_bitmap,
                            int64_t gram_bits, int64_t gram_bytes, uint64_t token_k0,
                            uint64_t token_k1, const uint8_t *first_bitmap, int64_t first_bits,
                            int64_t first_bytes, uint64_t *prf, int64_t *gram_at,
                            uint64_t *gram_fp, int64_t *first_at, int64_t capacity,
                            int64_t *found) {
    if (n > capacity || words < 1 || gram_bits < 3 || gram_bits > 62 || fp_shift > 63 ||
        ((int64_t)1 << (gram_bits - 3)) > gram_bytes)
        return -1;
    if (first_bitmap != NULL &&
        (first_bits < 3 || first_bits > 62 || ((int64_t)1 << (first_bits - 3)) > first_bytes))
        return -1;
    uint64_t fp[PROBE_BLOCK];
    const uint64_t gram_mask = (1ULL << gram_bits) - 1, first_mask = (1ULL << first_bits) - 1;
    int64_t grams = n - words + 1, found_grams = 0, found_first = 0;
    for (int64_t block = 0; block < n; block += PROBE_BLOCK) {
        int64_t size = n - block < PROBE_BLOCK ? n - block : PROBE_BLOCK;
        const uint64_t *in = hashes + block;
        uint64_t *out = prf + block;
        for (int64_t i = 0; i < size; i++) out[i] = siphash13(token_k0, token_k1, in[i]);
        if (first_bitmap != NULL)
            for (int64_t i = 0; i < size; i++) {
                if (i + PREFETCH < size)  /* a large index's bitmap is not in cache */
                    __builtin_prefetch(first_bitmap +
                                       (((out[i + PREFETCH] >> 32) & first_mask) >> 3));
                first_at[found_first] = block + i;
                found_first += bitmap_bit(first_bitmap, (out[i] >> 32) & first_mask);
            }
        int64_t gram_size = grams - block < size ? grams - block : size;
        for (int64_t i = 0; i < gram_size; i++) fp[i] = in[i];
        for (int64_t offset = 1; offset < words; offset++) {
            unsigned bits = (unsigned)(13 * offset) & 63;
            for (int64_t i = 0; i < gram_size; i++) fp[i] ^= rotl(in[i + offset], bits);
        }
        for (int64_t i = 0; i < gram_size; i++)
            fp[i] = siphash13(gram_k0, gram_k1, mix64(fp[i] + (uint64_t)words)) >> fp_shift;
        for (int64_t i = 0; i < gram_size; i++) {
            if (i + PREFETCH < gram_size)
                __builtin_prefetch(gram_bitmap + ((fp[i + PREFETCH] & gram_mask) >> 3));
            gram_at[found_grams] = block + i;
            gram_fp[found_grams] = fp[i];
            found_grams += bitmap_bit(gram_bitmap, fp[i] & gram_mask);
        }
    }
    found[0] = found_grams;
    found[1] = found_first;
    return 0;
}

#define RADIX_BITS 11
#define RADIX_BUCKETS (1 << RADIX_BITS)

/* The stable order that sorts n keys of at most `bits` bits: a least-significant-digit radix
 * sort, 11 bits a pass (np.argsort of millions of 64-bit values is a comparison sort). keys and
 * order hold the values and 0..n-1 on entry and the sorted values and their order on return;
 * spare_keys and spare_order are scratch of n entries; all four hold `capacity` (-1 when that
 * is less than n, or bits is not 1 to 64). */
int64_t rk_radix_order(uint64_t *keys, int64_t *order, uint64_t *spare_keys,
                       int64_t *spare_order, int64_t n, int64_t capacity, int64_t bits) {
    if (n > capacity || bits < 1 || bits > 64) return -1;
    uint64_t *from_keys = keys, *to_keys = spare_keys;
    int64_t *from_order = order, *to_order = spare_order;
    for (int64_t shift = 0; shift < bits; shift += RADIX_BITS) {
        int64_t start[RADIX_BUCKETS] = {0};
        for (int64_t i = 0; i < n; i++) start[(from_keys[i] >> shift) & (RADIX_BUCKETS - 1)]++;
        int64_t total = 0;
        for (int64_t digit = 0; digit < RADIX_BUCKETS; digit++) {
            int64_t count = start[digit];
            start[digit] = total;
            total += count;
        }
        for (int64_t i = 0; i < n; i++) {
            int64_t at = start[(from_keys[i] >> shift) & (RADIX_BUCKETS - 1)]++;
            to_keys[at] = from_keys[i];
            to_order[at] = from_order[i];
        }
        uint64_t *keys_swap = from_keys;
        from_keys = to_keys;
        to_keys = keys_swap;
        int64_t *order_swap = from_order;
        from_order = to_order;
        to_order = order_swap;
    }
    if (from_keys != keys) {  /* an odd number of passes left the result in the spare arrays */
        memcpy(keys, from_keys, (size_t)n * sizeof *keys);
        memcpy(order, from_order, (size_t)n * sizeof *order);
    }
    return 0;
}

/* Sets the bit of each value's low `bits` bits in a bitmap of `size` bytes (little-endian bit
 * order); -1 when the bitmap is smaller than 2**bits bits. */
int64_t rk_bitmap_fill(uint8_t *bitmap, int64_t size, int64_t bits, const uint64_t *values,
                       int64_t n) {
    if (bits < 3 || bits > 62 || ((int64_t)1 << (bits - 3)) > size) return -1;
    const uint64_t mask = (1ULL << bits) - 1;
    for (int64_t i = 0; i < n; i++) {
        uint64_t bucket = values[i] & mask;
        bitmap[bucket >> 3] |= (uint8_t)(1u << (bucket & 7));
    }
    return 0;
}
