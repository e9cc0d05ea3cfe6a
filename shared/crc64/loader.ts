/**
 * Loads the ISA-L N-API addon (functions/native) and decides the CRC-64/gzip backend — the only place in
 * shared/ that touches the filesystem (docs/CONVENTIONS.md "Structure").
 *
 * Policy (never fall back to a slow CRC silently, the python crcmod lesson):
 * - addon missing or broken → throw Crc64Error with the build command and the Debian packages, unless the
 *   operator explicitly opted in with OSSFERRY_ALLOW_SLOW_CRC=1, which selects the pure-JS slicing-by-8;
 * - the CRC-64/XZ check vectors are verified at load, whichever backend is chosen;
 * - a short probe is timed and logged with the CPU features, because ISA-L silently drops to a 455 MB/s
 *   table when CPUID hides PCLMULQDQ, so "native" alone does not mean "fast".
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { OssferryError } from '../errors.ts';
import { createLogger, type Logger } from '../log.ts';
import { crc64CombineJs, crc64Js } from './js.ts';

/** Raised when the native addon cannot be used (missing, wrong ABI, failing check vectors). */
export class Crc64Error extends OssferryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('Crc64', message, options);
  }
}

/** What functions/native/src/ossferry_native.c exports. Arguments are validated in C as well. */
export interface NativeAddon {
  crc64(data: Uint8Array, prev?: bigint): bigint;
  /** ISA-L's dispatch only, bypassing ossferry's VPCLMULQDQ/AVX2 kernel (reference for tests and bench). */
  crc64Isal(data: Uint8Array, prev?: bigint): bigint;
  /** Large-buffer kernel chosen for this CPU. */
  crc64Kernel(): 'vpclmul-avx2' | 'isal';
  crc64Combine(crcA: bigint, crcB: bigint, lengthB: number | bigint): bigint;
  cpuInfo(): Record<string, boolean>;
  /** Read-only pass over data (XOR of its words): bench reference for the memory read ceiling. */
  memScan(data: Uint8Array): bigint;
  gzip(data: Uint8Array, level: number): Buffer;
  gzipAsync(data: Uint8Array, level: number): Promise<Buffer>;
  /** A new MD5 + CRC-64 stream context (functions/native/src/md5_mb.h), opaque. */
  bodyHashCreate(): Buffer;
  /** Feeds datas[i] to ctxs[i] (in order per context) on this thread. */
  bodyHashUpdate(ctxs: Buffer[], datas: Uint8Array[], mode?: Md5Mode): void;
  /**
   * The same on the libuv pool, up to 8 contexts at once in AVX2 lanes. Holds every buffer until it settles; a
   * context passed to a running batch is refused (ERR_OSSFERRY_HASH_BUSY) until that batch settles.
   */
  bodyHashBatch(ctxs: Buffer[], datas: Uint8Array[], mode?: Md5Mode): Promise<void>;
  /** MD5, CRC-64 and byte count of everything fed so far (the context may keep streaming). */
  bodyHashDigest(ctx: Buffer): { md5: Buffer; crc64: bigint; size: number };
  /** What mode MD5_AUTO runs on this CPU. */
  md5Kernel(): Md5Kernel;
  /** Starts writing a file's dirty range to disk without waiting for it (Linux sync_file_range; no-op elsewhere). */
  fileWriteback(fd: number, offset: number, length: number): Promise<void>;
  /**
   * on: every libuv pool thread that runs bodyHashBatch or fileWriteback switches to SCHED_BATCH (Linux) and
   * keeps it, so pool wakeups stop preempting the event loop; off: back to SCHED_OTHER as they next run one.
   */
  backgroundPoolThreads(on: boolean): void;
}

/** bodyHash kernel selection: auto (AVX2 8-lane when the CPU has it), scalar, or avx2 (RangeError without it). */
export const MD5_AUTO = 0;
export const MD5_SCALAR = 1;
export const MD5_AVX2 = 2;
export const MD5_AVX512 = 3;
export type Md5Mode = typeof MD5_AUTO | typeof MD5_SCALAR | typeof MD5_AVX2 | typeof MD5_AVX512;
/** The MD5 kernels (functions/native/src/md5_mb.c): 8 lanes of AVX-512VL or AVX2, or one scalar chain. */
export type Md5Kernel = 'avx512-x8' | 'avx2-x8' | 'scalar';
/** The kernel each forced mode runs. */
export const MD5_KERNEL_OF = { [MD5_SCALAR]: 'scalar', [MD5_AVX2]: 'avx2-x8', [MD5_AVX512]: 'avx512-x8' } as const satisfies Record<Exclude<Md5Mode, typeof MD5_AUTO>, Md5Kernel>;

