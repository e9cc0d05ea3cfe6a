/**
 * The native body hash (functions/native/src/md5_mb.c): MD5 + CRC-64 of many streams, batched, with the
 * scalar kernel and the 8-lane AVX2 kernel, must equal node:crypto's MD5 and the CRC-64 module whatever the
 * chunking and interleaving.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { crc64, defaultNativePath } from '../../shared/crc64/index.ts';
import { checkMd5Vectors, Crc64Error, MD5_AUTO, MD5_AVX2, MD5_AVX512, MD5_KERNEL_OF, md5ModesOn, type Md5Mode, type NativeAddon } from '../../shared/crc64/loader.ts';

const addon = createRequire(import.meta.url)(defaultNativePath()) as NativeAddon;
type AnyFn = (...args: unknown[]) => unknown;
const raw = addon as unknown as Record<keyof NativeAddon, AnyFn>;
const runnable = md5ModesOn(addon.md5Kernel());
/** Every kernel this CPU can run (SIMD ones only where present: forcing one elsewhere is a RangeError, tested below). */
const MODES: [string, Md5Mode][] = [['auto', MD5_AUTO], ...runnable.map((m): [string, Md5Mode] => [MD5_KERNEL_OF[m], m])];

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');

/** Messages cut into pieces at `cuts` (fractions), pieces of all messages interleaved in `order`. */
interface Plan {
  messages: Uint8Array[];
  /** One context per message. */
  ctxs: Buffer[];
  /** The batch: batchCtxs[i] is fed datas[i]. */
  batchCtxs: Buffer[];
  datas: Uint8Array[];
}

function plan(messages: Uint8Array[], cutsPer: number[][], order: number[]): Plan {
  const pieces = messages.map((m, i) => {
    const at = [...new Set((cutsPer[i] ?? []).map((f) => Math.floor(f * m.length)))].sort((a, b) => a - b);
    const out: Uint8Array[] = [];
    let prev = 0;
    for (const c of [...at, m.length]) {
      out.push(m.subarray(prev, c));
      prev = c;
    }
    return out;
  });
  const ctxs = messages.map(() => addon.bodyHashCreate());
  const next = messages.map(() => 0);
  const cs: Buffer[] = [];
  const ds: Uint8Array[] = [];
  // Round-robin driven by `order`, then whatever is left, so every piece goes in exactly once, in order per message.
  const take = (i: number) => {
    if (next[i]! < pieces[i]!.length) {
      cs.push(ctxs[i]!);
      ds.push(pieces[i]![next[i]!++]!);
    }
  };
  for (const o of order) take(o % messages.length);
  for (let i = 0; i < messages.length; i++) while (next[i]! < pieces[i]!.length) take(i);
  return { messages, ctxs, batchCtxs: cs, datas: ds };
}

function expectDigests(p: Plan): void {
  p.messages.forEach((m, i) => {
    const got = addon.bodyHashDigest(p.ctxs[i]!);
    expect(got.md5.toString('hex')).toBe(md5(m));
    expect(got.crc64).toBe(crc64(m));
    expect(got.size).toBe(m.length);
  });
}

const messagesArb = fc.array(fc.uint8Array({ minLength: 0, maxLength: 3000 }), { minLength: 1, maxLength: 12 });
const cutsArb = fc.array(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }), { maxLength: 12 });
const orderArb = fc.array(fc.nat(), { maxLength: 80 });

