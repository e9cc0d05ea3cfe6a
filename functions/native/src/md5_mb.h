/*
 * Upload body hash: MD5 (OSS ETags) and CRC-64/XZ (x-oss-hash-crc64ecma) of one byte stream, with a
 * multi-buffer MD5 that hashes up to 8 independent streams at once in the 32-bit lanes of AVX2 registers.
 * Used by the local OSS server (local/oss/hash-pool.ts) through the N-API glue in ossferry_native.c.
 */
#ifndef OSSFERRY_MD5_MB_H
#define OSSFERRY_MD5_MB_H
#include <stddef.h>
#include <stdint.h>

#define OSSFERRY_BODY_HASH_MAGIC 0x35444D4Fu /* "OMD5" */

/* Opaque to JS (a Buffer made by the addon); plain data, so it may be copied or dropped at any time. */
typedef struct {
  uint32_t magic;
  uint32_t buffered; /* bytes waiting in block[] (0..63) */
  uint32_t h[4];     /* MD5 chaining state */
  uint64_t total;    /* bytes fed so far */
  uint64_t crc;      /* CRC-64/XZ so far (finished form) */
  uint8_t block[64]; /* partial block */
  uint32_t busy;     /* set by the glue while a batch holds this context (main thread only) */
  uint32_t reserved;
} ossferry_body_hash;

typedef struct {
  ossferry_body_hash *ctx;
  const uint8_t *data;
  size_t len;
} ossferry_hash_item;

enum { OSSFERRY_MD5_AUTO = 0, OSSFERRY_MD5_SCALAR = 1, OSSFERRY_MD5_AVX2 = 2, OSSFERRY_MD5_AVX512 = 3 };

void ossferry_body_hash_init(ossferry_body_hash *c);
/* Feeds the items in order (items sharing a context are applied in array order, each context's items form one
 * stream). Distinct contexts share the 8 SIMD lanes. mode: OSSFERRY_MD5_*; a forced kernel must be available.
 * Returns 0, or -1 when out of memory (nothing was hashed then). */
int ossferry_body_hash_batch(ossferry_hash_item *items, size_t n, int mode);
/* MD5 of everything fed so far; the context is not modified (it can keep streaming). */
void ossferry_body_hash_md5(const ossferry_body_hash *c, uint8_t out[16]);
/* 1 when this CPU can run the 8-lane AVX2 kernel. */
int ossferry_md5_avx2_available(void);
/* 1 when this CPU can run the 8-lane AVX-512VL kernel (vpternlogd, vprold on 256-bit registers). */
int ossferry_md5_avx512_available(void);
/* "avx512-x8", "avx2-x8" or "scalar": what OSSFERRY_MD5_AUTO uses on this CPU. */
const char *ossferry_md5_kernel(void);
#endif
