/*
 * MD5 (RFC 1321) for upload bodies: a scalar kernel and a multi-buffer AVX2 kernel that runs 8 independent
 * messages in the 8 32-bit lanes of __m256i registers, plus CRC-64/XZ of the same bytes in the same pass.
 *
 * Why: the local OSS server must MD5 every byte it receives (part/object ETags). One MD5 stream is a serial
 * dependency chain (~5-6 cycles per step, ~680 MiB/s on one core here), so hashing 8 parallel uploads one by
 * one costs more CPU than the raw loopback transfer itself. Distinct uploads are independent messages, so 8 of
 * them advance together in one AVX2 register set for about the cost of one (the chain is the same length, the
 * lanes are free). Debian has no isa-l_crypto package (which ships md5_mb), hence this file.
 *
 * Compiled without -march: the SIMD kernels carry __attribute__((target(...))) and are only called when
 * __builtin_cpu_supports() says so (AVX-512VL first: the same 8 lanes with one-instruction step functions and
 * rotates); the scalar kernel serves every other CPU and single-lane leftovers.
 */
#include "md5_mb.h"
#include "crc64_fast.h"
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define LANES 8

/* The 64 step constants of RFC 1321 §3.4, listed once: K for the scalar kernel, KB broadcast to 8 lanes so the SIMD
 * kernels add them straight from memory (building each constant in a register cost 3 uops a step). */
#define MD5_K(X) \
  X(0xd76aa478) X(0xe8c7b756) X(0x242070db) X(0xc1bdceee) X(0xf57c0faf) X(0x4787c62a) X(0xa8304613) X(0xfd469501) \
  X(0x698098d8) X(0x8b44f7af) X(0xffff5bb1) X(0x895cd7be) X(0x6b901122) X(0xfd987193) X(0xa679438e) X(0x49b40821) \
  X(0xf61e2562) X(0xc040b340) X(0x265e5a51) X(0xe9b6c7aa) X(0xd62f105d) X(0x02441453) X(0xd8a1e681) X(0xe7d3fbc8) \
  X(0x21e1cde6) X(0xc33707d6) X(0xf4d50d87) X(0x455a14ed) X(0xa9e3e905) X(0xfcefa3f8) X(0x676f02d9) X(0x8d2a4c8a) \
  X(0xfffa3942) X(0x8771f681) X(0x6d9d6122) X(0xfde5380c) X(0xa4beea44) X(0x4bdecfa9) X(0xf6bb4b60) X(0xbebfbc70) \
  X(0x289b7ec6) X(0xeaa127fa) X(0xd4ef3085) X(0x04881d05) X(0xd9d4d039) X(0xe6db99e5) X(0x1fa27cf8) X(0xc4ac5665) \
  X(0xf4292244) X(0x432aff97) X(0xab9423a7) X(0xfc93a039) X(0x655b59c3) X(0x8f0ccc92) X(0xffeff47d) X(0x85845dd1) \
  X(0x6fa87e4f) X(0xfe2ce6e0) X(0xa3014314) X(0x4e0811a1) X(0xf7537e82) X(0xbd3af235) X(0x2ad7d2bb) X(0xeb86d391)
#define K1(v) v,
#define K8(v) {v, v, v, v, v, v, v, v},
static const uint32_t K[64] = {MD5_K(K1)};
static const uint32_t KB[64][LANES] __attribute__((aligned(32))) = {MD5_K(K8)};

static uint32_t load_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t rotl32(uint32_t x, int s) { return (x << s) | (x >> (32 - s)); }

/*
 * The 64 steps of one block (RFC 1321 §3.4) for step macros F/G/H/I(a, b, c, d, i, g, s): step i uses message
 * word g and rotation s. Shared by the scalar and the AVX2 kernel (state in variables a, b, c, d).
 */
