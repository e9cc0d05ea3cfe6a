/**
 * Test-only crash and hold injection: integration tests kill the coordinator at an exact lifecycle step (a
 * hook, not a sleep) and re-deliver the job, or hold it there (e.g. to cancel it mid-job). Honoured only when
 * OSSFERRY_TEST_HOOKS=1 is set as well (the local cloud's tests set it; nothing in the stack does):
 * - OSSFERRY_TEST_CRASH_FILE names a file holding the step to crash at. The first coordinator to reach that
 *   step deletes the file (so the re-delivery runs through) and kills its own process with SIGKILL, as FC's
 *   recycling or an OOM would.
 * - OSSFERRY_TEST_HOLD_FILE names a file holding the step to hold at. The first coordinator to reach it
 *   renames the file to `<file>.reached` (the test's signal that the job is there) and waits until the test
 *   deletes `<file>.reached` or the run's signal aborts (a cancel, a lost lease).
 */
import { readFileSync, renameSync, existsSync, unlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** The lifecycle steps a crash can be injected at, in order. */
export const CRASH_STEPS = [
  'afterLease',
  'afterIntent',
  'afterInitiate',
  'midDispatch',
  'beforeComplete',
  'afterComplete',
  'beforeSucceeded',
] as const;
export type CrashStep = (typeof CRASH_STEPS)[number];

export function crashHookFromEnv(env: Record<string, string | undefined>): ((step: CrashStep, signal?: AbortSignal) => void | Promise<void>) | undefined {
  if (env.OSSFERRY_TEST_HOOKS !== '1') return undefined;
  const crash = crashAt(env.OSSFERRY_TEST_CRASH_FILE);
  const hold = holdAt(env.OSSFERRY_TEST_HOLD_FILE);
  if (!crash && !hold) return undefined;
  return (step, signal) => {
    crash?.(step);
    return hold?.(step, signal);
  };
}

const wantedStep = (file: string): string | undefined => {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
};

function holdAt(file: string | undefined): ((step: CrashStep, signal?: AbortSignal) => Promise<void> | undefined) | undefined {
  if (!file) return undefined;
  const reached = `${file}.reached`;
  return (step, signal) => {
    if (wantedStep(file) !== step) return undefined;
    try {
      renameSync(file, reached);
    } catch {
      return undefined; // another instance holds already
    }
    return (async () => {
      while (existsSync(reached) && !signal?.aborted) await sleep(50);
    })();
  };
}

function crashAt(file: string | undefined): ((step: CrashStep) => void) | undefined {
  if (!file) return undefined;
  return (step) => {
    if (wantedStep(file) !== step) return;
    try {
      unlinkSync(file);
    } catch {
      return; // another instance claimed this crash first
    }
    process.kill(process.pid, 'SIGKILL');
  };
}
