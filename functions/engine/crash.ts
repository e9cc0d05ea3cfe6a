/**
 * Test-only crash injection: integration tests kill the coordinator at an exact lifecycle step (a hook, not
 * a sleep) and re-deliver the job. Honoured only when OSSFERRY_TEST_HOOKS=1 is set as well (the local cloud's
 * tests set both; nothing in the stack does): then OSSFERRY_TEST_CRASH_FILE names a file holding the step to
 * crash at. The first coordinator to reach that step deletes the file (so the re-delivery runs through) and
 * kills its own process with SIGKILL, as FC's recycling or an OOM would.
 */
import { readFileSync, unlinkSync } from 'node:fs';

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

export function crashHookFromEnv(env: Record<string, string | undefined>): ((step: CrashStep) => void) | undefined {
  const file = env.OSSFERRY_TEST_CRASH_FILE;
  if (env.OSSFERRY_TEST_HOOKS !== '1' || !file) return undefined;
  return (step) => {
    let wanted: string;
    try {
      wanted = readFileSync(file, 'utf8').trim();
    } catch {
      return;
    }
    if (wanted !== step) return;
    try {
      unlinkSync(file);
    } catch {
      return; // another instance claimed this crash first
    }
    process.kill(process.pid, 'SIGKILL');
  };
}