#define MD5_64_STEPS(F, G, H, I)                                      \
  do {                                                                \
    for (int i = 0; i < 16; i += 4) {                                 \
      F(a, b, c, d, i, i, 7);                                         \
      F(d, a, b, c, i + 1, i + 1, 12);                                \
      F(c, d, a, b, i + 2, i + 2, 17);                                \
      F(b, c, d, a, i + 3, i + 3, 22);                                \
    }                                                                 \
    for (int i = 16; i < 32; i += 4) {                                \
      G(a, b, c, d, i, (5 * i + 1) & 15, 5);                          \
      G(d, a, b, c, i + 1, (5 * (i + 1) + 1) & 15, 9);                \
      G(c, d, a, b, i + 2, (5 * (i + 2) + 1) & 15, 14);               \
      G(b, c, d, a, i + 3, (5 * (i + 3) + 1) & 15, 20);               \
    }                                                                 \
    for (int i = 32; i < 48; i += 4) {                                \
      H(a, b, c, d, i, (3 * i + 5) & 15, 4);                          \
      H(d, a, b, c, i + 1, (3 * (i + 1) + 5) & 15, 11);               \
      H(c, d, a, b, i + 2, (3 * (i + 2) + 5) & 15, 16);               \
      H(b, c, d, a, i + 3, (3 * (i + 3) + 5) & 15, 23);               \
    }                                                                 \
    for (int i = 48; i < 64; i += 4) {                                \
      I(a, b, c, d, i, (7 * i) & 15, 6);                              \
      I(d, a, b, c, i + 1, (7 * (i + 1)) & 15, 10);                   \
      I(c, d, a, b, i + 2, (7 * (i + 2)) & 15, 15);                   \
      I(b, c, d, a, i + 3, (7 * (i + 3)) & 15, 21);                   \
    }                                                                 \
  } while (0)

/* ---------- scalar kernel ---------- */

#define SF(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define SH(x, y, z) ((x) ^ (y) ^ (z))
#define SI(x, y, z) ((y) ^ ((x) | ~(z)))
#define SSTEP(f, a, b, c, d, i, g, s) (a) = (b) + rotl32((a) + w[g] + K[i] + f((b), (c), (d)), (s))
#define S_F(...) SSTEP(SF, __VA_ARGS__)
/* G as the sum of two disjoint masks: the half without b (the late input) is added off the critical path. */
#define S_G(a, b, c, d, i, g, s) (a) = (b) + rotl32((a) + w[g] + K[i] + ((c) & ~(d)) + ((b) & (d)), (s))
#define S_H(...) SSTEP(SH, __VA_ARGS__)
#define S_I(...) SSTEP(SI, __VA_ARGS__)

static void md5_blocks_scalar(uint32_t h[4], const uint8_t *p, size_t nblocks) {
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
  for (; nblocks; nblocks--, p += 64) {
    uint32_t w[16];
    for (int i = 0; i < 16; i++) w[i] = load_le32(p + 4 * i);
    const uint32_t a0 = a, b0 = b, c0 = c, d0 = d;
    MD5_64_STEPS(S_F, S_G, S_H, S_I);
    a += a0;
    b += b0;
    c += c0;
    d += d0;
  }
  h[0] = a;
  h[1] = b;
  h[2] = c;
  h[3] = d;
}

/* ---------- SIMD kernels: 8 messages, one per 32-bit lane of a __m256i ---------- */

#if defined(__x86_64__)
#define AVX2_FN __attribute__((target("avx2")))
#define AVX512_FN __attribute__((target("avx2,avx512f,avx512vl")))

/*
 * AVX2 step functions, arranged so that `b` (the previous step's result, the only late input) enters last:
 * the critical path per step is and/or (2) + add (1) + rotate (2) + add (1). G is written as the sum of two
 * disjoint masks so that the half without `b` is added off the path.
 */
#define VADD(x, y) _mm256_add_epi32((x), (y))
#define KV(i) _mm256_load_si256((const __m256i *)KB[i])
#define VF(b, c, d) _mm256_xor_si256((d), _mm256_and_si256((b), _mm256_xor_si256((c), (d))))
#define VH(b, c, d) _mm256_xor_si256((b), _mm256_xor_si256((c), (d)))
#define VI(b, c, d) _mm256_xor_si256((c), _mm256_or_si256((b), _mm256_xor_si256((d), ones)))
#define VROTL(x, s) _mm256_or_si256(_mm256_slli_epi32((x), (s)), _mm256_srli_epi32((x), 32 - (s)))
/* a = b + rotl(a + w[g] + K[i] + f(b, c, d), s) */
#define VSTEP(f, a, b, c, d, i, g, s) \
  (a) = VADD((b), VROTL(VADD(VADD((a), VADD(w[g], KV(i))), f((b), (c), (d))), (s)))
