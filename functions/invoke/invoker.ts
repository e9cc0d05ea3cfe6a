/**
 * Invokes FC functions through the unmodified @alicloud/fc2 client and adds what it lacks:
 * function errors become exceptions (fc2 resolves them as HTTP 200 with `x-fc-error-type`), 429/5xx/network
 * failures are retried with exponential backoff and full jitter (fc2 never retries), results are parsed,
 * and an AbortSignal is honoured between and during attempts.
 */
import FCClient from '@alicloud/fc2';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidInputError, OssferryError } from '../../shared/errors.ts';
import { FC } from '../../shared/limits.ts';
import type { Logger } from '../../shared/log.ts';
import { FUNCTION_ENV } from '../../shared/function-env.ts';
import { bigintAsDecimal } from '../../shared/json.ts';
import type { FcContext, FunctionErrorBody } from '../runtime/types.ts';
import { DEFAULT_RETRY_POLICY, classifyFc2Error, fullJitterDelayMs, type RetryPolicy } from './retry.ts';

export interface FcInvokerOptions {
  accountId: string;
  region: string;
  /**
   * Full URL (local gateway). Default: https://<acct>.<region>.fc.aliyuncs.com. fc2's own default is plain
   * http, which would carry the STS token and payload unencrypted, so the invoker sets `secure`.
   */
  endpoint?: string;
  /** Without `endpoint`: use <acct>.<region>-internal.fc.aliyuncs.com (fc2 `internal`), e.g. from inside a VPC. */
  internal?: boolean;
  accessKeyId: string;
  accessKeySecret: string;
  securityToken?: string;
  /**
   * Per-attempt client deadline in ms, covering connect → end of body (fc2/httpx). For sync calls it must
   * exceed the invoked function's timeout, or a healthy long invocation is cut off client-side.
   */
  timeoutMs: number;
  logger: Logger;
  retry?: Partial<RetryPolicy>;
  /** For tests of the jitter; default Math.random. */
  random?: () => number;
}

export interface InvokeOptions {
  /** `X-Fc-Invocation-Type: Async`: FC answers 202 and runs the function in the background. */
  async?: boolean;
  signal?: AbortSignal;
}

/** What an async invocation resolves to. */
export interface AsyncInvocation {
  requestId: string;
}

export interface FcInvoker {
  /**
   * Sync: resolves with the function's parsed JSON result. Async: resolves with `AsyncInvocation`.
   * A Buffer payload is sent as is; anything else is sent as JSON.
   */
  invoke<T>(service: string, fn: string, payload: unknown, opts?: InvokeOptions): Promise<T>;
}

/** The function ran and reported failure (fc2 resolves it as a 200 answer with `x-fc-error-type`). */
export class FunctionInvocationError extends OssferryError {
  readonly service: string;
  readonly functionName: string;
  readonly requestId: string | undefined;
  /** x-fc-error-type: UnhandledInvocationError | HandledInvocationError. */
  readonly errorType: string;
  /** The function's error JSON ({errorMessage, errorType, code, retryable, …}) or its raw text. */
  readonly body: FunctionErrorBody | string;
  readonly retryable: boolean;
  readonly attempts: number;
  constructor(args: {
    service: string;
    functionName: string;
    requestId: string | undefined;
    errorType: string;
    body: FunctionErrorBody | string;
    attempts: number;
  }) {
    const b = args.body;
    const detail = typeof b === 'string' ? b.slice(0, 500) : `${b.errorType}${b.code ? ` (${b.code})` : ''}: ${b.errorMessage}`;
    super('FunctionInvocation', `${args.service}/${args.functionName} failed (${args.errorType}): ${detail}`);
    this.service = args.service;
    this.functionName = args.functionName;
    this.requestId = args.requestId;
    this.errorType = args.errorType;
    this.body = b;
    this.retryable = typeof b === 'object' && b.retryable === true;
    this.attempts = args.attempts;
  }
}

/** FC did not run the function: rejected the call (4xx), kept failing (429/5xx/network past the retries). */
export class FcInvokeError extends OssferryError {
  readonly status: number | undefined;
  readonly fcCode: string | undefined;
  readonly attempts: number;
  readonly retryable: boolean;
  constructor(message: string, args: { status?: number; fcCode?: string; attempts: number; retryable: boolean; cause: unknown }) {
    super('FcInvoke', message, { cause: args.cause });
    this.status = args.status;
    this.fcCode = args.fcCode;
    this.attempts = args.attempts;
    this.retryable = args.retryable;
  }
}

function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

function encodePayload(payload: unknown): Buffer {
  if (Buffer.isBuffer(payload)) return payload;
  return Buffer.from(
    JSON.stringify(payload === undefined ? null : payload, bigintAsDecimal),
    'utf8',
  );
}

/** fc2 already JSON-parsed an application/json body; a text body may still be JSON. */
function decodeData(data: unknown): unknown {
  if (Buffer.isBuffer(data)) data = data.toString('utf8');
  if (typeof data !== 'string') return data;
  if (data === '') return undefined;
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return data;
  }
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

/** fc2 cannot cancel a request; the caller stops waiting and the request ends at its own timeout. */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

