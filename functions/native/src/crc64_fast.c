/*
 * CRC-64/XZ fast path for CPUs with VPCLMULQDQ + AVX2 but no AVX-512 (Zen 3/4 VMs without AVX-512 exposed,
 * Alder Lake+). Debian bookworm's ISA-L 2.30 has no such kernel: it uses its SSE by8 kernel there
 * (~11 GB/s, below memcpy), and only uses VPCLMULQDQ with AVX-512 (by16_10, ~31 GB/s),
 * as its multibinary dispatcher's variants show. Everything else (small buffers, tails, other CPUs) goes to
 * ISA-L crc64_ecma_refl, which dispatches at run time; this file is compiled without -march and selects
 * its kernel with __builtin_cpu_supports.
 *
 * Math (reflected domain; a 64-bit value's bit j is the coefficient of x^(63-j), bit 63 = x^0, the same
 * representation as the combine code below). A 16-byte block loaded little-endian is a 128-bit value R
 * whose bit j is the coefficient of x^(127-j): its low qword is the high-degree half Rhi, its high qword Rlo.
 * Folding R forward over D message bits: R*x^D = Rhi*x^(64+D) + Rlo*x^D ≡ Rhi*(x^(D+64) mod P) + Rlo*(x^D mod P).
 * A carry-less multiply of two reflected 64-bit values yields their product times x in the 128-bit
 * reflected layout, so the constants are x^(D+63) mod P (low qword) and x^(D-1) mod P (high qword), used
 * with selectors 0x00 and 0x11. The folded 128 bits R ≡ message (mod P) at the same alignment, so the raw
 * CRC of the message equals the raw CRC of R's 16 bytes, which ISA-L finishes.
 */
#include "crc64_fast.h"
#include <isa-l.h>
#include <string.h>
#include <pthread.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* ---------- GF(2) arithmetic mod P (zlib >= 1.2.12 multmodp/x2nmodp, widened to 64 bits) ---------- */

#define POLY UINT64_C(0xC96C5795D7870F42)
#define TOPBIT (UINT64_C(1) << 63)

static uint64_t multmodp(uint64_t a, uint64_t b) {
  uint64_t m = TOPBIT, p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) == 0) break;
    }
    m >>= 1;
    b = (b & 1) ? (b >> 1) ^ POLY : b >> 1;
  }
  return p;
}

/* x2n_table[k] = x^(2^k) mod P, k = 0..66: byte lengths < 2^64 are < 2^67 bits, so no wrap-around needed
 * (zlib's CRC-32 version wraps k at 32; that periodicity is not assumed here). */
#define X2N_SIZE 67
static uint64_t x2n_table[X2N_SIZE];

/* x^(n * 2^k) mod P */
static uint64_t x2nmodp(uint64_t n, int k) {
  uint64_t p = TOPBIT;
  while (n) {
    if (n & 1) p = multmodp(x2n_table[k], p);
    n >>= 1;
    k++;
  }
  return p;
}

uint64_t ossferry_crc64_combine(uint64_t a, uint64_t b, uint64_t len_b) {
  if (len_b == 0) return a;
  return multmodp(x2nmodp(len_b, 3), a) ^ b;
}

/* ---------- VPCLMULQDQ/AVX2 folding kernel ---------- */

#define ACCS 8                 /* ymm accumulators = 16 lanes of 128 bits (4..12 measured alike) */
#define PREFETCH_AHEAD 4096
#define STRIDE (ACCS * 32)     /* bytes per loop iteration */
#define FAST_MIN (4 * STRIDE)  /* below this the setup/reduction does not pay; ISA-L does it */

static int use_vpclmul_avx2 = 0;
/* fold_k[i] = {x^(D+63) mod P, x^(D-1) mod P} for D = i * 128 bits, i = 1..16. */
static uint64_t fold_k[ACCS * 2 + 1][2];

static void fold_constants(uint64_t d_bits, uint64_t out[2]) {
  out[0] = x2nmodp(d_bits + 63, 0);
  out[1] = x2nmodp(d_bits - 1, 0);
}

