/**
 * Crash injection for the crash-consistency tests: `OSSFERRY_OSS_CRASH_AT=<point>[@<n>]` makes the store kill its
 * own process with SIGKILL (no cleanup, no flush: what a power cut or OOM kill leaves behind, minus lost page
 * cache) the n-th time (default first) it reaches `point`. Read once at start; unset, every hook is a no-op.
 */
import { InvalidInputError } from '../../shared/errors.ts';

export const CRASH_POINTS = [
  /** A received body is complete and fsynced in tmp/, not yet in data/. */
  'receive:written',
  /** A body was renamed into data/, nothing references it yet. */
  'adopt:renamed',
  /** A metadata file (object, part, upload, bucket) is written in tmp/, not yet renamed into place. */
  'meta:staged',
  /** An object's new metadata is in place; segments it no longer uses are not yet unlinked. */
  'object:meta-written',
  /** An object's metadata was removed; its segments are not yet unlinked. */
  'object:meta-removed',
  /** A part's metadata is in place; the part it replaced is not yet unlinked. */
  'part:meta-written',
  /** An upload's directory was moved out of uploads/ (Complete or Abort); its part files are not yet unlinked. */
  'upload:detached',
  /** A new bucket is fully built in tmp/, not yet renamed into buckets/. */
  'bucket:staged',
  /** A deleted bucket's directory was moved out of buckets/, not yet removed. */
  'bucket:detached',
] as const;

export type CrashPoint = (typeof CRASH_POINTS)[number];

export const CRASH_ENV = 'OSSFERRY_OSS_CRASH_AT';

export function crashHook(spec = process.env[CRASH_ENV]): (point: CrashPoint) => void {
  if (spec === undefined || spec === '') return () => {};
  const m = /^([a-z:-]+)(?:@(\d+))?$/.exec(spec);
  if (!m || !(CRASH_POINTS as readonly string[]).includes(m[1]!)) {
    throw new InvalidInputError(CRASH_ENV, `${JSON.stringify(spec)} is not a crash point`, `use one of ${CRASH_POINTS.join(', ')}, optionally @N`);
  }
  const target = m[1] as CrashPoint;
  let left = Number(m[2] ?? '1');
  return (point) => {
    if (point === target && --left === 0) process.kill(process.pid, 'SIGKILL');
  };
}
