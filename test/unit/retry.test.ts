import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IntegrityError, InvalidInputError, OssferryError } from '../../shared/errors.ts';
import { backoffDelayMs, isRetryableError, retry } from '../../shared/retry.ts';

const policy = { baseMs: 100, maxMs: 2000, maxAttempts: 4 };
const noSleep = async () => {};

describe('backoffDelayMs', () => {
  it('stays within [0, min(max, base·2^(n-1))] (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2000 }), fc.double({ min: 0, max: 1, noNaN: true }), (n, r) => {
        // Act
        const d = backoffDelayMs(n, policy, () => r);
        // Assess
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(Math.min(policy.maxMs, policy.baseMs * 2 ** (n - 1)));
      }),
    );
  });

  it('grows exponentially until the cap', () => {
    // Act
    const delays = [1, 2, 3, 4, 5, 6].map((n) => backoffDelayMs(n, policy, () => 1));
    // Assess
    expect(delays).toEqual([100, 200, 400, 800, 1600, 2000]);
  });
});

describe('isRetryableError', () => {
  it.each([
    [{ status: 503, code: 'ServiceUnavailable' }, true],
    [{ status: 500 }, true],
    [{ status: 429 }, true],
    [{ status: 503, code: 'SlowDown' }, true],
    [{ status: -1 }, true],
    [{ status: -2, name: 'ResponseTimeoutError' }, true],
    [Object.assign(new Error('reset'), { code: 'ECONNRESET' }), true],
    [new IntegrityError('crc mismatch'), true],
    [{ status: 403, code: 'AccessDenied' }, false],
    [{ status: 404, code: 'NoSuchUpload' }, false],
    [{ status: 400, code: 'InvalidArgument' }, false],
    [{ status: 412 }, false],
    [new OssferryError('SourceChanged', 'etag moved'), false],
    [new InvalidInputError('x', 'bad', 'fix'), false],
    ['a string', false],
  ])('%o → %s', (err, expected) => {
    // Act
    const got = isRetryableError(err);
    // Assess
    expect(got).toBe(expected);
  });
});

describe('retry', () => {
  it('retries transient failures and returns the eventual result', async () => {
    // Prepare
    let calls = 0;
    const waits: number[] = [];
    // Act
    const result = await retry(
      async () => {
        calls++;
        if (calls < 3) throw Object.assign(new Error('busy'), { status: 503 });
        return 'ok';
      },
      { policy, sleep: async (ms) => void waits.push(ms), random: () => 0.5 },
    );
    // Assess
    expect(result).toBe('ok');
    expect(calls).toBe(3);
    expect(waits).toEqual([50, 100]);
  });

  it('fails fast on a fatal error', async () => {
    // Prepare
    let calls = 0;
    const fatal = new OssferryError('SourceChanged', 'changed');
    // Act
    const act = retry(async () => {
      calls++;
      throw fatal;
    }, { policy, sleep: noSleep });
    // Assess
    await expect(act).rejects.toBe(fatal);
    expect(calls).toBe(1);
  });

  it('gives up after maxAttempts with the last error', async () => {
    // Prepare
    let calls = 0;
    // Act
    const act = retry(async () => {
      calls++;
      throw Object.assign(new Error(`fail ${calls}`), { status: 500 });
    }, { policy, sleep: noSleep });
    // Assess
    await expect(act).rejects.toThrow('fail 4');
    expect(calls).toBe(4);
  });

  it('does not start a wait that would pass the deadline', async () => {
    // Prepare
    let calls = 0;
    // Act
    const act = retry(async () => {
      calls++;
      throw Object.assign(new Error('busy'), { status: 503 });
    }, { policy, sleep: noSleep, random: () => 1, now: () => 1000, deadlineMs: 1050 });
    // Assess
    await expect(act).rejects.toThrow('busy');
    expect(calls).toBe(1);
  });

  it('stops waiting when the signal aborts', async () => {
    // Prepare
    const ac = new AbortController();
    let calls = 0;
    // Act
    const act = retry(async () => {
      calls++;
      ac.abort();
      throw Object.assign(new Error('busy'), { status: 503 });
    }, { policy, signal: ac.signal });
    // Assess
    await expect(act).rejects.toThrow('busy');
    expect(calls).toBe(1);
  });
});