/** The modes that can be forced on a CPU whose best kernel is `best` (a CPU with AVX-512VL has AVX2 too). */
export function md5ModesOn(best: Md5Kernel): Exclude<Md5Mode, typeof MD5_AUTO>[] {
  if (best === 'avx512-x8') return [MD5_SCALAR, MD5_AVX2, MD5_AVX512];
  if (best === 'avx2-x8') return [MD5_SCALAR, MD5_AVX2];
  return [MD5_SCALAR];
}

export interface Crc64Backend {
  implementation: 'isal' | 'js';
  crc64(data: Uint8Array, prev: bigint): bigint;
  crc64Combine(crcA: bigint, crcB: bigint, lengthB: bigint): bigint;
  /** Present only on the native path; gzip falls back to Node zlib otherwise. */
  addon: NativeAddon | undefined;
  probeMBps: number;
  cpu: Record<string, boolean>;
  /** 'vpclmul-avx2' (own kernel, functions/native/src/crc64_fast.c), 'isal' (ISA-L dispatch) or 'js-slicing8'. */
  kernel: string;
  /** Where the addon was looked for (for messages). */
  nativePath: string;
  /** Why the native path was not taken (JS fallback only). */
  fallbackReason?: string;
}

export const ENV_NATIVE_PATH = 'OSSFERRY_NATIVE_PATH';
export const ENV_ALLOW_SLOW = 'OSSFERRY_ALLOW_SLOW_CRC';
/** Below this the CRC can become the bottleneck of a multi-GB/s copy: ~2 GB/s. */
export const SLOW_CRC_MBPS = 2000;

/** Default addon location, relative to this file in the repo; the bundled image sets OSSFERRY_NATIVE_PATH. */
export function defaultNativePath(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[ENV_NATIVE_PATH];
  if (fromEnv) return fromEnv;
  return fileURLToPath(new URL('../../functions/native/build/Release/ossferry_native.node', import.meta.url));
}

const VECTORS: ReadonlyArray<[string, bigint]> = [
  ['123456789', 0x995dc9bbdf1939fan],
  ['', 0n],
  ['a', 0x330284772e652b05n],
  ['abc', 0x2cd8094a1a277627n],
  ['hello world!', 0x8483c0fa32607d61n],
  ['The quick brown fox jumps over the lazy dog', 0x5b5eb8c2e54aa1c4n],
];

/** Throws Crc64Error unless `fn` reproduces the CRC-64/XZ check vectors, streaming and combine included. */
export function checkVectors(
  name: string,
  fn: (d: Uint8Array, prev: bigint) => bigint,
  combine: (a: bigint, b: bigint, n: bigint) => bigint,
): void {
  const enc = new TextEncoder();
  const fail = (what: string, got: bigint, want: bigint) => {
    throw new Crc64Error(`${name} CRC-64 failed its check vector ${what}: got 0x${got.toString(16)}, want 0x${want.toString(16)}`);
  };
  for (const [s, want] of VECTORS) {
    const got = fn(enc.encode(s), 0n);
    if (got !== want) fail(JSON.stringify(s), got, want);
  }
  const z32 = fn(new Uint8Array(32), 0n);
  if (z32 !== 0xc95af8617cd5330cn) fail('32 x 0x00', z32, 0xc95af8617cd5330cn);
  const ff32 = fn(new Uint8Array(32).fill(0xff), 0n);
  if (ff32 !== 0xe95dce9efaa09acfn) fail('32 x 0xFF', ff32, 0xe95dce9efaa09acfn);
  const streamed = fn(enc.encode('56789'), fn(enc.encode('1234'), 0n));
  if (streamed !== 0x995dc9bbdf1939fan) fail('"1234"+"56789" streamed', streamed, 0x995dc9bbdf1939fan);
  const combined = combine(fn(enc.encode('1234'), 0n), fn(enc.encode('56789'), 0n), 5n);
  if (combined !== 0x995dc9bbdf1939fan) fail('"1234"+"56789" combined', combined, 0x995dc9bbdf1939fan);
}

