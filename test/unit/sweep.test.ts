import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decideSweep, TERMINAL_JOB_STATES, type OpenUpload, type UploadJob } from '../../shared/sweep.ts';

const HOUR = 3_600_000;
const states = fc.constantFrom('initiating', 'running', 'completing', 'interrupted', 'succeeded', 'failed', 'cancelled');

describe('decideSweep', () => {
  it('aborts exactly the old uploads whose job is terminal or unknown (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.record({ uploadId: fc.stringMatching(/^[0-9A-F]{4,8}$/), ageMs: fc.integer({ min: 0, max: 48 * HOUR }), job: fc.option(states, { nil: undefined }) }), { selector: (u) => u.uploadId, maxLength: 20 }),
        fc.integer({ min: 0, max: 30 * HOUR }),
        (specs, olderThanMs) => {
          // Prepare
          const now = 100 * HOUR;
          const uploads: OpenUpload[] = specs.map((s) => ({ bucket: 'b', key: `k/${s.uploadId}`, uploadId: s.uploadId, initiatedMs: now - s.ageMs }));
          const jobs = new Map<string, UploadJob>(specs.flatMap((s) => (s.job ? [[s.uploadId, { jobId: `j-${s.uploadId}`, state: s.job }] as const] : [])));
          // Act
          const decisions = decideSweep(uploads, jobs, now, olderThanMs);
          // Assess
          expect(decisions).toHaveLength(uploads.length);
          decisions.forEach((d, i) => {
            const s = specs[i]!;
            const shouldAbort = s.ageMs >= olderThanMs && (s.job === undefined || TERMINAL_JOB_STATES.has(s.job));
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
    const jobs = new Map<string, UploadJob>([['done', { jobId: 'j1', state: 'succeeded' }], ['live', { jobId: 'j2', state: 'running' }]]);
    // Act
    const d = decideSweep([up('young', 1000), up('orphan', 2 * HOUR), up('done', 2 * HOUR), up('live', 2 * HOUR)], jobs, now, HOUR);
    // Assess
    expect(d.map((x) => [x.action, x.reason])).toEqual([
      ['keep', 'younger than the grace period (1 s old)'],
      ['abort', 'no job records this upload'],
      ['abort', 'its job j1 is succeeded'],
      ['keep', 'its job j2 is running and may resume'],
    ]);
  });
});
