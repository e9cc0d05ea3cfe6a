import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { etaSeconds, progressRate, pushSample, RATE_WINDOW_MS, windowedRate, type ProgressSample } from '../../shared/progress-rate.ts';

/** Increasing times (ms) and non-decreasing bytes done. */
const monotoneSamples = fc
  .array(fc.tuple(fc.integer({ min: 1, max: 3_000 }), fc.integer({ min: 0, max: 50_000_000 })), { minLength: 0, maxLength: 40 })
  .map((steps) => {
    let atMs = 1_000_000;
    let done = 0;
    return steps.map(([dt, dd]) => ({ atMs: (atMs += dt), done: (done += dd) }));
  });

const fed = (samples: readonly ProgressSample[]) => samples.reduce<ProgressSample[]>((kept, s) => pushSample(kept, s), []);

describe('windowed progress rate', () => {
  it('is never negative for monotone samples, and undefined only without two distinct times', () => {
    fc.assert(
      fc.property(monotoneSamples, (samples) => {
        // Act
        const rate = windowedRate(samples);
        // Assess
        if (samples.length < 2) expect(rate).toBeUndefined();
        else expect(rate).toBeGreaterThanOrEqual(0);
      }),
    );
  });

  it('equals the rate of a constant-rate series, whatever the sampling times', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2_000_000_000 }),
        fc.array(fc.integer({ min: 1, max: 4_000 }), { minLength: 1, maxLength: 40 }),
        (bytesPerSecond, gaps) => {
          // Prepare
          let atMs = 0;
          const samples = [{ atMs: 0, done: 0 }, ...gaps.map((g) => ((atMs += g), { atMs, done: (bytesPerSecond * atMs) / 1000 }))];
          // Act
          const rate = windowedRate(fed(samples));
          // Assess
          expect(Math.abs(rate! - bytesPerSecond) / bytesPerSecond).toBeLessThan(1e-9);
        },
      ),
    );
  });

  it('gives the same rate from the trimmed samples as from the whole series', () => {
    fc.assert(
      fc.property(monotoneSamples, (samples) => {
        // Act
        const kept = fed(samples);
        // Assess
        expect(windowedRate(kept)).toBe(windowedRate(samples));
        expect(kept.length).toBeLessThanOrEqual(samples.length);
      }),
    );
  });

  it('follows a pause within the window instead of averaging since the start', () => {
    // Prepare: 10 s at 10 MB/s, then 10 s with nothing done.
    const samples: ProgressSample[] = [];
    for (let t = 0; t <= 20; t++) samples.push({ atMs: t * 1000, done: Math.min(t, 10) * 10_000_000 });
    const sinceStart = samples.at(-1)!.done / 20;
    // Act
    const paused = progressRate(fed(samples), 200_000_000);
    const running = progressRate(fed(samples.slice(0, 11)), 200_000_000);
    // Assess
    expect(sinceStart).toBe(5_000_000);
    expect(paused.rate).toBe(0);
    expect(paused.etaSeconds).toBeUndefined();
    expect(running.rate).toBe(10_000_000);
    expect(running.etaSeconds).toBe(10);
  });

  it('trims to the window plus its base sample', () => {
    // Prepare
    const samples = Array.from({ length: 30 }, (_, i) => ({ atMs: i * 1000, done: i }));
    // Act
    const kept = fed(samples);
    // Assess
    expect(kept[0]!.atMs).toBe(29_000 - RATE_WINDOW_MS);
    expect(kept.at(-1)!.atMs).toBe(29_000);
  });

  it('ignores a sample older than the newest', () => {
    // Act
    const kept = pushSample([{ atMs: 2000, done: 5 }], { atMs: 1000, done: 9 });
    // Assess
    expect(kept).toEqual([{ atMs: 2000, done: 5 }]);
  });
});

describe('ETA', () => {
  it('is remaining / rate for a positive rate, and absent (never Infinity or NaN) otherwise', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e12 }), fc.oneof(fc.constant(undefined), fc.constant(0), fc.double({ min: 1e-3, max: 1e10, noNaN: true })), (remaining, rate) => {
        // Act
        const eta = etaSeconds(remaining, rate);
        // Assess
        if (rate === undefined || rate === 0) expect(eta).toBeUndefined();
        else expect(eta).toBeCloseTo(remaining / rate, 6);
        if (eta !== undefined) expect(Number.isFinite(eta)).toBe(true);
      }),
    );
  });

  it('is 0 when nothing remains, and absent without samples', () => {
    // Act / Assess
    expect(etaSeconds(0, undefined)).toBe(0);
    expect(progressRate([], 100)).toEqual({});
    expect(progressRate([{ atMs: 1, done: 0 }], 100)).toEqual({});
  });
});