/** RFC 1321 §A.5 test suite. */
const MD5_VECTORS: ReadonlyArray<[string, string]> = [
  ['', 'd41d8cd98f00b204e9800998ecf8427e'],
  ['a', '0cc175b9c0f1b6a831c399e269772661'],
  ['abc', '900150983cd24fb0d6963f7d28e17f72'],
  ['message digest', 'f96b697d7cb7938d525a2f31aaf161d0'],
  ['abcdefghijklmnopqrstuvwxyz', 'c3fcd3d76192e4007dfb496cca67e13b'],
  ['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', 'd174ab98d277d9f5a5611c2c9f419d9f'],
  ['1234567890'.repeat(8), '57edf4a22be3c955ac49da2e2107b67a'],
];

/**
 * Throws Crc64Error unless the addon's body hash reproduces the RFC 1321 vectors with every kernel this CPU
 * runs: all vectors at once (7 contexts share the SIMD lanes), each streamed in pieces that straddle blocks,
 * and the CRC-64 check value through the same context.
 */
export function checkMd5Vectors(addon: NativeAddon): void {
  const enc = new TextEncoder();
  for (const mode of md5ModesOn(addon.md5Kernel())) {
    const kernel = MD5_KERNEL_OF[mode];
    const ctxs = MD5_VECTORS.map(() => addon.bodyHashCreate());
    const datas = MD5_VECTORS.map(([s]) => enc.encode(s.repeat(3)));
    // Three copies of each vector, fed as [0, 7), [7, 70), [70, end): the digest is of s+s+s.
    const pieces = (d: Uint8Array) => [d.subarray(0, 7), d.subarray(7, 70), d.subarray(70)];
    const cs = ctxs.flatMap((c) => [c, c, c]);
    const ds = datas.flatMap((d) => pieces(d));
    addon.bodyHashUpdate(cs, ds, mode);
    MD5_VECTORS.forEach(([s], i) => {
      const want = new Uint8Array(createHash('md5').update(s.repeat(3)).digest());
      const got = addon.bodyHashDigest(ctxs[i]!);
      if (Buffer.compare(got.md5, want) !== 0 || got.size !== datas[i]!.length) {
        throw new Crc64Error(`native MD5 (${kernel}) failed its check vector ${JSON.stringify(s)} x3: got ${got.md5.toString('hex')}`);
      }
    });
    const one = MD5_VECTORS.map(() => addon.bodyHashCreate());
    addon.bodyHashUpdate(one, MD5_VECTORS.map(([s]) => enc.encode(s)), mode);
    MD5_VECTORS.forEach(([s, want], i) => {
      const got = addon.bodyHashDigest(one[i]!).md5.toString('hex');
      if (got !== want) throw new Crc64Error(`native MD5 (${kernel}) failed its check vector ${JSON.stringify(s)}: got ${got}, want ${want}`);
    });
    const crc = addon.bodyHashCreate();
    addon.bodyHashUpdate([crc, crc], [enc.encode('1234'), enc.encode('56789')], mode);
    const got = addon.bodyHashDigest(crc).crc64;
    if (got !== 0x995dc9bbdf1939fan) throw new Crc64Error(`native body hash CRC-64 (${kernel}) failed its check vector: got 0x${got.toString(16)}`);
  }
}

/** Best-of-3 timing of `fn` over 8 MiB (about 0.3 ms with ISA-L on a current x86-64 core). MB = 10^6 bytes. */
function probe(fn: (d: Uint8Array, prev: bigint) => bigint): number {
  const buf = new Uint8Array(8 << 20);
  for (let i = 0; i < buf.length; i += 4096) buf[i] = i * 2654435761;
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const t0 = process.hrtime.bigint();
    fn(buf, 0n);
    const ns = Number(process.hrtime.bigint() - t0);
    if (ns < best) best = ns;
  }
  return Math.round((buf.length / Math.max(best, 1)) * 1000);
}

const nodeRequire = createRequire(import.meta.url);

