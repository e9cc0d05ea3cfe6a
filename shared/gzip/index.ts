/**
 * gzip members with ISA-L igzip (levels 0–3): each call yields one complete RFC 1952 member, and
 * concatenated members are one valid gzip stream (RFC 1952 §2.2; gzip -t, pigz -t,
 * zcat, Python and Node all accept it; independent 8 MiB members cost ~0.04% ratio).
 *
 * Fallback: when the addon is unavailable and OSSFERRY_ALLOW_SLOW_CRC=1 was set, Node zlib (about 3x
 * slower at L1, measured); the crc64 loader logs that choice when it is made.
 */
import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { backend } from '../crc64/loader.ts';

export type GzipLevel = 0 | 1 | 2 | 3;

/** Largest input of one member: igzip's stream counters are 32-bit; members are meant to be MiBs. */
export const MAX_MEMBER_INPUT = 1 << 30;
export const DEFAULT_MEMBER_SIZE = 8 << 20;

/** igzip level → zlib level of comparable ratio (on JSON logs igzip L1 ≈ 4.65x, zlib L1 ≈ 4.69x). */
const ZLIB_LEVEL: Record<GzipLevel, number> = { 0: 1, 1: 1, 2: 2, 3: 4 };
const gzipAsyncZlib = promisify(zlib.gzip);

function checkData(data: unknown): Uint8Array {
  if (!(data instanceof Uint8Array)) {
    throw new TypeError(`data must be a Uint8Array or Buffer, got ${data === null ? 'null' : typeof data}`);
  }
  if (data.length > MAX_MEMBER_INPUT) {
    throw new RangeError(`data must be at most ${MAX_MEMBER_INPUT} bytes per gzip member, got ${data.length}; use createGzipMemberStream`);
  }
  return data;
}

function checkLevel(level: unknown): GzipLevel {
  if (typeof level !== 'number') throw new TypeError(`level must be a number 0..3, got ${typeof level}`);
  if (level !== 0 && level !== 1 && level !== 2 && level !== 3) throw new RangeError(`level must be 0, 1, 2 or 3, got ${level}`);
  return level;
}

/** One gzip member of `data`, synchronously (blocks the event loop: ~13 ms per 8 MiB at L1). */
export function gzipMember(data: Uint8Array, level: GzipLevel = 1): Buffer {
  const d = checkData(data);
  const l = checkLevel(level);
  const addon = backend().addon;
  return addon ? addon.gzip(d, l) : zlib.gzipSync(d, { level: ZLIB_LEVEL[l] });
}

/** One gzip member of `data`, compressed on the libuv thread pool. Do not mutate `data` until it settles. */
export async function gzipMemberAsync(data: Uint8Array, level: GzipLevel = 1): Promise<Buffer> {
  const d = checkData(data);
  const l = checkLevel(level);
  const addon = backend().addon;
  return addon ? addon.gzipAsync(d, l) : gzipAsyncZlib(d, { level: ZLIB_LEVEL[l] });
}

export interface GzipMemberStreamOptions {
  /** Uncompressed bytes per member (all but the last); default 8 MiB. */
  memberSize?: number;
  level?: GzipLevel;
  /** Members compressed at once; default os.availableParallelism(). */
  concurrency?: number;
}

interface Slot {
  done: boolean;
  out?: Buffer;
  err?: unknown;
}

/**
 * Transform: bytes in, complete gzip members out, in input order. Each member holds exactly `memberSize`
 * uncompressed bytes except the last; up to `concurrency` members compress at once on the libuv pool
 * (size UV_THREADPOOL_SIZE accordingly). Empty input yields one empty member, so the output is always a
 * valid gzip stream. Each push (one 'data' event) is exactly one member; a byte-stream consumer that
 * read()s or async-iterates may see several members merged, which is still valid gzip.
 */
export function createGzipMemberStream(opts: GzipMemberStreamOptions = {}): Transform {
  if (opts === null || typeof opts !== 'object') throw new TypeError(`opts must be an object, got ${opts === null ? 'null' : typeof opts}`);
  const memberSize = opts.memberSize ?? DEFAULT_MEMBER_SIZE;
  if (typeof memberSize !== 'number') throw new TypeError(`memberSize must be a number, got ${typeof memberSize}`);
  if (!Number.isInteger(memberSize) || memberSize < 1 || memberSize > MAX_MEMBER_INPUT) {
    throw new RangeError(`memberSize must be an integer in [1, ${MAX_MEMBER_INPUT}], got ${memberSize}`);
  }
  const level = checkLevel(opts.level ?? 1);
  const concurrency = opts.concurrency ?? availableParallelism();
  if (typeof concurrency !== 'number') throw new TypeError(`concurrency must be a number, got ${typeof concurrency}`);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1024) {
    throw new RangeError(`concurrency must be an integer in [1, 1024], got ${concurrency}`);
  }

  const queue: Slot[] = [];
  let pending: Buffer | undefined; // partially filled member buffer
  let fill = 0;
  let members = 0;
  let waiting: (() => void) | undefined; // resumes _transform/_flush once the queue has room / is empty
  let failed = false;

  const stream = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      try {
        let off = 0;
        while (off < chunk.length) {
          if (fill === 0 && chunk.length - off >= memberSize) {
            // Whole member available in the chunk: zero-copy (the async work holds a reference).
            dispatch(chunk.subarray(off, off + memberSize));
            off += memberSize;
            continue;
          }
          pending ??= Buffer.allocUnsafe(memberSize);
          const n = Math.min(memberSize - fill, chunk.length - off);
          chunk.copy(pending, fill, off, off + n);
          fill += n;
          off += n;
          if (fill === memberSize) {
            dispatch(pending);
            pending = undefined;
            fill = 0;
          }
        }
      } catch (err) {
        cb(err as Error);
        return;
      }
      whenRoom(cb, concurrency);
    },
    flush(cb: TransformCallback) {
      if (fill > 0 || members === 0) {
        dispatch(pending ? pending.subarray(0, fill) : Buffer.alloc(0));
        pending = undefined;
        fill = 0;
      }
      whenRoom(cb, 1); // wait for the queue to empty
    },
  });

  function dispatch(data: Uint8Array): void {
    const slot: Slot = { done: false };
    queue.push(slot);
    members++;
    gzipMemberAsync(data, level).then(
      (out) => {
        slot.done = true;
        slot.out = out;
        drain();
      },
      (err: unknown) => {
        slot.done = true;
        slot.err = err;
        drain();
      },
    );
  }

  /** Pushes every finished member at the head of the queue, in order. */
  function drain(): void {
    while (queue.length > 0 && queue[0]!.done) {
      const slot = queue.shift()!;
      if (failed) continue;
      if (slot.err !== undefined) {
        failed = true;
        stream.destroy(slot.err instanceof Error ? slot.err : new Error(String(slot.err)));
        return;
      }
      stream.push(slot.out);
    }
    if (waiting) {
      const w = waiting;
      waiting = undefined;
      w();
    }
  }

  /** Calls cb once fewer than `limit` members are in flight (limit 1 ⇒ all done). */
  function whenRoom(cb: TransformCallback, limit: number): void {
    const check = () => {
      if (failed) return; // destroy() already reported the error
      if (queue.length < limit || (limit === 1 && queue.length === 0)) cb();
      else waiting = check;
    };
    check();
  }

  return stream;
}