/* G(b, c, d) = (b & d) + (c & ~d) */
#define VGSTEP(a, b, c, d, i, g, s)                                                                     \
  (a) = VADD((b), VROTL(VADD(VADD(VADD((a), VADD(w[g], KV(i))), _mm256_andnot_si256((d), (c))),           \
                              _mm256_and_si256((b), (d))),                                               \
                         (s)))
#define V_F(...) VSTEP(VF, __VA_ARGS__)
#define V_G(...) VGSTEP(__VA_ARGS__)
#define V_H(...) VSTEP(VH, __VA_ARGS__)
#define V_I(...) VSTEP(VI, __VA_ARGS__)

/*
 * AVX-512VL step functions on the same 8 lanes: each of F, G, H, I is one vpternlogd (truth tables over
 * (b, c, d): F 0xCA = b ? c : d, G 0xE4 = d ? b : c, H 0x96 = b ^ c ^ d, I 0x39 = c ^ (b | ~d)) and the rotate is
 * one vprold, so a step's critical path drops from 6 to 4 cycles. The whole kernel (loads, transposes, adds)
 * gains less: measured in cache, 8 lanes, 3.9-4.2 GB/s against AVX2's 3.5-3.8.
 */
#define ZROTL(x, s) _mm256_rol_epi32((x), (s))
#define ZSTEP(imm, a, b, c, d, i, g, s) \
  (a) = VADD((b), ZROTL(VADD(VADD((a), VADD(w[g], KV(i))), _mm256_ternarylogic_epi32((b), (c), (d), (imm))), (s)))
#define Z_F(...) ZSTEP(0xCA, __VA_ARGS__)
#define Z_G(...) ZSTEP(0xE4, __VA_ARGS__)
#define Z_H(...) ZSTEP(0x96, __VA_ARGS__)
#define Z_I(...) ZSTEP(0x39, __VA_ARGS__)

/*
 * Rows r[0..7] (lane l's 8 consecutive message words) -> columns out[0..7] (word j of all 8 lanes). AVX2 only, so
 * it inlines into both kernels (a callee whose target is a subset of the caller's).
 */
