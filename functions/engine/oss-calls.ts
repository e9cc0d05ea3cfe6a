/**
 * OSS calls from the coordinator side (copy and archive jobs): ali-oss never retries HTTP errors,
 * so 5xx/resets are retried here under one policy; and reading its response headers.
 */
import { isRetryableError, retry, type BackoffPolicy } from '../../shared/retry.ts';

export const OSS_RETRY_POLICY: Readonly<BackoffPolicy> = Object.freeze({ baseMs: 200, maxMs: 4_000, maxAttempts: 8 });

/** Runs an OSS call, retrying transient failures (shared/retry.ts isRetryableError) until `signal` aborts. */
export function ossRetry<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  return retry(fn, { policy: OSS_RETRY_POLICY, isRetryable: isRetryableError, ...(signal ? { signal } : {}) });
}

/** Response headers as ali-oss exposes them on `res.headers`. */
export type ResponseHeaders = Record<string, string | string[] | undefined>;

/** The first value of a response header. */
export function header(h: ResponseHeaders | undefined, name: string): string | undefined {
  const v = h?.[name];
  return Array.isArray(v) ? v[0] : v;
}