export function createFcInvoker(options: FcInvokerOptions): FcInvoker {
  if (!(Number.isFinite(options.timeoutMs) && options.timeoutMs > 0)) {
    throw new InvalidInputError('timeoutMs', `is ${options.timeoutMs}`, 'give a positive number of ms above the function timeout');
  }
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const random = options.random ?? Math.random;
  const headers: Record<string, string> = {};
  // fc2 sends x-fc-security-token only for access key ids starting with "STS" (client.js constructor); pass it
  // as a default header (signed like every x-fc-* header) so any STS-style key pair works.
  if (options.securityToken !== undefined) headers['x-fc-security-token'] = options.securityToken;
  const client = new FCClient(options.accountId, {
    accessKeyID: options.accessKeyId,
    accessKeySecret: options.accessKeySecret,
    ...(options.securityToken !== undefined ? { securityToken: options.securityToken } : {}),
    region: options.region,
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : { secure: true, internal: options.internal === true }),
    timeout: options.timeoutMs,
    headers,
  });
  const logger = options.logger;

  return {
    async invoke<T>(service: string, fn: string, payload: unknown, opts: InvokeOptions = {}): Promise<T> {
      const body = encodePayload(payload);
      const limit = opts.async === true ? FC.MAX_ASYNC_PAYLOAD : FC.MAX_SYNC_PAYLOAD;
      if (body.length > limit) {
        throw new InvalidInputError(
          'payload',
          `is ${body.length} bytes, over FC's ${opts.async === true ? 'async' : 'sync'} limit of ${limit}`,
          'pass a reference (e.g. an OSS key) instead of the data (FC limits: sync 32 MB, async 128 KB)',
        );
      }
      const callHeaders: Record<string, string> = opts.async === true ? { 'X-Fc-Invocation-Type': 'Async' } : {};
      const log = logger.child({ service, function: fn, async: opts.async === true });
      for (let attempt = 1; ; attempt++) {
        opts.signal?.throwIfAborted();
        let retryReason: string;
        let lastError: unknown;
        try {
          const resp = await raceAbort(client.invokeFunction(service, fn, body, callHeaders), opts.signal);
          const requestId = header(resp.headers, 'x-fc-request-id');
          const errorType = header(resp.headers, 'x-fc-error-type');
          if (errorType === undefined) {
            if (opts.async === true) return { requestId: requestId ?? '' } as T;
            return decodeData(resp.data) as T;
          }
          const decoded = decodeData(resp.data);
          const fe = new FunctionInvocationError({
            service,
            functionName: fn,
            requestId,
            errorType,
            body: typeof decoded === 'object' && decoded !== null ? (decoded as FunctionErrorBody) : String(decoded ?? ''),
            attempts: attempt,
          });
          if (!fe.retryable || attempt >= policy.maxAttempts) throw fe;
          retryReason = `function error marked retryable: ${fe.message}`;
          lastError = fe;
        } catch (err) {
          if (err instanceof FunctionInvocationError) throw err;
          if (opts.signal?.aborted) throw err;
          const c = classifyFc2Error(err);
          if (!c.retryable || attempt >= policy.maxAttempts) {
            const why = c.retryable ? `gave up after ${attempt} attempts` : 'not retryable';
            throw new FcInvokeError(`invoking ${service}/${fn} failed (${why}): ${(err as Error)?.message ?? String(err)}`, {
              ...(c.status !== undefined ? { status: c.status } : {}),
              ...(c.fcCode !== undefined ? { fcCode: c.fcCode } : {}),
              attempts: attempt,
              retryable: c.retryable,
              cause: err,
            });
          }
          retryReason = `${c.kind}${c.status !== undefined ? ` ${c.status}` : ''}${c.fcCode !== undefined ? ` ${c.fcCode}` : ''}`;
          lastError = err;
        }
        const delayMs = fullJitterDelayMs(attempt, policy, random);
        log.warn('fc invoke retrying', { attempt, delayMs, reason: retryReason, error: (lastError as Error)?.message });
        await sleep(delayMs, undefined, opts.signal ? { signal: opts.signal } : {}).catch((err: unknown) => {
          // timers/promises rejects with a generic AbortError; callers get their own abort reason.
          throw opts.signal?.aborted ? abortError(opts.signal) : err;
        });
      }
    },
  };
}

/**
 * Invoker settings for a function that invokes another (coordinator → worker): the service role's STS
 * credentials from the invocation context, account and region from the context (env as fallback), and the
 * endpoint override OSSFERRY_FC_ENDPOINT (set by the local cloud; unset in FC).
 */
export function invokerOptionsFromContext(
  ctx: Pick<FcContext, 'credentials' | 'accountId' | 'region' | 'logger'>,
  env: Record<string, string | undefined>,
  timeoutMs: number,
): FcInvokerOptions {
  const accountId = ctx.accountId || env[FUNCTION_ENV.ACCOUNT_ID] || '';
  const region = ctx.region || env[FUNCTION_ENV.REGION] || '';
  if (accountId === '') {
    throw new InvalidInputError('accountId', 'is unknown (no x-fc-account-id header)', `set ${FUNCTION_ENV.ACCOUNT_ID}`);
  }
  if (region === '') throw new InvalidInputError('region', 'is unknown (no x-fc-region header)', `set ${FUNCTION_ENV.REGION}`);
  if (ctx.credentials.accessKeyId === '') {
    throw new InvalidInputError(
      'credentials',
      'the invocation carries no x-fc-access-key-id',
      'give the FC service a RAM role allowed fc:InvokeFunction, so FC passes its STS keys in x-fc-access-key-id',
    );
  }
  const endpoint = env[FUNCTION_ENV.FC_ENDPOINT];
  return {
    accountId,
    region,
    ...(endpoint ? { endpoint } : {}),
    accessKeyId: ctx.credentials.accessKeyId,
    accessKeySecret: ctx.credentials.accessKeySecret,
    ...(ctx.credentials.securityToken !== undefined ? { securityToken: ctx.credentials.securityToken } : {}),
    timeoutMs,
    logger: ctx.logger,
  };
}