#if defined(__x86_64__)
__attribute__((target("avx2,pclmul,vpclmulqdq")))
static uint64_t crc64_vpclmul_avx2(uint64_t prev, const uint8_t *buf, size_t len) {
  /* Caller guarantees len >= FAST_MIN. The initial register (~prev) is XORed into the first 8 bytes:
   * for a reflected CRC that is the same as starting the register with it. */
  const __m256i k_loop = _mm256_set_epi64x((long long)fold_k[ACCS * 2][1], (long long)fold_k[ACCS * 2][0],
                                           (long long)fold_k[ACCS * 2][1], (long long)fold_k[ACCS * 2][0]);
  __m256i acc[ACCS];
  for (int i = 0; i < ACCS; i++) acc[i] = _mm256_loadu_si256((const __m256i *)(buf + 32 * i));
  acc[0] = _mm256_xor_si256(acc[0], _mm256_set_epi64x(0, 0, 0, (long long)~prev));
  size_t off = STRIDE;
  for (; off + STRIDE <= len; off += STRIDE) {
    /* Software prefetch: cache-hot this loop runs ~22 GB/s; streaming 256 MiB from DRAM ~10.5 GB/s without
     * and ~15-17 with it, against a one-core read-only scan of ~18 (2-vCPU Zen 4 VM, bench/crc.ts).
     * The hardware prefetcher stops at 4 KiB page boundaries; prefetching past the end of buf never faults. */
    _mm_prefetch((const char *)(buf + off + PREFETCH_AHEAD), _MM_HINT_T0);
    _mm_prefetch((const char *)(buf + off + PREFETCH_AHEAD + 64), _MM_HINT_T0);
    _mm_prefetch((const char *)(buf + off + PREFETCH_AHEAD + 128), _MM_HINT_T0);
    _mm_prefetch((const char *)(buf + off + PREFETCH_AHEAD + 192), _MM_HINT_T0);
    for (int i = 0; i < ACCS; i++) {
      const __m256i lo = _mm256_clmulepi64_epi128(acc[i], k_loop, 0x00);
      const __m256i hi = _mm256_clmulepi64_epi128(acc[i], k_loop, 0x11);
      const __m256i d = _mm256_loadu_si256((const __m256i *)(buf + off + 32 * i));
      acc[i] = _mm256_xor_si256(_mm256_xor_si256(lo, hi), d);
    }
  }
  /* Reduce the 16 lanes (stream order: acc[0].lane0, acc[0].lane1, acc[1].lane0, ...) into the last one:
   * lane j still has (15 - j) * 128 bits after it. */
  __m128i r = _mm256_extracti128_si256(acc[ACCS - 1], 1);
  for (int j = 0; j < ACCS * 2 - 1; j++) {
    const __m128i lane = (j & 1) ? _mm256_extracti128_si256(acc[j >> 1], 1) : _mm256_castsi256_si128(acc[j >> 1]);
    const int dist = ACCS * 2 - 1 - j;
    const __m128i k = _mm_set_epi64x((long long)fold_k[dist][1], (long long)fold_k[dist][0]);
    r = _mm_xor_si128(r, _mm_xor_si128(_mm_clmulepi64_si128(lane, k, 0x00), _mm_clmulepi64_si128(lane, k, 0x11)));
  }
  uint8_t rb[16];
  _mm_storeu_si128((__m128i *)rb, r);
  /* crc64_ecma_refl(~0, R) runs R from a zero register, i.e. returns ~rawcrc(R); passing that on as `prev`
   * continues from register rawcrc(R) over the tail. */
  const uint64_t folded = crc64_ecma_refl(~UINT64_C(0), rb, 16);
  return crc64_ecma_refl(folded, buf + off, len - off);
}
#endif

static void init_once(void) {
  uint64_t p = TOPBIT >> 1; /* x^1 */
  for (int k = 0; k < X2N_SIZE; k++) {
    x2n_table[k] = p;
    p = multmodp(p, p);
  }
  for (int i = 1; i <= ACCS * 2; i++) fold_constants((uint64_t)i * 128, fold_k[i]);
#if defined(__x86_64__)
  __builtin_cpu_init();
  /* With AVX-512 + VPCLMULQDQ, ISA-L's by16_10 already runs at memory speed. */
  use_vpclmul_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("vpclmulqdq") &&
                     __builtin_cpu_supports("pclmul") && !__builtin_cpu_supports("avx512f");
#endif
}

/* Module init runs once per Node environment (main thread and each worker_thread): build the tables once. */
void ossferry_crc64_init(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, init_once);
}

uint64_t ossferry_crc64(uint64_t prev, const uint8_t *buf, size_t len) {
#if defined(__x86_64__)
  if (use_vpclmul_avx2 && len >= FAST_MIN) return crc64_vpclmul_avx2(prev, buf, len);
#endif
  return len ? crc64_ecma_refl(prev, buf, (uint64_t)len) : prev;
}

const char *ossferry_crc64_kernel(void) { return use_vpclmul_avx2 ? "vpclmul-avx2" : "isal"; }

/* Benchmark reference only: XOR of all 64-bit words, i.e. the read-only memory bandwidth one core gets —
 * the ceiling for any CRC kernel on the host (bench/crc.ts). */
#if defined(__x86_64__)
__attribute__((target("avx2"))) static uint64_t scan_avx2(const uint8_t *b, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 128 <= n; i += 128) {
    a0 = _mm256_xor_si256(a0, _mm256_loadu_si256((const __m256i *)(b + i)));
    a1 = _mm256_xor_si256(a1, _mm256_loadu_si256((const __m256i *)(b + i + 32)));
    a2 = _mm256_xor_si256(a2, _mm256_loadu_si256((const __m256i *)(b + i + 64)));
    a3 = _mm256_xor_si256(a3, _mm256_loadu_si256((const __m256i *)(b + i + 96)));
  }
  a0 = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
  uint64_t x = (uint64_t)_mm256_extract_epi64(a0, 0) ^ (uint64_t)_mm256_extract_epi64(a0, 1) ^
               (uint64_t)_mm256_extract_epi64(a0, 2) ^ (uint64_t)_mm256_extract_epi64(a0, 3);
  for (; i < n; i++) x ^= b[i];
  return x;
}
#endif

uint64_t ossferry_mem_scan(const uint8_t *b, size_t n) {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx2")) return scan_avx2(b, n);
#endif
  uint64_t x = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, b + i, 8);
    x ^= w;
  }
  for (; i < n; i++) x ^= b[i];
  return x;
}
