import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { classifyFc2Error, fullJitterDelayMs, DEFAULT_RETRY_POLICY } from '../../functions/invoke/retry.ts';

/** An error shaped exactly as @alicloud/fc2 2.6.6 lib/client.js builds it for a non-2xx answer. */
function fc2Error(status: number, errorCode: string | undefined): Error & { code?: string } {
  const err = new Error(
    `POST /services/svc/functions/fn/invocations failed with ${status}. requestid: abc, message: something.`,
  ) as Error & { code?: string };
  err.name = `FC${errorCode}Error`;
  err.code = errorCode;
  return err;
}

describe('fullJitterDelayMs', () => {
  it('stays within [0, min(cap, base·2^(retry-1)))', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (retry, base, cap, r) => {
          // Prepare
          const policy = { maxAttempts: 5, baseDelayMs: base, maxDelayMs: cap };
          // Act
          const d = fullJitterDelayMs(retry, policy, () => r);
          // Assess
          const ceiling = Math.min(cap, base * 2 ** (retry - 1));
          expect(d).toBeGreaterThanOrEqual(0);
          expect(d).toBeLessThan(Math.max(1, ceiling));
          expect(Number.isInteger(d)).toBe(true);
        },
      ),
    );
  });

  it('doubles the ceiling per retry until the cap', () => {
    // Prepare
    const almostOne = () => 0.999999;
    // Act
    const ceilings = [1, 2, 3, 4, 10].map((n) => fullJitterDelayMs(n, DEFAULT_RETRY_POLICY, almostOne));
    // Assess
    expect(ceilings).toEqual([199, 399, 799, 1599, 9999]);
  });
});

describe('classifyFc2Error', () => {
  it('reads the status from the fc2 message and keeps the FC code', () => {
    // Prepare
    const cases = [
      [fc2Error(429, 'ResourceExhausted'), { kind: 'throttled', retryable: true, status: 429, fcCode: 'ResourceExhausted' }],
      [fc2Error(503, 'ResourceThrottled'), { kind: 'server', retryable: true, status: 503, fcCode: 'ResourceThrottled' }],
      [fc2Error(500, 'InternalServerError'), { kind: 'server', retryable: true, status: 500, fcCode: 'InternalServerError' }],
      [fc2Error(403, 'SignatureNotMatch'), { kind: 'client', retryable: false, status: 403, fcCode: 'SignatureNotMatch' }],
      [fc2Error(400, 'EntityTooLarge'), { kind: 'client', retryable: false, status: 400, fcCode: 'EntityTooLarge' }],
      [fc2Error(502, undefined), { kind: 'server', retryable: true, status: 502 }],
    ] as const;
    // Act
    const got = cases.map(([err]) => classifyFc2Error(err));
    // Assess
    expect(got).toEqual(cases.map(([, want]) => want));
  });

  it('treats httpx timeouts and socket errors as retryable network failures', () => {
    // Prepare
    const timeout = Object.assign(new Error('ReadTimeout(1000)'), { name: 'RequestTimeoutError' });
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    // Act
    const got = [timeout, reset, refused].map((e) => classifyFc2Error(e));
    // Assess
    expect(got.every((c) => c.kind === 'network' && c.retryable)).toBe(true);
  });

  it('does not retry what it cannot classify (a JSON parse error, a TypeError)', () => {
    // Prepare
    const errs = [new SyntaxError('Unexpected end of JSON input'), new TypeError('"event" must be String or Buffer'), 'text'];
    // Act
    const got = errs.map((e) => classifyFc2Error(e));
    // Assess
    expect(got).toEqual([
      { kind: 'client', retryable: false },
      { kind: 'client', retryable: false },
      { kind: 'client', retryable: false },
    ]);
  });
});

describe('invokerOptionsFromContext', () => {
  it('takes credentials, account and region from the context and the endpoint from env', async () => {
    // Prepare
    const { invokerOptionsFromContext } = await import('../../functions/invoke/invoker.ts');
    const { silentLogger } = await import('../../shared/log.ts');
    const ctx = {
      credentials: { accessKeyId: 'STS.x', accessKeySecret: 's', securityToken: 't' },
      accountId: '',
      region: 'cn-beijing',
      logger: silentLogger,
    };
    // Act
    const opts = invokerOptionsFromContext(ctx, { OSSFERRY_ACCOUNT_ID: '42', OSSFERRY_FC_ENDPOINT: 'http://127.0.0.1:1' }, 5000);
    // Assess
    expect(opts).toMatchObject({
      accountId: '42',
      region: 'cn-beijing',
      endpoint: 'http://127.0.0.1:1',
      accessKeyId: 'STS.x',
      accessKeySecret: 's',
      securityToken: 't',
      timeoutMs: 5000,
    });
  });

  it('names the missing piece when the context has no credentials', async () => {
    // Prepare
    const { invokerOptionsFromContext } = await import('../../functions/invoke/invoker.ts');
    const { silentLogger } = await import('../../shared/log.ts');
    const ctx = { credentials: { accessKeyId: '', accessKeySecret: '' }, accountId: '1', region: 'r', logger: silentLogger };
    // Act
    const act = () => invokerOptionsFromContext(ctx, {}, 1000);
    // Assess
    expect(act).toThrow(/credentials: the invocation carries no x-fc-access-key-id/);
  });
});
