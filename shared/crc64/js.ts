/**
 * Pure-JS CRC-64/XZ, used only when the native ISA-L addon is unavailable AND the operator opted into the
 * slow path (OSSFERRY_ALLOW_SLOW_CRC=1). Algorithm: slicing-by-8 with the 64-bit state in two int32 halves,
 * reading an aligned Int32Array word view — the fastest pure-JS variant measured (~1.4 GB/s
 * measured on Node 24). Never BigInt per byte/bit: that runs at 2–3 MB/s, like python crcmod without its
 * C extension.
 *
 * Also the JS twin of the native combine (zlib ≥ 1.2.12 multmodp/x2nmodp method, zlib crc32.c).
 */

/** Reflected CRC-64/XZ polynomial (0x42F0E1EBA9EA3693 bit-reversed). */
const POLY_HI = 0xc96c5795 | 0;
const POLY_LO = 0xd7870f42 | 0;

/** T[k*256 + b]: slicing tables, lo and hi halves. 2 × 8 KiB — fits L1 (slicing-by-16 measured slower: its tables spill). */
const TLO = new Int32Array(8 * 256);
const THI = new Int32Array(8 * 256);
(() => {
  for (let b = 0; b < 256; b++) {
    let lo = b;
    let hi = 0;
    for (let i = 0; i < 8; i++) {
      const bit = lo & 1;
      lo = (lo >>> 1) | (hi << 31);
      hi = hi >>> 1;
      if (bit) {
        lo ^= POLY_LO;
        hi ^= POLY_HI;
      }
    }
    TLO[b] = lo;
    THI[b] = hi;
  }
  for (let k = 1; k < 8; k++) {
    for (let b = 0; b < 256; b++) {
      const plo = TLO[(k - 1) * 256 + b]!;
      const phi = THI[(k - 1) * 256 + b]!;
      const idx = plo & 0xff;
      TLO[k * 256 + b] = ((plo >>> 8) | (phi << 24)) ^ TLO[idx]!;
      THI[k * 256 + b] = (phi >>> 8) ^ THI[idx]!;
    }
  }
})();

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const MASK32 = 0xffffffffn;
const MASK64 = 0xffffffffffffffffn;

/** The running (inverted) state as two int32 halves; module-level so the hot loops stay small, monomorphic
 * functions that V8 optimises on their own (one big function deopted on every call at its cold tail). */
const S = new Int32Array(2);

function bytewise(data: Uint8Array, from: number, to: number): void {
  let lo = S[0]!;
  let hi = S[1]!;
  for (let i = from; i < to; i++) {
    const idx = (lo ^ data[i]!) & 0xff;
    lo = ((lo >>> 8) | (hi << 24)) ^ TLO[idx]!;
    hi = (hi >>> 8) ^ THI[idx]!;
  }
  S[0] = lo;
  S[1] = hi;
}

function slicing8(w: Int32Array): void {
  let lo = S[0]!;
  let hi = S[1]!;
  const end = w.length;
  for (let j = 0; j < end; j += 2) {
    const a = lo ^ w[j]!;
    const b = hi ^ w[j + 1]!;
    // Table k handles the byte that still has k bytes to travel: the first (lowest) byte → table 7.
    const a7 = 1792 + (a & 0xff);
    const a6 = 1536 + ((a >>> 8) & 0xff);
    const a5 = 1280 + ((a >>> 16) & 0xff);
    const a4 = 1024 + (a >>> 24);
    const b3 = 768 + (b & 0xff);
    const b2 = 512 + ((b >>> 8) & 0xff);
    const b1 = 256 + ((b >>> 16) & 0xff);
    const b0 = b >>> 24;
    lo = TLO[a7]! ^ TLO[a6]! ^ TLO[a5]! ^ TLO[a4]! ^ TLO[b3]! ^ TLO[b2]! ^ TLO[b1]! ^ TLO[b0]!;
    hi = THI[a7]! ^ THI[a6]! ^ THI[a5]! ^ THI[a4]! ^ THI[b3]! ^ THI[b2]! ^ THI[b1]! ^ THI[b0]!;
  }
  S[0] = lo;
  S[1] = hi;
}

/**
 * CRC-64/XZ of `data`, continuing from the finished CRC `prev` (0n to start) — same calling convention as
 * ISA-L crc64_ecma_refl (it inverts internally, so it takes and returns finished CRCs). Arguments are assumed validated by the caller (index.ts).
 */
export function crc64Js(data: Uint8Array, prev: bigint = 0n): bigint {
  S[0] = ~Number(prev & MASK32);
  S[1] = ~Number((prev >> 32n) & MASK32);
  const n = data.length;
  // Bytewise head up to 4-byte alignment of the underlying buffer, so the Int32Array view is legal.
  const head = LITTLE_ENDIAN ? Math.min(n, (4 - (data.byteOffset & 3)) & 3) : n;
  bytewise(data, 0, head);
  const words = (n - head) >>> 3; // 8-byte steps
  if (words > 0) slicing8(new Int32Array(data.buffer, data.byteOffset + head, words * 2));
  bytewise(data, head + words * 8, n);
  return ((BigInt(~S[1]! >>> 0) << 32n) | BigInt(~S[0]! >>> 0)) & MASK64;
}

// Warm-up so the first real call (often the load-time probe) does not run in the interpreter.
{
  const warm = new Uint8Array(4096 + 3);
  for (let r = 0; r < 40; r++) crc64Js(warm.subarray(r & 3));
}

// ---- combine (JS twin of functions/native/src/ossferry_native.c) ----

const POLY = 0xc96c5795d7870f42n;
const TOP = 1n << 63n; // x^0 in the reflected representation

/** a·b mod P over GF(2), reflected representation (zlib multmodp, widened to 64 bits). */
function multmodp(a: bigint, b: bigint): bigint {
  let m = TOP;
  let p = 0n;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1n)) === 0n) break;
    }
    m >>= 1n;
    b = b & 1n ? (b >> 1n) ^ POLY : b >> 1n;
  }
  return p;
}

/**
 * X2N[k] = x^(2^k) mod P. 67 entries, no wrap-around: a byte length < 2^64 is < 2^67 bits, so k ≤ 66
 * (zlib's CRC-32 version wraps k at 32; that periodicity is not assumed here).
 */
const X2N: bigint[] = (() => {
  const t: bigint[] = [];
  let p = TOP >> 1n; // x^1
  for (let k = 0; k < 67; k++) {
    t.push(p);
    p = multmodp(p, p);
  }
  return t;
})();

/** x^(n·2^k) mod P. */
function x2nmodp(n: bigint, k: number): bigint {
  let p = TOP;
  while (n) {
    if (n & 1n) p = multmodp(X2N[k]!, p);
    n >>= 1n;
    k++;
  }
  return p;
}

/**
 * CRC of A‖B from crc(A), crc(B) and len(B) in bytes: (crcA · x^(8·lenB) mod P) ⊕ crcB. Exact for
 * CRC-64/XZ because init == xorout, so the affine terms cancel.
 */
export function crc64CombineJs(crcA: bigint, crcB: bigint, lengthB: bigint): bigint {
  if (lengthB === 0n) return crcA; // crc(A‖ε) = crc(A), and crc(ε) = 0
  return multmodp(x2nmodp(lengthB, 3), crcA) ^ crcB;
}
