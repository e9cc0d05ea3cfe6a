import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decideSweep, parseDurationSeconds, parseSweepEvent, TERMINAL_JOB_STATES, type OpenUpload, type UploadJob } from '../../shared/sweep.ts';

const HOUR = 3_600_000;
const states = fc.constantFrom('initiating', 'running', 'completing', 'interrupted', 'succeeded', 'failed', 'cancelled');

describe('decideSweep', () => {
  it('aborts exactly the old uploads whose job is terminal, unknown or abandoned (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(
          fc.record({ uploadId: fc.stringMatching(/^[0-9A-F]{4,8}$/), ageMs: fc.integer({ min: 0, max: 48 * HOUR }), job: fc.option(states, { nil: undefined }), idleMs: fc.option(fc.integer({ min: 0, max: 48 * HOUR }), { nil: undefined }) }),
          { selector: (u) => u.uploadId, maxLength: 20 },
        ),
        fc.integer({ min: 0, max: 30 * HOUR }),
        fc.integer({ min: 0, max: 30 * HOUR }),
        (specs, olderThanMs, abandonedAfterMs) => {
          // Prepare
          const now = 100 * HOUR;
          const uploads: OpenUpload[] = specs.map((s) => ({ bucket: 'b', key: `k/${s.uploadId}`, uploadId: s.uploadId, initiatedMs: now - s.ageMs }));
          const jobs = new Map<string, UploadJob>(
            specs.flatMap((s) => (s.job ? [[s.uploadId, { jobId: `j-${s.uploadId}`, state: s.job, ...(s.idleMs !== undefined ? { updatedAtMs: now - s.idleMs } : {}) }] as const] : [])),
          );
          // Act
          const decisions = decideSweep(uploads, jobs, now, olderThanMs, abandonedAfterMs);
          // Assess
          expect(decisions).toHaveLength(uploads.length);
          decisions.forEach((d, i) => {
            const s = specs[i]!;
            const abandoned = s.idleMs !== undefined && s.idleMs >= abandonedAfterMs;
            const shouldAbort = s.ageMs >= olderThanMs && (s.job === undefined || TERMINAL_JOB_STATES.has(s.job) || abandoned);
            expect(d.action).toBe(shouldAbort ? 'abort' : 'keep');
            expect(d.reason.length).toBeGreaterThan(0);
          });
        },
      ),
    );
  });

  it('names the reason of each decision', () => {
    // Prepare
    const now = 10 * HOUR;
    const up = (id: string, age: number): OpenUpload => ({ bucket: 'b', key: id, uploadId: id, initiatedMs: now - age });
    const jobs = new Map<string, UploadJob>([
      ['done', { jobId: 'j1', state: 'succeeded' }],
      ['live', { jobId: 'j2', state: 'running', updatedAtMs: now - 60_000 }],
      ['given-up', { jobId: 'j3', state: 'running', updatedAtMs: now - 3 * HOUR }],
    ]);
    // Act
    const d = decideSweep([up('young', 1000), up('orphan', 2 * HOUR), up('done', 2 * HOUR), up('live', 2 * HOUR), up('given-up', 4 * HOUR)], jobs, now, HOUR, 2 * HOUR);
    // Assess
    expect(d.map((x) => [x.action, x.reason])).toEqual([
      ['keep', 'younger than the grace period (1 s old)'],
      ['abort', 'no job records this upload'],
      ['abort', 'its job j1 is succeeded'],
      ['keep', 'its job j2 is running and may resume'],
      ['abort', 'its job j3 is running but its status has not changed for 10800 s: abandoned, nothing resumes it'],
    ]);
  });
});

describe('parseDurationSeconds', () => {
  it('reads a whole number with an optional s/m/h/d unit (property), refuses anything else', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000 }), fc.constantFrom(['', 1], ['s', 1], ['m', 60], ['h', 3600], ['d', 86_400]), (n, [unit, mult]) => {
        // Act
        const r = parseDurationSeconds(`${n}${unit as string}`);
        // Assess
        expect(r).toBe(n * (mult as number));
      }),
    );
    // Act / Assess
    for (const bad of ['', 'soon', '1.5h', '-1h', '24 hours', '1w']) expect(parseDurationSeconds(bad)).toMatch(/is not a duration/);
  });
});

describe('parseSweepEvent', () => {
  it('recognises only kind "sweep", validates its fields and names what is wrong', () => {
    // Act
    const ok = parseSweepEvent({ kind: 'sweep', olderThanSeconds: 86_400, destinations: [{ bucket: 'acme-archive', prefix: 'logs/' }] });
    const dry = parseSweepEvent({ kind: 'sweep', olderThanSeconds: 0, destinations: [{ bucket: 'acme-archive' }], dryRun: true });
    const notSweep = [parseSweepEvent({ source: 'http://h/f', destination: 'oss://b/k' }), parseSweepEvent({ events: [] }), parseSweepEvent(null), parseSweepEvent([])];
    const d = [{ bucket: 'acme-archive', prefix: '' }];
    const bad = [
      parseSweepEvent({ kind: 'sweep', destinations: d }),
      parseSweepEvent({ kind: 'sweep', olderThanSeconds: -1, destinations: d }),
      parseSweepEvent({ kind: 'sweep', olderThanSeconds: 1.5, destinations: d }),
      parseSweepEvent({ kind: 'sweep', olderThanSeconds: 1, destinations: d, dryRun: 'yes' }),
      parseSweepEvent({ kind: 'sweep', olderThanSeconds: 1, destinations: d, extra: 1 }),
      parseSweepEvent({ kind: 'sweep', olderThanSeconds: 1 }),
      parseSweepEvent({ kind: 'sweep', olderThanSeconds: 1, destinations: [] }),
      parseSweepEvent({ kind: 'sweep', olderThanSeconds: 1, destinations: [{ bucket: 'X' }] }),
    ];
    // Assess
    expect(ok).toEqual({ kind: 'sweep', olderThanSeconds: 86_400, destinations: [{ bucket: 'acme-archive', prefix: 'logs/' }] });
    expect(dry).toEqual({ kind: 'sweep', olderThanSeconds: 0, destinations: [{ bucket: 'acme-archive', prefix: '' }], dryRun: true });
    expect(notSweep).toEqual([undefined, undefined, undefined, undefined]);
    expect(bad.slice(0, 3)).toEqual(Array(3).fill('olderThanSeconds must be a whole number of seconds ≥ 0'));
    expect(bad[3]).toBe('dryRun must be true or false');
    expect(bad[4]).toBe('unknown field "extra" in a sweep event');
    expect(bad.slice(5)).toEqual(Array(3).fill('destinations must be a non-empty list of {"bucket","prefix"}'));
  });
});