AVX2_FN static inline void transpose8(const __m256i r[8], __m256i out[8]) {
  __m256i t[8], u[8];
  for (int i = 0; i < 4; i++) {
    t[2 * i] = _mm256_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 2; i++) {
    u[4 * i + 0] = _mm256_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  for (int j = 0; j < 4; j++) {
    out[j] = _mm256_permute2x128_si256(u[j], u[4 + j], 0x20);
    out[j + 4] = _mm256_permute2x128_si256(u[j], u[4 + j], 0x31);
  }
}

/*
 * st[word][lane]: MD5 state of 8 messages; p[lane] advances nblocks * 64 bytes (lanes may share a pointer).
 * One body for both instruction sets: fn_attr selects the target, F/G/H/I the step macros.
 */
#define DEFINE_MD5_X8(name, fn_attr, F, G, H, I)                                                        \
  fn_attr static void name(uint32_t st[4][LANES], const uint8_t *const p[LANES], size_t nblocks) {     \
    __m256i a = _mm256_loadu_si256((const __m256i *)st[0]);                                              \
    __m256i b = _mm256_loadu_si256((const __m256i *)st[1]);                                              \
    __m256i c = _mm256_loadu_si256((const __m256i *)st[2]);                                              \
    __m256i d = _mm256_loadu_si256((const __m256i *)st[3]);                                              \
    const __m256i ones = _mm256_set1_epi32(-1);                                                          \
    (void)ones;                                                                                          \
    for (size_t blk = 0; blk < nblocks; blk++) {                                                         \
      __m256i lo[LANES], hi[LANES], w[16];                                                               \
      for (int l = 0; l < LANES; l++) {                                                                  \
        const uint8_t *q = p[l] + blk * 64;                                                              \
        lo[l] = _mm256_loadu_si256((const __m256i *)q);                                                  \
        hi[l] = _mm256_loadu_si256((const __m256i *)(q + 32));                                           \
      }                                                                                                  \
      transpose8(lo, w);                                                                                 \
      transpose8(hi, w + 8);                                                                             \
      const __m256i a0 = a, b0 = b, c0 = c, d0 = d;                                                      \
      MD5_64_STEPS(F, G, H, I);                                                                          \
      a = VADD(a, a0);                                                                                   \
      b = VADD(b, b0);                                                                                   \
      c = VADD(c, c0);                                                                                   \
      d = VADD(d, d0);                                                                                   \
    }                                                                                                    \
    _mm256_storeu_si256((__m256i *)st[0], a);                                                            \
    _mm256_storeu_si256((__m256i *)st[1], b);                                                            \
    _mm256_storeu_si256((__m256i *)st[2], c);                                                            \
    _mm256_storeu_si256((__m256i *)st[3], d);                                                            \
  }

DEFINE_MD5_X8(md5_blocks_x8_avx2, AVX2_FN, V_F, V_G, V_H, V_I)
DEFINE_MD5_X8(md5_blocks_x8_avx512, AVX512_FN, Z_F, Z_G, Z_H, Z_I)
#endif

int ossferry_md5_avx2_available(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") ? 1 : 0;
#else
  return 0;
#endif
}

int ossferry_md5_avx512_available(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") ? 1 : 0;
#else
  return 0;
#endif
}

const char *ossferry_md5_kernel(void) {
  return ossferry_md5_avx512_available() ? "avx512-x8" : ossferry_md5_avx2_available() ? "avx2-x8" : "scalar";
}

/* ---------- contexts ---------- */

void ossferry_body_hash_init(ossferry_body_hash *c) {
  memset(c, 0, sizeof *c);
  c->magic = OSSFERRY_BODY_HASH_MAGIC;
  c->h[0] = 0x67452301;
  c->h[1] = 0xefcdab89;
  c->h[2] = 0x98badcfe;
  c->h[3] = 0x10325476;
}

void ossferry_body_hash_md5(const ossferry_body_hash *c, uint8_t out[16]) {
  uint32_t h[4] = {c->h[0], c->h[1], c->h[2], c->h[3]};
  uint8_t tail[128] = {0};
  memcpy(tail, c->block, c->buffered);
  tail[c->buffered] = 0x80;
  size_t n = c->buffered < 56 ? 64 : 128;
  uint64_t bits = c->total * 8;
  for (int i = 0; i < 8; i++) tail[n - 8 + i] = (uint8_t)(bits >> (8 * i));
  md5_blocks_scalar(h, tail, n / 64);
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) out[4 * i + j] = (uint8_t)(h[i] >> (8 * j));
}

/* ---------- batches ---------- */

/* A lane works through one context's chain of items; `blocks` whole blocks at `p` are still to be hashed. */
typedef struct {
  ossferry_body_hash *ctx;
  size_t item;      /* current item index, SIZE_MAX when idle */
  const uint8_t *p; /* next whole block of the current item */
  size_t blocks;
  size_t tail;      /* bytes after the whole blocks, buffered when the item ends */
} lane_t;

/*
 * Starts item i on its context: CRC of all of it (one pass while it is in cache), then the bytes that complete a
 * partial block (scalar, at most one block). Returns the number of whole blocks left for a lane (0: the item is
 * done, its rest buffered).
 */
static size_t begin_item(const ossferry_hash_item *it, lane_t *ln) {
  ossferry_body_hash *c = it->ctx;
  const uint8_t *p = it->data;
  size_t len = it->len;
  c->crc = ossferry_crc64(c->crc, p, len);
  c->total += len;
  if (c->buffered) {
    size_t k = 64 - c->buffered;
    if (k > len) k = len;
    memcpy(c->block + c->buffered, p, k);
    c->buffered += (uint32_t)k;
    p += k;
    len -= k;
    if (c->buffered < 64) return 0; /* all of the item went into the partial block */
    md5_blocks_scalar(c->h, c->block, 1);
    c->buffered = 0;
  }
  ln->p = p;
  ln->blocks = len / 64;
  ln->tail = len % 64;
  if (ln->blocks == 0) {
    memcpy(c->block, p, ln->tail);
    c->buffered = (uint32_t)ln->tail;
  }
  return ln->blocks;
}

/* Moves `ln` to the next item of its chain that has whole blocks (finishing smaller ones on the way). */
static void next_in_chain(const ossferry_hash_item *items, const size_t *next, lane_t *ln, size_t i) {
  for (; i != SIZE_MAX; i = next[i]) {
    if (begin_item(&items[i], ln)) {
      ln->item = i;
      ln->ctx = items[i].ctx;
      return;
    }
  }
  ln->item = SIZE_MAX;
  ln->ctx = NULL;
}

