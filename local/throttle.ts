/**
 * Per-connection bandwidth cap of the local servers (the local OSS's `bandwidthBytesPerSecond` fault, the HTTP
 * source's `bandwidthBytesPerSecond` option): a token bucket. The arithmetic is a pure function of the bucket,
 * the bytes asked for and the time (property-tested); `Throttle` holds one connection's bucket and reads the clock.
 * The bucket holds at most `burst` bytes (by default 100 ms of the rate, at least 64 KiB — one socket read): a
 * connection that was idle — e.g. while the server waited out an injected latency — catches up by at most that
 * much, so the cap holds over any window, not just on average; and a server a little late to send (a busy event
 * loop, a slow disk read) loses no rate, as long as it is less than 100 ms late.
 */
import { Transform, type TransformCallback } from 'node:stream';

export const MIN_BURST_BYTES = 64 * 1024;
/** Default burst, as a time at the bucket's rate. */
export const BURST_MS = 100;

export interface Bucket {
  /** Bytes that may pass now; negative = owed (the last taker waits them out). */
  tokens: number;
  /** When `tokens` was last brought up to date (ms). */
  at: number;
}

/**
 * Takes `n` bytes from `bucket` at time `now` (ms, never before `bucket.at`): the new bucket and how many ms the
 * taker must wait before sending them. Over any run of takes, the bytes released by time t never exceed
 * `burst + rate × (t − start)`.
 */
export function takeTokens(bucket: Bucket, n: number, now: number, bytesPerSecond: number, burst: number): { bucket: Bucket; waitMs: number } {
  const refilled = Math.min(burst, bucket.tokens + ((now - bucket.at) * bytesPerSecond) / 1000);
  const tokens = refilled - n;
  return { bucket: { tokens, at: now }, waitMs: tokens >= 0 ? 0 : Math.ceil((-tokens * 1000) / bytesPerSecond) };
}

/** One connection's bucket. */
export class Throttle {
  readonly bytesPerSecond: number;
  readonly burst: number;
  readonly #now: () => number;
  #bucket: Bucket;
  constructor(bytesPerSecond: number, options: { burst?: number; now?: () => number } = {}) {
    this.bytesPerSecond = bytesPerSecond;
    this.burst = options.burst ?? Math.max(MIN_BURST_BYTES, Math.round((bytesPerSecond * BURST_MS) / 1000));
    this.#now = options.now ?? Date.now;
    this.#bucket = { tokens: this.burst, at: this.#now() };
  }
  /** ms to wait before `n` bytes may pass (and consumes them). */
  take(n: number): number {
    const r = takeTokens(this.#bucket, n, Math.max(this.#bucket.at, this.#now()), this.bytesPerSecond, this.burst);
    this.#bucket = r.bucket;
    return r.waitMs;
  }
}

/** A pass-through that delays chunks to respect `throttle`. */
export function throttled(throttle: Throttle): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      const wait = throttle.take(chunk.length);
      if (wait === 0) cb(null, chunk);
      else setTimeout(() => cb(null, chunk), wait);
    },
  });
}
