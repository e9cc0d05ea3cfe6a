/**
 * The soak run's plan and verdicts, pure: which jobs run (mode, source kind, size, content), which find their
 * destination already taken, which are delivered twice, when the chaos strikes; and how each job's end state
 * is judged. Same (jobs, seed) → the same plan.
 */
import { prng } from '../../local/oss/faults.ts';

export const KiB = 1024;
export const MiB = 1024 * KiB;

/** The largest job (the range is 0 B to 256 MiB); one such job in a run of at least LARGEST_FROM jobs. */
export const LARGEST = 256 * MiB;
export const LARGEST_FROM = 50;

/**
 * How a job reaches the coordinator:
 * - copyHttp: a copy job spec from the local HTTP source, invoked asynchronously;
 * - copyOss: a copy job spec from an object in the source bucket, invoked asynchronously;
 * - archiveHttp: an archive job spec from the local HTTP source, invoked asynchronously;
 * - archiveEvent: an object written to the source bucket under the archive rule's prefix, and the OSS trigger
 *   event for it delivered to the coordinator asynchronously, as the OSS trigger does.
 */
export type SoakKind = 'copyHttp' | 'copyOss' | 'archiveHttp' | 'archiveEvent';

export interface SoakJob {
  index: number;
  kind: SoakKind;
  size: number;
  content: 'random' | 'logLike';
  /** Seed of the job's content. */
  contentSeed: number;
  /** The destination holds another object before the job starts: the job must fail and leave it untouched. */
  preexisting: boolean;
  /** Delivered a second time (OSS events are at-least-once; a user re-submits) this many ms after the first. */
  duplicateAfterMs: number | undefined;
}

/** The same dice as the local OSS faults (mulberry32). */
export const rng = prng;

/** Sizes skewed small with a few large ones, so that a run stays a few minutes on 2 cores. */
export function sizeFrom(r: number, s: number): number {
  const between = (lo: number, hi: number) => lo + Math.floor(s * (hi - lo + 1));
  if (r < 0.04) return 0;
  if (r < 0.35) return between(1, 64 * KiB);
  if (r < 0.7) return between(64 * KiB + 1, 2 * MiB);
  if (r < 0.94) return between(2 * MiB + 1, 12 * MiB);
  return between(12 * MiB + 1, 40 * MiB);
}

const KINDS: readonly SoakKind[] = ['copyHttp', 'copyOss', 'archiveHttp', 'archiveEvent'];

export function planSoak(jobs: number, seed: number): SoakJob[] {
  const r = rng(seed);
  const out: SoakJob[] = [];
  for (let index = 0; index < jobs; index++) {
    const kind = KINDS[Math.floor(r() * KINDS.length)]!;
    const size = sizeFrom(r(), r());
    const content = kind.startsWith('archive') ? (r() < 0.8 ? 'logLike' : 'random') : r() < 0.3 ? 'logLike' : 'random';
    const preexisting = r() < 0.06;
    const duplicateAfterMs = r() < 0.15 ? Math.floor(r() * 3000) : undefined;
    out.push({ index, kind, size, content, contentSeed: Math.floor(r() * 2 ** 31), preexisting, duplicateAfterMs });
  }
  if (jobs >= LARGEST_FROM) {
    const big = out[Math.floor(r() * jobs)]!;
    big.size = LARGEST;
    big.preexisting = false;
  }
  return out;
}

/** What the soak saw of one job once every delivery of it has ended (faults off, read straight from OSS). */
export interface JobObservation {
  /** sha256 of the destination's bytes (archives decoded), undefined when there is no object. */
  destinationSha256: string | undefined;
  /** sha256 of what the destination must hold: the source (archives: uncompressed). */
  sourceSha256: string;
  /** sha256 of the object placed at the destination before the job (preexisting jobs). */
  preexistingSha256: string | undefined;
  /** Some delivery reported the job failed (function error after FC's retries, or a failed trigger record). */
  reportedFailure: boolean;
  /** Multipart uploads still open on the destination key. */
  uploadsLeft: number;
}

export type Verdict = 'correct' | 'cleanlyFailed' | 'lost' | 'corrupt' | 'overwritten';

/**
 * correct: the destination holds exactly the source. cleanlyFailed: the failure was reported and nothing of
 * the job is left (a pre-existing destination untouched, no upload). overwritten: a destination that existed
 * before holds something else. corrupt: the destination holds bytes that are not the source's. lost: neither
 * done nor reported failed (e.g. answered "in progress" while nobody was working), or failed leaving an upload.
 */
export function judge(o: JobObservation): Verdict {
  if (o.preexistingSha256 !== undefined) {
    if (o.destinationSha256 !== o.preexistingSha256) return 'overwritten';
    return o.reportedFailure && o.uploadsLeft === 0 ? 'cleanlyFailed' : 'lost';
  }
  if (o.destinationSha256 === undefined) return o.reportedFailure && o.uploadsLeft === 0 ? 'cleanlyFailed' : 'lost';
  return o.destinationSha256 === o.sourceSha256 ? 'correct' : 'corrupt';
}
