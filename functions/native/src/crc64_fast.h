/* CRC-64/XZ kernels and GF(2) helpers shared by the N-API glue (ossferry_native.c). */
#ifndef OSSFERRY_CRC64_FAST_H
#define OSSFERRY_CRC64_FAST_H
#include <stddef.h>
#include <stdint.h>

/* Must run once before anything else here (module init). */
void ossferry_crc64_init(void);
/* CRC-64/XZ, ISA-L calling convention: prev and result are finished CRCs, start with 0. */
uint64_t ossferry_crc64(uint64_t prev, const uint8_t *buf, size_t len);
/* Which kernel ossferry_crc64 uses for large buffers on this CPU: "vpclmul-avx2" or "isal". */
const char *ossferry_crc64_kernel(void);
/* crc(A||B) from crc(A), crc(B), len(B) in bytes (< 2^64). */
uint64_t ossferry_crc64_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b);
/* Benchmark reference: read-only pass over buf (XOR of its words). */
uint64_t ossferry_mem_scan(const uint8_t *buf, size_t len);
#endif
