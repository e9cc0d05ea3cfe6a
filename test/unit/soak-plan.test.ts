/** The soak's plan and verdicts (bench/soak/plan.ts): pure, so checked here rather than by running the soak. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { judge, LARGEST, LARGEST_FROM, MiB, planSoak, sizeFrom, type JobObservation } from '../../bench/soak/plan.ts';

describe('planSoak', () => {
  it('is deterministic per seed, sizes stay within 0 B .. 256 MiB, and one job is the largest in a long enough run', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 120 }), fc.nat(), (jobs, seed) => {
        // Act
        const a = planSoak(jobs, seed);
        const b = planSoak(jobs, seed);
        // Assess
        expect(a).toEqual(b);
        expect(a).toHaveLength(jobs);
        expect(a.every((j) => j.size >= 0 && j.size <= LARGEST)).toBe(true);
        expect(a.filter((j) => j.size === LARGEST).length).toBe(jobs >= LARGEST_FROM ? 1 : 0);
      }),
      { numRuns: 50 },
    );
  });

  it('skews sizes small: outside the one largest job nothing exceeds 40 MiB, and most jobs are under 2 MiB', () => {
    fc.assert(fc.property(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (r, s) => sizeFrom(r, s) <= 40 * MiB));
    const plan = planSoak(200, 1);
    expect(plan.filter((j) => j.size < 2 * MiB).length).toBeGreaterThan(100);
    expect(new Set(plan.map((j) => j.kind)).size).toBe(4);
    expect(plan.some((j) => j.preexisting) && plan.some((j) => j.duplicateAfterMs !== undefined)).toBe(true);
  });
});

describe('judge', () => {
  const base: JobObservation = { destinationSha256: 'S', sourceSha256: 'S', preexistingSha256: undefined, reportedFailure: false, uploadsLeft: 0 };
  it.each<[string, Partial<JobObservation>, string]>([
    ['the source at the destination', {}, 'correct'],
    ['other bytes at the destination', { destinationSha256: 'X' }, 'corrupt'],
    ['nothing there, failure reported, nothing left', { destinationSha256: undefined, reportedFailure: true }, 'cleanlyFailed'],
    ['nothing there, no failure reported', { destinationSha256: undefined }, 'lost'],
    ['nothing there, failure reported, an upload left', { destinationSha256: undefined, reportedFailure: true, uploadsLeft: 1 }, 'lost'],
    ['pre-existing object untouched, failure reported', { destinationSha256: 'P', preexistingSha256: 'P', reportedFailure: true }, 'cleanlyFailed'],
    ['pre-existing object replaced', { destinationSha256: 'S', preexistingSha256: 'P' }, 'overwritten'],
    ['pre-existing object untouched but success reported', { destinationSha256: 'P', preexistingSha256: 'P' }, 'lost'],
  ])('%s → %s', (_what, o, verdict) => {
    expect(judge({ ...base, ...o })).toBe(verdict);
  });
});
