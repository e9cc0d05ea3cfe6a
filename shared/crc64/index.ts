/**
 * CRC-64/XZ — the checksum OSS returns as x-oss-hash-crc64ecma (ECMA-182 polynomial, reflected, init and xorout all ones).
 * Values are bigint (docs/CONVENTIONS.md). Backed by the ISA-L addon; the pure-JS slicing-by-8 runs only when
 * OSSFERRY_ALLOW_SLOW_CRC=1 (see loader.ts). The backend loads on first use, so importing never throws.
 * Feed chunks of ≥ 64 KiB: per-call overhead is ~0.5 µs (measured), negligible at that size.
 */
import type { Logger } from '../log.ts';
import type { Crc64Backend } from './loader.ts';
import { backend, Crc64Error, SLOW_CRC_MBPS, ENV_ALLOW_SLOW } from './loader.ts';

export { Crc64Error, loadCrc64Backend, defaultNativePath, SLOW_CRC_MBPS, ENV_ALLOW_SLOW, ENV_NATIVE_PATH } from './loader.ts';
export type { Crc64Backend, LoadOptions } from './loader.ts';
export { crc64ToWire, crc64FromWire, crc64Wire } from './wire.ts';

const MAX64 = 0xffffffffffffffffn;

function checkCrc(name: string, v: unknown): bigint {
  if (typeof v !== 'bigint') throw new TypeError(`${name} must be a bigint CRC-64, got ${typeof v}`);
  if (v < 0n || v > MAX64) throw new RangeError(`${name} must be in [0, 2^64-1], got ${v}`);
  return v;
}

function checkData(data: unknown): Uint8Array {
  if (!(data instanceof Uint8Array)) {
    throw new TypeError(`data must be a Uint8Array or Buffer, got ${data === null ? 'null' : typeof data}`);
  }
  return data;
}

/** Normalises a byte length (number or bigint) to bigint; TypeError/RangeError naming `name`. */
export function checkLength(name: string, n: unknown): bigint {
  if (typeof n === 'number') {
    if (!Number.isInteger(n)) throw new RangeError(`${name} must be an integer byte count, got ${n}`);
    if (n < 0) throw new RangeError(`${name} must be >= 0, got ${n}`);
    if (!Number.isSafeInteger(n)) throw new RangeError(`${name} above 2^53 must be passed as a bigint, got ${n}`);
    return BigInt(n);
  }
  if (typeof n === 'bigint') {
    if (n < 0n || n > MAX64) throw new RangeError(`${name} must be in [0, 2^64-1], got ${n}`);
    return n;
  }
  throw new TypeError(`${name} must be a number or bigint byte count, got ${typeof n}`);
}

/** CRC-64/XZ of `data` continuing from `prev` (the finished CRC so far; 0n to start): `crc = crc64(chunk, crc)`. */
export function crc64(data: Uint8Array, prev: bigint = 0n): bigint {
  return backend().crc64(checkData(data), checkCrc('prev', prev));
}

/** CRC of A‖B from crc(A), crc(B) and len(B) in bytes (O(log len); lengths up to 2^64−1). */
export function crc64Combine(crcA: bigint, crcB: bigint, lengthB: number | bigint): bigint {
  return backend().crc64Combine(checkCrc('crcA', crcA), checkCrc('crcB', crcB), checkLength('lengthB', lengthB));
}

/** CRC of the concatenated parts from each part's CRC and size, in order (a multipart object's CRC). */
export function crc64CombineParts(parts: Iterable<{ crc64: bigint; size: number }>): bigint {
  let crc = 0n;
  for (const p of parts) crc = crc64Combine(crc, p.crc64, p.size);
  return crc;
}

/**
 * Which backend runs, its load-time probe (MB/s, 10^6 B/s), the CPU features that matter to ISA-L, and the
 * large-buffer kernel ('vpclmul-avx2' = ossferry's own VPCLMULQDQ/AVX2 fold, 'isal', or 'js-slicing8').
 */
export function crc64Info(): { implementation: 'isal' | 'js'; probeMBps: number; cpu: Record<string, boolean>; kernel: string } {
  const b = backend();
  return { implementation: b.implementation, probeMBps: b.probeMBps, cpu: { ...b.cpu }, kernel: b.kernel };
}

/**
 * Call once per job: a loud warn when the CRC runs on the JS fallback or the probe is slow, so a slow job's log
 * says why (a silently slow CRC fallback is otherwise invisible, as python crcmod users learned). Quiet (debug) otherwise.
 */
export function warnIfSlowCrc(logger: Logger): void {
  warnIfSlowBackend(backend(), logger);
}

/** warnIfSlowCrc for a given backend (tests inject a slow one). */
export function warnIfSlowBackend(b: Crc64Backend, logger: Logger): void {
  const fields = { implementation: b.implementation, kernel: b.kernel, probeMBps: b.probeMBps, cpu: b.cpu, thresholdMBps: SLOW_CRC_MBPS };
  if (b.implementation === 'js') {
    logger.warn(
      `SLOW CRC-64: pure-JS fallback in use (${ENV_ALLOW_SLOW}=1); expect ~1 GB/s per core and slower gzip. ` +
        'Fix: npm run build:native (Debian: libisal-dev; runtime libisal2)',
      { ...fields, reason: b.fallbackReason },
    );
  } else if (b.probeMBps < SLOW_CRC_MBPS) {
    logger.warn('SLOW CRC-64: ISA-L probe below threshold; CPUID may hide PCLMULQDQ on this host', fields);
  } else {
    logger.debug('crc64 backend', fields);
  }
}

/**
 * For image builds and health checks (a missing fast path must fail the build, not production): throws Crc64Error unless the native
 * backend is loaded and its probe reached `minMBps`. Returns the info it checked.
 */
export function assertFastCrc(minMBps: number = SLOW_CRC_MBPS): ReturnType<typeof crc64Info> {
  if (typeof minMBps !== 'number' || !(minMBps >= 0)) throw new RangeError(`minMBps must be a number >= 0, got ${minMBps}`);
  const info = crc64Info();
  if (info.implementation !== 'isal') {
    throw new Crc64Error(`CRC-64 runs on the pure-JS fallback (${ENV_ALLOW_SLOW}=1); build the addon: npm run build:native (Debian: libisal-dev, runtime libisal2)`);
  }
  if (info.probeMBps < minMBps) {
    throw new Crc64Error(`CRC-64 probe ${info.probeMBps} MB/s is below ${minMBps} MB/s (kernel ${info.kernel}, cpu ${JSON.stringify(info.cpu)}); CPUID may hide PCLMULQDQ`);
  }
  return info;
}