/* The current item's blocks are done (state already in ctx->h): buffer its tail, go on along the chain. */
static void end_item(const ossferry_hash_item *items, const size_t *next, lane_t *ln) {
  ossferry_body_hash *c = ln->ctx;
  memcpy(c->block, ln->p, ln->tail);
  c->buffered = (uint32_t)ln->tail;
  next_in_chain(items, next, ln, next[ln->item]);
}

typedef void (*x8_kernel)(uint32_t st[4][LANES], const uint8_t *const p[LANES], size_t nblocks);

int ossferry_body_hash_batch(ossferry_hash_item *items, size_t n, int mode) {
  if (n == 0) return 0;
  /* Chains: next[i] is the next item of the same context; heads in order of first appearance. */
  size_t *next = malloc(2 * n * sizeof *next);
  if (!next) return -1;
  size_t *heads = next + n;
  size_t nheads = 0;
  for (size_t i = 0; i < n; i++) {
    next[i] = SIZE_MAX;
    size_t j = i;
    while (j-- > 0)
      if (items[j].ctx == items[i].ctx) break;
    if (j == SIZE_MAX) heads[nheads++] = i;
    else next[j] = i;
  }
  /* Linear search back above is O(n * distance): batches are tens to hundreds of items. */
  /* The 8-lane kernel for this mode, NULL for scalar (AUTO: the best this CPU runs). */
  x8_kernel simd = NULL;
#if defined(__x86_64__)
  if (mode == OSSFERRY_MD5_AVX512 || (mode == OSSFERRY_MD5_AUTO && ossferry_md5_avx512_available())) simd = md5_blocks_x8_avx512;
  else if (mode == OSSFERRY_MD5_AVX2 || (mode == OSSFERRY_MD5_AUTO && ossferry_md5_avx2_available())) simd = md5_blocks_x8_avx2;
#endif
  const int nlanes = simd ? LANES : 1;
  lane_t lanes[LANES];
  for (int l = 0; l < LANES; l++) lanes[l].item = SIZE_MAX, lanes[l].ctx = NULL;
  size_t head = 0;
  for (;;) {
    int active = 0;
    for (int l = 0; l < nlanes; l++) {
      while (lanes[l].item == SIZE_MAX && head < nheads) next_in_chain(items, next, &lanes[l], heads[head++]);
      if (lanes[l].item != SIZE_MAX) active++;
    }
    if (active == 0) break;
#if defined(__x86_64__)
    if (simd && active >= 2) {
      /* Lockstep over the shortest current item; idle lanes re-read an active lane's blocks (result ignored). */
      uint32_t st[4][LANES];
      const uint8_t *ptr[LANES];
      size_t nb = SIZE_MAX;
      const uint8_t *any = NULL;
      for (int l = 0; l < LANES; l++)
        if (lanes[l].item != SIZE_MAX) {
          if (lanes[l].blocks < nb) nb = lanes[l].blocks, any = lanes[l].p;
        }
      for (int l = 0; l < LANES; l++) {
        const int on = lanes[l].item != SIZE_MAX;
        ptr[l] = on ? lanes[l].p : any;
        for (int w = 0; w < 4; w++) st[w][l] = on ? lanes[l].ctx->h[w] : 0;
      }
      simd(st, ptr, nb);
      for (int l = 0; l < LANES; l++) {
        if (lanes[l].item == SIZE_MAX) continue;
        for (int w = 0; w < 4; w++) lanes[l].ctx->h[w] = st[w][l];
        lanes[l].p += nb * 64;
        lanes[l].blocks -= nb;
        if (lanes[l].blocks == 0) end_item(items, next, &lanes[l]);
      }
      continue;
    }
#endif
    for (int l = 0; l < nlanes; l++) {
      if (lanes[l].item == SIZE_MAX) continue;
      md5_blocks_scalar(lanes[l].ctx->h, lanes[l].p, lanes[l].blocks);
      lanes[l].p += lanes[l].blocks * 64;
      lanes[l].blocks = 0;
      end_item(items, next, &lanes[l]);
    }
  }
  free(next);
  return 0;
}
