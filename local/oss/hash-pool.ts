/**
 * MD5 + CRC-64 of upload bodies, off the event loop and shared between concurrent uploads.
 *
 * Why: every byte the local OSS receives needs its MD5 (part/object ETags) and CRC-64. On the event loop,
 * node:crypto MD5 (~700 MiB/s, one serial chain per stream) took ~half of the server's CPU and capped 8
 * parallel part uploads at ~0.25 x a bare loopback sink. The native addon's body hash
 * (functions/native/src/md5_mb.c) hashes up to 8 independent streams at once in the lanes of AVX2 registers
 * (~2.65 GiB/s for 8 streams vs ~0.68 GiB/s for one, measured here) and CRCs the same bytes in the same pass, on
 * the libuv pool. For that, chunks from all uploads are queued here and handed over in batches: one batch
 * runs at a time, chunks arriving meanwhile accumulate, so lane occupancy grows with concurrency.
 *
 * Batching policy: a batch starts when as many streams have data as there are lanes to fill (capped by the
 * streams open), when `flushBytes` wait, when someone awaits a digest, or after a short timer (liveness).
 * Memory is bounded: writers ask `belowCap()` and wait (pausing their socket) while more than
 * maxQueuedBytes wait for hashing.
 * Without the native addon (OSSFERRY_ALLOW_SLOW_CRC=1) chunks are hashed at once on the event loop with
 * node:crypto and the JS CRC-64.
 */
import { createHash, type Hash } from 'node:crypto';
import { InvalidInputError, OssferryError } from '../../shared/errors.ts';
import { crc64 } from '../../shared/crc64/index.ts';
import { backend, MD5_AUTO, MD5_AVX2, MD5_AVX512, MD5_KERNEL_OF, MD5_SCALAR, md5ModesOn, type Md5Mode, type NativeAddon } from '../../shared/crc64/loader.ts';

/** Raised when the native batch fails (out of memory, cancelled work); the upload then fails with a 500. */
export class BodyHashError extends OssferryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BodyHash', message, options);
  }
}

export interface BodyDigest {
  md5: Buffer;
  crc64: bigint;
  size: number;
}

/** OSSFERRY_MD5_KERNEL=scalar|avx2|avx512|auto (default auto): forces a kernel (tests and benchmarks compare them). */
export const ENV_MD5_KERNEL = 'OSSFERRY_MD5_KERNEL';

export function md5ModeFromEnv(env: NodeJS.ProcessEnv = process.env): Md5Mode {
  const v = (env[ENV_MD5_KERNEL] ?? 'auto').toLowerCase();
  if (v === 'scalar') return MD5_SCALAR;
  if (v === 'avx2') return MD5_AVX2;
  if (v === 'avx512') return MD5_AVX512;
  return MD5_AUTO;
}

export interface HashPoolOptions {
  /** The addon to hash with; null hashes on the event loop (node:crypto). Default: the loaded CRC backend's. */
  addon?: NativeAddon | null;
  /** MD5 kernel; default from OSSFERRY_MD5_KERNEL. */
  mode?: Md5Mode;
  /** Queued, not yet hashed bytes above which `belowCap()` makes writers wait (default 16 MiB). */
  maxQueuedBytes?: number;
  /** A batch starts once this many bytes wait, however few streams they come from (default 2 MiB). */
  flushBytes?: number;
  /** Longest wait for more streams to fill the lanes before a batch starts anyway (default 2 ms). */
  flushDelayMs?: number;
  /**
   * Run the libuv pool threads as background threads (SCHED_BATCH, Linux), default true. The event loop is the
   * server's bottleneck and the pool (hash batches, file writes) works for it; on a 2-core box each pool wakeup
   * preempted the event loop. Same CPU share, no wakeup preemption: 8 parallel parts 847 -> 1135 MiB/s
   * (median of 5). Process-wide, as the pool is.
   */
  backgroundThreads?: boolean;
}

const LANES = 8;

interface Item {
  hash: BodyHash;
  data: Uint8Array;
  onHashed: (() => void) | undefined;
}

/** One upload body's running MD5 + CRC-64. Feed with update(); digest() once the body has ended. */
export class BodyHash {
  readonly ctx: Buffer | undefined;
  private readonly pool: HashPool;
  private md5: Hash | undefined;
  private crc = 0n;
  private size = 0;
  /** Items queued or in a running batch. */
  pending = 0;
  private waiter: (() => void) | undefined;
  failure: Error | undefined;
  private closed = false;

  constructor(pool: HashPool, ctx: Buffer | undefined) {
    this.pool = pool;
    this.ctx = ctx;
    if (!ctx) this.md5 = createHash('md5');
  }

  /** Queues `data` (kept unmodified until hashed); `onHashed` runs once it has been hashed. */
  update(data: Uint8Array, onHashed?: () => void): void {
    if (this.closed) throw new BodyHashError('update() after digest() or abandon()');
    if (!this.ctx) {
      this.md5!.update(data);
      this.crc = crc64(data, this.crc);
      this.size += data.length;
      onHashed?.();
      return;
    }
    this.pending++;
    this.pool.enqueue({ hash: this, data, onHashed });
  }

  /** Waits for every queued chunk, then returns MD5, CRC-64 and size. Closes this hash. */
  async digest(): Promise<BodyDigest> {
    this.close();
    if (!this.ctx) return { md5: this.md5!.digest(), crc64: this.crc, size: this.size };
    if (this.pending > 0) {
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        this.pool.urgent();
      });
    }
    if (this.failure) throw new BodyHashError('hashing the body failed', { cause: this.failure });
    return this.pool.addonDigest(this.ctx);
  }

  /** The body failed: queued chunks not yet handed to a batch are dropped. */
  abandon(): void {
    this.pool.drop(this); // before close(): closing may start a batch with what is queued
    this.close();
  }

  /** Called by the pool when `n` of this hash's items are done. */
  settled(n: number, err?: Error): void {
    this.pending -= n;
    if (err) this.failure ??= err;
    if (this.pending === 0 && this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w();
    }
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pool.closed();
  }
}