describe('native body hash = node:crypto MD5 + CRC-64', () => {
  it.each(MODES)('%s: random messages, chunkings and interleavings (sync batch)', (_name, mode) => {
    fc.assert(
      fc.property(messagesArb, cutsArb, orderArb, (messages, cuts, order) => {
        // Prepare
        const p = plan(messages, cuts, order);
        // Act
        addon.bodyHashUpdate(p.batchCtxs, p.datas, mode);
        // Assess
        expectDigests(p);
      }),
      { numRuns: 150 },
    );
  });

  it.each(MODES)('%s: random messages, chunkings and interleavings (on the libuv pool)', async (_name, mode) => {
    await fc.assert(
      fc.asyncProperty(messagesArb, cutsArb, orderArb, async (messages, cuts, order) => {
        // Prepare
        const p = plan(messages, cuts, order);
        // Act
        await addon.bodyHashBatch(p.batchCtxs, p.datas, mode);
        // Assess
        expectDigests(p);
      }),
      { numRuns: 60 },
    );
  });

  it.each(MODES)('%s: every length around the 64-byte block and 56-byte padding boundaries, 10 streams at once', (_name, mode) => {
    // Prepare: lengths 0..200 and around 4 KiB; each message fed in two pieces split at every offset class
    const lengths = [...Array.from({ length: 201 }, (_v, i) => i), 4031, 4032, 4033, 4095, 4096, 4097];
    const messages = lengths.map((n, i) => Uint8Array.from({ length: n }, (_v, j) => (i * 31 + j * 7) & 0xff));
    for (let start = 0; start < messages.length; start += 10) {
      const group = messages.slice(start, start + 10);
      const ctxs = group.map(() => addon.bodyHashCreate());
      const cs = [...ctxs, ...ctxs];
      const ds = [...group.map((m, k) => m.subarray(0, (k * 13) % (m.length + 1))), ...group.map((m, k) => m.subarray((k * 13) % (m.length + 1)))];
      // Act
      addon.bodyHashUpdate(cs, ds, mode);
      // Assess
      group.forEach((m, k) => expect(addon.bodyHashDigest(ctxs[k]!).md5.toString('hex')).toBe(md5(m)));
    }
  });

  it('a context can keep streaming after a digest, and an empty body has the empty MD5', () => {
    // Prepare
    const ctx = addon.bodyHashCreate();
    const empty = addon.bodyHashDigest(ctx);
    // Act
    addon.bodyHashUpdate([ctx], [Buffer.from('ab')]);
    const mid = addon.bodyHashDigest(ctx);
    addon.bodyHashUpdate([ctx], [Buffer.from('c')]);
    const end = addon.bodyHashDigest(ctx);
    // Assess
    expect(empty.md5.toString('hex')).toBe('d41d8cd98f00b204e9800998ecf8427e');
    expect(empty.crc64).toBe(0n);
    expect(mid.md5.toString('hex')).toBe(md5(Buffer.from('ab')));
    expect(end.md5.toString('hex')).toBe('900150983cd24fb0d6963f7d28e17f72');
  });

  it('large uneven streams (MiB-sized, 9 streams for 8 lanes) through the pool', async () => {
    // Prepare
    const messages = Array.from({ length: 9 }, (_v, i) => Buffer.alloc(((i + 1) << 18) + i * 77, i + 1));
    messages.forEach((m, i) => m.writeUInt32LE(i * 2654435761 >>> 0, m.length >> 1));
    const ctxs = messages.map(() => addon.bodyHashCreate());
    const cs: Buffer[] = [];
    const ds: Uint8Array[] = [];
    for (let off = 0; off < messages[8]!.length; off += 65536 + 3) {
      messages.forEach((m, i) => {
        if (off < m.length) {
          cs.push(ctxs[i]!);
          ds.push(m.subarray(off, off + 65536 + 3));
        }
      });
    }
    // Act
    await addon.bodyHashBatch(cs, ds);
    // Assess
    messages.forEach((m, i) => expect(addon.bodyHashDigest(ctxs[i]!).md5.toString('hex')).toBe(md5(m)));
  });
});