/** Loads the addon at `path` and verifies it; throws Crc64Error with the fix in the message. */
export function loadNativeAddon(path: string): NativeAddon {
  let addon: NativeAddon;
  try {
    addon = nodeRequire(path) as NativeAddon;
  } catch (err) {
    const why = existsSync(path) ? `failed to load: ${(err as Error).message}` : 'is missing';
    throw new Crc64Error(
      `The native CRC-64/gzip addon (ISA-L) at ${path} ${why}. ` +
        'Build it with `npm run build:native` (needs the Debian package libisal-dev; at run time libisal2). ' +
        `Or set ${ENV_NATIVE_PATH} to the built ossferry_native.node. ` +
        `To run anyway on the ~20x slower pure-JS CRC-64 (not for production), set ${ENV_ALLOW_SLOW}=1.`,
      { cause: err },
    );
  }
  checkVectors('native (ISA-L)', addon.crc64, addon.crc64Combine);
  checkVectors('native (ISA-L dispatch)', addon.crc64Isal, addon.crc64Combine);
  if (typeof addon.bodyHashCreate !== 'function') {
    throw new Crc64Error(`The native addon at ${path} predates the body hash (MD5) exports. Rebuild it with \`npm run build:native\`.`);
  }
  checkMd5Vectors(addon);
  return addon;
}

export interface LoadOptions {
  /** Addon path; default: env OSSFERRY_NATIVE_PATH, else the repo's functions/native/build/Release. */
  nativePath?: string;
  /** Permit the pure-JS fallback; default: env OSSFERRY_ALLOW_SLOW_CRC === '1'. */
  allowSlow?: boolean;
  logger?: Logger;
}

/** Loader factory (tests call it with explicit paths; the module default reads the environment). */
export function loadCrc64Backend(opts: LoadOptions = {}): Crc64Backend {
  const nativePath = opts.nativePath ?? defaultNativePath();
  const allowSlow = opts.allowSlow ?? process.env[ENV_ALLOW_SLOW] === '1';
  const logger = opts.logger ?? createLogger({ component: 'crc64' });
  let addon: NativeAddon | undefined;
  let fallbackReason: string | undefined;
  try {
    addon = loadNativeAddon(nativePath);
  } catch (err) {
    if (!allowSlow) throw err;
    fallbackReason = (err as Error).message;
  }
  if (addon) {
    const a = addon;
    const backend: Crc64Backend = {
      implementation: 'isal',
      crc64: (d, p) => a.crc64(d, p),
      crc64Combine: (x, y, n) => a.crc64Combine(x, y, n),
      addon: a,
      probeMBps: probe(a.crc64),
      cpu: a.cpuInfo(),
      kernel: a.crc64Kernel(),
      nativePath,
    };
    logger.info('crc64 backend: isal', {
      implementation: 'isal',
      kernel: backend.kernel,
      probeMBps: backend.probeMBps,
      cpu: backend.cpu,
    });
    if (backend.probeMBps < SLOW_CRC_MBPS) {
      logger.warn('crc64 ISA-L probe is SLOW: CPUID may hide PCLMULQDQ (VM/emulator) — CRC can bottleneck copies', {
        probeMBps: backend.probeMBps,
        cpu: backend.cpu,
        thresholdMBps: SLOW_CRC_MBPS,
      });
    }
    return backend;
  }
  checkVectors('pure-JS', crc64Js, crc64CombineJs);
  const backend: Crc64Backend = {
    implementation: 'js',
    crc64: crc64Js,
    crc64Combine: crc64CombineJs,
    addon: undefined,
    probeMBps: probe(crc64Js),
    cpu: {},
    kernel: 'js-slicing8',
    nativePath,
    fallbackReason,
  };
  logger.warn(`crc64 backend: SLOW pure-JS fallback selected by ${ENV_ALLOW_SLOW}=1 (gzip uses Node zlib)`, {
    implementation: 'js',
    probeMBps: backend.probeMBps,
    reason: fallbackReason,
    fix: 'npm run build:native (Debian: libisal-dev; runtime libisal2)',
  });
  return backend;
}

let current: Crc64Backend | undefined;

/** The process-wide backend, loaded on first use from the environment (so importing never throws). */
export function backend(): Crc64Backend {
  return (current ??= loadCrc64Backend());
}
