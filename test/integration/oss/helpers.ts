/** Shared set-up for the local OSS conformance tests: the unmodified ali-oss client in all four wire modes. */
import { createHash } from 'node:crypto';
import OSS from 'ali-oss';
import type { LocalOss } from '../../../local/oss/index.ts';

export const MODES = [
  { name: 'V1 + IP endpoint (bucket in Host)', opts: {} },
  { name: 'V4 + IP endpoint (bucket in Host)', opts: { v4: true } },
  { name: 'V1 + path style (sldEnable)', opts: { pathStyle: true } },
  { name: 'V4 + path style (sldEnable)', opts: { pathStyle: true, v4: true } },
] as const;

export type Mode = (typeof MODES)[number]['opts'];

/** ali-oss's own types lag its API; tests call it through this loose view. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Client = any;

export function client(oss: LocalOss, bucket: string, mode: Mode = {}, extra: Record<string, unknown> = {}): Client {
  return new OSS({ ...oss.clientOptions(bucket, mode), ...extra } as OSS.Options);
}

export const md5Hex = (b: Uint8Array) => createHash('md5').update(b).digest('hex').toUpperCase();

/** Deterministic pseudo-random bytes (fast, no crypto needed). */
export function bytes(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

/** Runs `fn` and returns the error it throws (fails the test if it does not throw). */
export async function errorOf(fn: () => Promise<unknown>): Promise<{ status: number; code: string; message: string; [k: string]: unknown }> {
  try {
    await fn();
  } catch (err) {
    return err as { status: number; code: string; message: string };
  }
  throw new Error('expected the call to fail, it succeeded');
}

export const KEYS = [
  'plain.txt',
  'with space/a b.bin',
  'plus+sign/c+d.bin',
  'percent%25/%41%.bin',
  'unicode/数据/ファイル-é.bin',
  'deep/a/b/c/d/e/f/g/h/i/j/k.bin',
  'mixed +%&=?#;,@!$\'()*[]~.bin',
];