/** Process-wide batcher (one per Store). */
export class HashPool {
  private readonly addon: NativeAddon | undefined;
  private readonly mode: Md5Mode;
  private readonly maxQueuedBytes: number;
  private readonly flushBytes: number;
  private readonly flushDelayMs: number;
  private queue: Item[] = [];
  /** Bytes queued or in the running batch. */
  queuedBytes = 0;
  private running = false;
  private open = 0;
  private urgentFlush = false;
  private timer: NodeJS.Timeout | undefined;
  private capWaiters: (() => void)[] = [];
  /** Batches run and items hashed (for tests and the README's occupancy figures). */
  readonly stats = { batches: 0, items: 0, bytes: 0 };

  constructor(options: HashPoolOptions = {}) {
    this.addon = options.addon === null ? undefined : (options.addon ?? backend().addon);
    this.mode = options.mode ?? md5ModeFromEnv();
    this.maxQueuedBytes = options.maxQueuedBytes ?? 16 * 1024 * 1024;
    this.flushBytes = options.flushBytes ?? 2 * 1024 * 1024;
    this.flushDelayMs = options.flushDelayMs ?? 2;
    const mode = this.mode;
    if (mode !== MD5_AUTO && this.addon && !md5ModesOn(this.addon.md5Kernel()).includes(mode)) {
      throw new InvalidInputError(ENV_MD5_KERNEL, `asks for the ${MD5_KERNEL_OF[mode]} MD5 kernel, which this CPU cannot run`, 'unset it, or set it to scalar or auto');
    }
    if (options.backgroundThreads ?? true) this.addon?.backgroundPoolThreads(true);
  }

  /**
   * Starts writing a received file's range to disk without waiting (native sync_file_range on the pool), so
   * that the fsync before a body becomes visible finds little left to write; undefined without the addon.
   * Lives here because this is the upload path's handle on the addon.
   */
  get writeback(): ((fd: number, offset: number, length: number) => Promise<void>) | undefined {
    const a = this.addon;
    return a ? (fd, offset, length) => a.fileWriteback(fd, offset, length) : undefined;
  }

  /** 'avx512-x8', 'avx2-x8', 'scalar' (native) or 'node:crypto' (no addon). */
  get kernel(): string {
    if (!this.addon) return 'node:crypto';
    return this.mode === MD5_AUTO ? this.addon.md5Kernel() : MD5_KERNEL_OF[this.mode];
  }

  /** A new body hash; digest() or abandon() it. */
  hash(): BodyHash {
    this.open++;
    return new BodyHash(this, this.addon?.bodyHashCreate());
  }

  /** Resolves at once (undefined) below the cap; otherwise a promise that resolves once below it. */
  belowCap(): Promise<void> | undefined {
    if (this.queuedBytes <= this.maxQueuedBytes) return undefined;
    return new Promise((resolve) => this.capWaiters.push(resolve));
  }

  addonDigest(ctx: Buffer): BodyDigest {
    return this.addon!.bodyHashDigest(ctx);
  }

  enqueue(item: Item): void {
    this.queue.push(item);
    this.queuedBytes += item.data.length;
    this.schedule();
  }

  urgent(): void {
    this.urgentFlush = true;
    this.schedule();
  }

  closed(): void {
    this.open--;
    this.schedule();
  }

  drop(hash: BodyHash): void {
    let dropped = 0;
    let bytes = 0;
    this.queue = this.queue.filter((it) => {
      if (it.hash !== hash) return true;
      dropped++;
      bytes += it.data.length;
      return false;
    });
    this.queuedBytes -= bytes;
    if (dropped > 0) hash.settled(dropped);
    this.releaseCapWaiters();
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    const streams = new Set<BodyHash>();
    for (const it of this.queue) streams.add(it.hash);
    const lanes = Math.max(1, Math.min(LANES, this.open));
    if (this.urgentFlush || streams.size >= lanes || this.queuedBytes >= this.flushBytes) {
      this.run();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      if (!this.running && this.queue.length > 0) this.run();
    }, this.flushDelayMs);
  }

  private run(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.urgentFlush = false;
    const batch = this.queue;
    this.queue = [];
    this.running = true;
    let bytes = 0;
    for (const it of batch) bytes += it.data.length;
    this.stats.batches++;
    this.stats.items += batch.length;
    this.stats.bytes += bytes;
    const done = (err?: Error) => {
      this.running = false;
      this.queuedBytes -= bytes;
      const counts = new Map<BodyHash, number>();
      for (const it of batch) {
        counts.set(it.hash, (counts.get(it.hash) ?? 0) + 1);
        if (!err) it.onHashed?.();
      }
      for (const [h, n] of counts) h.settled(n, err);
      this.releaseCapWaiters();
      this.schedule();
    };
    let p: Promise<void>;
    try {
      p = this.addon!.bodyHashBatch(
        batch.map((it) => it.hash.ctx!),
        batch.map((it) => it.data),
        this.mode,
      );
    } catch (err) {
      queueMicrotask(() => done(err as Error));
      return;
    }
    p.then(
      () => done(),
      (err: unknown) => done(err as Error),
    );
  }

  private releaseCapWaiters(): void {
    if (this.queuedBytes > this.maxQueuedBytes || this.capWaiters.length === 0) return;
    const w = this.capWaiters;
    this.capWaiters = [];
    for (const r of w) r();
  }
}
