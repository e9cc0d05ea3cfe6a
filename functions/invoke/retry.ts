/**
 * Retry policy of the FC invoker: which @alicloud/fc2 failures are transient, and exponential backoff with
 * full jitter between attempts (the project's one formula, shared/retry.ts). Pure: no I/O.
 */
import { backoffDelayMs, NETWORK_ERROR_CODES } from '../../shared/retry.ts';

export interface RetryPolicy {
  /** Total attempts including the first (≥ 1). */
  maxAttempts: number;
  /** Upper bound of the first retry's delay; doubles per retry. */
  baseDelayMs: number;
  /** Cap on any single delay. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({ maxAttempts: 6, baseDelayMs: 200, maxDelayMs: 10_000 });

/** Full jitter: uniform in [0, min(cap, base·2^(retry-1))). `retry` is 1 for the first retry. */
export function fullJitterDelayMs(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  return backoffDelayMs(retry, { baseMs: policy.baseDelayMs, maxMs: policy.maxDelayMs, maxAttempts: policy.maxAttempts }, random);
}

export type FailureClass = 'throttled' | 'server' | 'network' | 'client';

export interface ClassifiedFailure {
  kind: FailureClass;
  retryable: boolean;
  /** HTTP status when the gateway answered. */
  status?: number;
  /** FC ErrorCode (e.g. ResourceExhausted) when the body carried one. */
  fcCode?: string;
}

const NETWORK_CODES = new Set([...NETWORK_ERROR_CODES, 'ENETDOWN']);

/**
 * fc2 throws a plain Error for a non-2xx answer, with the status only inside the message
 * ("POST <path> failed with <status>. requestid: ...") and `code = body.ErrorCode`;
 * httpx timeouts are named `RequestTimeoutError` (ConnectTimeout / ReadTimeout); socket errors keep
 * Node's `code`. 429 and 5xx are transient (FC itself retries them for async calls), as are network
 * failures; every other answer (400 EntityTooLarge, 403 SignatureNotMatch, 404 FunctionNotFound…) is not.
 */
export function classifyFc2Error(err: unknown): ClassifiedFailure {
  const e = err as { name?: unknown; code?: unknown; message?: unknown } | null;
  const message = typeof e?.message === 'string' ? e.message : '';
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const m = / failed with (\d{3})\. requestid:/.exec(message);
  if (m !== null) {
    const status = Number(m[1]);
    const out: ClassifiedFailure =
      status === 429
        ? { kind: 'throttled', retryable: true, status }
        : status >= 500
          ? { kind: 'server', retryable: true, status }
          : { kind: 'client', retryable: false, status };
    if (code !== undefined) out.fcCode = code;
    return out;
  }
  const name = typeof e?.name === 'string' ? e.name : '';
  if (name.startsWith('RequestTimeout')) return { kind: 'network', retryable: true };
  if (code !== undefined && NETWORK_CODES.has(code)) return { kind: 'network', retryable: true };
  if (/socket hang up/i.test(message)) return { kind: 'network', retryable: true };
  return { kind: 'client', retryable: false };
}