describe('native body hash contexts and arguments', () => {
  it('a context held by a running batch is refused until the batch settles', async () => {
    // Prepare
    const ctx = addon.bodyHashCreate();
    const running = addon.bodyHashBatch([ctx], [Buffer.alloc(1 << 20, 1)]);
    // Act
    const whileBusy = () => addon.bodyHashDigest(ctx);
    const whileBusyBatch = () => addon.bodyHashUpdate([ctx], [Buffer.alloc(1)]);
    // Assess
    expect(whileBusy).toThrow(/in use/);
    expect(whileBusyBatch).toThrow(/in use/);
    await running;
    expect(addon.bodyHashDigest(ctx).md5.toString('hex')).toBe(md5(Buffer.alloc(1 << 20, 1)));
  });

  const cases: Array<[string, () => unknown, typeof TypeError | typeof RangeError, RegExp]> = [
    ['bodyHashDigest(plain Buffer)', () => raw.bodyHashDigest(Buffer.alloc(112)), TypeError, /ctx/],
    ['bodyHashDigest()', () => raw.bodyHashDigest(), TypeError, /ctx/],
    ['bodyHashUpdate(1 arg)', () => raw.bodyHashUpdate([]), TypeError, /needs 2 arguments/],
    ['bodyHashUpdate(not arrays)', () => raw.bodyHashUpdate(addon.bodyHashCreate(), Buffer.alloc(1)), TypeError, /arrays/],
    ['bodyHashUpdate(length mismatch)', () => raw.bodyHashUpdate([addon.bodyHashCreate()], []), RangeError, /same length/],
    ['bodyHashUpdate(bad data)', () => raw.bodyHashUpdate([addon.bodyHashCreate()], ['x']), TypeError, /datas\[0\]/],
    ['bodyHashUpdate(bad ctx)', () => raw.bodyHashUpdate([Buffer.alloc(3)], [Buffer.alloc(1)]), TypeError, /ctxs\[0\]/],
    ['bodyHashUpdate(mode 4)', () => raw.bodyHashUpdate([], [], 4), RangeError, /mode/],
    ['bodyHashBatch(mode "1")', () => raw.bodyHashBatch([], [], '1'), RangeError, /mode/],
  ];
  it.each(cases)('%s throws a named error', (_name, call, type, field) => {
    // Prepare: table above. Act / Assess
    expect(call).toThrow(type);
    expect(call).toThrow(field);
  });

  it('a copied context (maybe unaligned) or a corrupted magic is refused, not trusted', () => {
    // Prepare
    const ctx = addon.bodyHashCreate();
    const corrupted = Buffer.from(ctx);
    corrupted[0] = corrupted[0]! ^ 0xff;
    // Act
    const call = () => addon.bodyHashDigest(corrupted);
    // Assess
    expect(call).toThrow(TypeError);
  });

  it.each([['avx2', MD5_AVX2], ['avx512', MD5_AVX512]] as const)('forcing %s works only where the CPU has it', (_name, mode) => {
    // Prepare
    const ctx = addon.bodyHashCreate();
    // Act
    const call = () => addon.bodyHashUpdate([ctx], [Buffer.from('abc')], mode);
    // Assess
    if (runnable.includes(mode)) expect(call).not.toThrow();
    else expect(call).toThrow(RangeError);
  });
});

describe('backgroundPoolThreads (libuv pool threads as SCHED_BATCH)', () => {
  /** Scheduling policy of each thread of this process (/proc/self/task/<tid>/stat field 41; 3 = SCHED_BATCH). */
  function policies(): number[] {
    return readdirSync('/proc/self/task').map((tid) => {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38]);
    });
  }

  it('a pool thread that ran a batch with it on is SCHED_BATCH; the event loop thread is not', async () => {
    // Prepare
    addon.backgroundPoolThreads(true);
    const ctx = addon.bodyHashCreate();
    // Act
    await addon.bodyHashBatch([ctx], [Buffer.alloc(4096)]);
    const after = policies();
    // Assess
    expect(after).toContain(3);
    expect(readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1]!.split(' ')[38]).toBe('0');
  });

  it('needs a boolean', () => {
    // Prepare: nothing. Act
    const call = () => raw.backgroundPoolThreads('yes');
    // Assess
    expect(call).toThrow(TypeError);
  });
});

describe('load-time MD5 check (shared/crc64/loader.ts)', () => {
  it('passes for the built addon', () => {
    // Prepare: the addon. Act
    const call = () => checkMd5Vectors(addon);
    // Assess
    expect(call).not.toThrow();
  });

  it('names the kernel when a digest is wrong', () => {
    // Prepare: an addon whose AVX2 (or only) kernel flips a digest bit
    const broken: NativeAddon = {
      ...addon,
      bodyHashDigest: (ctx) => {
        const d = addon.bodyHashDigest(ctx);
        const md5 = Buffer.from(d.md5);
        md5[0] = md5[0]! ^ 1;
        return { ...d, md5 };
      },
    };
    // Act
    const call = () => checkMd5Vectors(broken);
    // Assess
    expect(call).toThrow(Crc64Error);
    expect(call).toThrow(/MD5 \((scalar|avx2-x8|avx512-x8)\)/);
  });
});
