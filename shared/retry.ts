/**
 * Retry policy: exponential backoff with full jitter, an error classifier that knows which failures may
 * pass (network, 5xx, 429/SlowDown, CRC mismatch) and which never will (4xx logic errors, a changed
 * source, bad input), and a small `retry()` helper. Pure apart from timers: no I/O.
 *
 * ali-oss itself retries only network errors, with a fixed 500 ms and never for stream bodies
 * (it cannot re-send a consumed stream), so ossferry retries at its own level by re-reading the range.
 */

/** How long to wait between attempts. */
export interface BackoffPolicy {
  /** Delay cap before jitter for the first retry, in ms. */
  baseMs: number;
  /** Upper bound of any single delay, in ms. */
  maxMs: number;
  /** Total attempts including the first one (≥ 1). */
  maxAttempts: number;
}

export const DEFAULT_BACKOFF: Readonly<BackoffPolicy> = Object.freeze({ baseMs: 250, maxMs: 15_000, maxAttempts: 6 });

/**
 * Delay before retry number `retryNumber` (1 = the first retry): "full jitter",
 * uniform in [0, min(maxMs, baseMs·2^(retryNumber−1))]. Full jitter spreads a herd of workers that failed
 * together (e.g. on a throttled bucket) instead of having them retry in lock-step.
 */
export function backoffDelayMs(retryNumber: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(retryNumber));
  // 2^(n-1) overflows to Infinity for large n; Math.min keeps the cap.
  const cap = Math.min(policy.maxMs, policy.baseMs * 2 ** (n - 1));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(cap * r);
}

/** Error codes (OssferryError `code`, or OSS error codes) that mean "retrying cannot help". */
const FATAL_CODES = new Set([
  'SourceChanged',
  'InvalidInput',
  'DestinationExists',
  'FileAlreadyExists',
  'NoSuchUpload',
  'NoSuchBucket',
  'NoSuchKey',
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'PreconditionFailed',
  'InvalidArgument',
  'InvalidPart',
  'InvalidPartOrder',
  'EntityTooSmall',
  'Aborted',
  'AbortError',
]);

/** Node socket/DNS error codes (`err.code`) of a connection that failed or broke: worth another attempt. */
export const NETWORK_ERROR_CODES: readonly string[] = Object.freeze([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
]);

/** Codes that may pass: our own transient errors, OSS throttling/internal errors, Node socket errors. */
const RETRYABLE_CODES = new Set([
  'Integrity',
  'SourceUnavailable',
  'SlowDown',
  'RequestTimeout',
  'InternalError',
  'ServiceUnavailable',
  ...NETWORK_ERROR_CODES,
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
  'ResponseTimeoutError',
  'ConnectionTimeoutError',
  'RequestError',
  'ResponseError',
]);

/**
 * Whether an error may pass on retry. Looks at `code`, `name` and an HTTP `status` (ali-oss puts the
 * status on its errors; -1 = network, -2 = timeout). Unknown errors without any
 * of these are treated as transient (a dropped socket often surfaces as a bare Error).
 */
export function isRetryableError(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false;
  const e = err as { code?: unknown; name?: unknown; status?: unknown; retryable?: unknown };
  if (typeof e.retryable === 'boolean') return e.retryable;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const name = typeof e.name === 'string' ? e.name : undefined;
  if ((code && FATAL_CODES.has(code)) || (name && FATAL_CODES.has(name))) return false;
  if ((code && RETRYABLE_CODES.has(code)) || (name && RETRYABLE_CODES.has(name))) return true;
  if (typeof e.status === 'number') {
    if (e.status === -1 || e.status === -2) return true;
    if (e.status === 429 || e.status === 408 || e.status >= 500) return true;
    if (e.status >= 400) return false;
  }
  return err instanceof Error;
}

export interface RetryOptions {
  policy?: BackoffPolicy;
  /** Classifier; defaults to `isRetryableError`. */
  isRetryable?: (err: unknown) => boolean;
  /** Stops waiting and rethrows the last error when aborted. */
  signal?: AbortSignal;
  /** Epoch ms after which no new attempt starts (the last error is rethrown). */
  deadlineMs?: number;
  now?: () => number;
  random?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Called before each wait: for logs and metrics. */
  onRetry?: (err: unknown, retryNumber: number, delayMs: number) => void;
}

/** setTimeout as a promise that rejects with the signal's reason when aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `fn(attempt)` (attempt counts from 1) until it succeeds, the error is not retryable, attempts
 * run out, the deadline would be passed by the next wait, or the signal aborts. Rethrows the last error.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const policy = options.policy ?? DEFAULT_BACKOFF;
  const isRetryable = options.isRetryable ?? isRetryableError;
  const now = options.now ?? Date.now;
  const wait = options.sleep ?? sleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= policy.maxAttempts || !isRetryable(err) || options.signal?.aborted) throw err;
      const delay = backoffDelayMs(attempt, policy, options.random);
      if (options.deadlineMs !== undefined && now() + delay >= options.deadlineMs) throw err;
      options.onRetry?.(err, attempt, delay);
      try {
        await wait(delay, options.signal);
      } catch {
        throw err;
      }
    }
  }
}
