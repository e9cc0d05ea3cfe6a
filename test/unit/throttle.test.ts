import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { takeTokens, Throttle, type Bucket } from '../../local/throttle.ts';

/** Replays takes as a throttled sender does: each take after the previous release, plus an idle gap. */
function replay(rate: number, burst: number, steps: Array<{ n: number; gap: number }>): Array<{ sent: number; releasedAt: number }> {
  let bucket: Bucket = { tokens: burst, at: 0 };
  let now = 0;
  let sent = 0;
  const out: Array<{ sent: number; releasedAt: number }> = [];
  for (const { n, gap } of steps) {
    now += gap;
    const r = takeTokens(bucket, n, now, rate, burst);
    bucket = r.bucket;
    now += r.waitMs;
    sent += n;
    out.push({ sent, releasedAt: now });
  }
  return out;
}

const rateArb = fc.integer({ min: 1024, max: 100 * 1024 * 1024 });
const stepsArb = fc.array(fc.record({ n: fc.integer({ min: 1, max: 1024 * 1024 }), gap: fc.integer({ min: 0, max: 2_000 }) }), { minLength: 1, maxLength: 60 });

describe('token bucket (per-connection bandwidth cap of the local servers)', () => {
  it('never lets more than burst + rate × elapsed bytes through, whatever the chunk sizes and idle gaps', () => {
    fc.assert(
      fc.property(rateArb, fc.integer({ min: 1, max: 256 * 1024 }), stepsArb, (rate, burst, steps) => {
        // Act
        const run = replay(rate, burst, steps);
        // Assess
        for (const r of run) expect(r.sent).toBeLessThanOrEqual(burst + (rate * r.releasedAt) / 1000 + 1e-6);
      }),
    );
  });

  it('a sender that never pauses gets the full rate: it waits no longer than the bytes need (1 ms rounding per take)', () => {
    fc.assert(
      fc.property(rateArb, fc.integer({ min: 1, max: 256 * 1024 }), stepsArb, (rate, burst, steps) => {
        // Prepare
        const busy = steps.map((s) => ({ ...s, gap: 0 }));
        // Act
        const run = replay(rate, burst, busy);
        // Assess
        const last = run.at(-1)!;
        const needed = (Math.max(0, last.sent - burst) * 1000) / rate;
        expect(last.releasedAt).toBeLessThanOrEqual(Math.ceil(needed) + busy.length);
      }),
    );
  });

  it('idle time refills the bucket only up to the burst: a long pause buys no catch-up burst', () => {
    fc.assert(
      fc.property(rateArb, fc.integer({ min: 1, max: 256 * 1024 }), fc.integer({ min: 1, max: 600_000 }), (rate, burst, idleMs) => {
        // Prepare: idle at least long enough to fill the bucket
        const idle = Math.ceil((burst * 1000) / rate) + idleMs;
        // Act
        const r = takeTokens({ tokens: 0, at: 0 }, burst + rate, idle, rate, burst);
        // Assess: one second's worth beyond the burst still waits a second
        expect(r.waitMs).toBe(1000);
      }),
    );
  });

  it('Throttle reads its clock: the burst passes at once, the next 64 KiB at 256 KiB/s waits 250 ms', () => {
    // Prepare
    let now = 5_000;
    const t = new Throttle(256 * 1024, { now: () => now });
    // Act
    const first = t.take(64 * 1024);
    const second = t.take(64 * 1024);
    now += 250;
    const third = t.take(0);
    // Assess
    expect([first, second, third]).toEqual([0, 250, 0]);
    expect(t.burst).toBe(64 * 1024);
  });

  it('the default burst is 100 ms of the rate, at least 64 KiB', () => {
    // Act
    const slow = new Throttle(100 * 1024);
    const fast = new Throttle(10 * 1024 * 1024);
    // Assess
    expect(slow.burst).toBe(64 * 1024);
    expect(fast.burst).toBe(1024 * 1024);
  });
});
