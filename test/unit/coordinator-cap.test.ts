import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { capWorkers, workerCapFromEnv } from '../../functions/coordinator/handler.ts';
import { FUNCTION_ENV } from '../../shared/function-env.ts';

describe('capWorkers (the coordinator fan-out never exceeds the deployment worker capacity)', () => {
  it('caps at OSSFERRY_MAX_WORKERS and never raises a job', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 300 }), (workers, max) => {
        // Prepare
        const env = { [FUNCTION_ENV.MAX_WORKERS]: String(max) };
        // Act
        const capped = capWorkers({ workers, other: 'kept' }, env);
        // Assess
        expect(capped.workers).toBe(Math.min(workers, max));
        expect(capped.other).toBe('kept');
      }),
    );
  });

  it('leaves an "auto" job to the engine, which bounds it by the same capacity', () => {
    // Prepare
    const job = { workers: 'auto' as const };
    const env = { [FUNCTION_ENV.MAX_WORKERS]: '3' };
    // Act
    const capped = capWorkers(job, env);
    // Assess
    expect(capped).toBe(job);
    expect(workerCapFromEnv(env)).toBe(3);
    expect(workerCapFromEnv({})).toBeUndefined();
  });

  it('leaves the job alone when the variable is unset', () => {
    // Prepare
    const job = { workers: 42 };
    // Act
    const capped = capWorkers(job, {});
    // Assess
    expect(capped).toBe(job);
  });

  it.each(['0', '-3', '2.5', 'many'])('refuses OSSFERRY_MAX_WORKERS=%s, naming the variable and the fix', (raw) => {
    // Prepare
    const env = { [FUNCTION_ENV.MAX_WORKERS]: raw };
    // Act
    const act = () => capWorkers({ workers: 4 }, env);
    // Assess
    expect(act).toThrowError(/OSSFERRY_MAX_WORKERS: .*Fix: set OSSFERRY_MAX_WORKERS/);
  });
});
