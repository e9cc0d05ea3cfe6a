/**
 * The deployment's job defaults (stack config `transfer.*`, written by shared/function-env-build.ts into the
 * coordinator's environment): part size, streams per worker and gzip level for jobs that do not choose
 * their own. Explicit job options always win. Pure; the coordinator applies them in one call per path.
 */
import type { ArchiveRule, GzipLevel } from './archive-rules.ts';
import { InvalidInputError } from './errors.ts';
import { FUNCTION_ENV } from './function-env.ts';
import { JOB_DEFAULTS, type Job } from './job.ts';
import { OSS } from './limits.ts';

export interface JobDefaults {
  partSize?: number;
  streamsPerWorker?: number;
  gzipLevel?: GzipLevel;
}

function envInt(env: Record<string, string | undefined>, name: string, min: number, max: number, example: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new InvalidInputError(name, `is "${raw}", not a whole number between ${min} and ${max}`, `set ${name} to e.g. ${example} (stack config transfer.*)`);
  }
  return n;
}

/** Reads the defaults from the coordinator's environment; a bad value names the variable. */
export function jobDefaultsFromEnv(env: Record<string, string | undefined>): JobDefaults {
  const partSize = envInt(env, FUNCTION_ENV.PART_SIZE_BYTES, OSS.MIN_PART_SIZE, OSS.MAX_PART_SIZE, '67108864');
  const streamsPerWorker = envInt(env, FUNCTION_ENV.STREAMS_PER_WORKER, 1, JOB_DEFAULTS.maxStreams, '8');
  const gzipLevel = envInt(env, FUNCTION_ENV.GZIP_LEVEL, 0, 3, '1') as GzipLevel | undefined;
  return {
    ...(partSize !== undefined ? { partSize } : {}),
    ...(streamsPerWorker !== undefined ? { streamsPerWorker } : {}),
    ...(gzipLevel !== undefined ? { gzipLevel } : {}),
  };
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * A job spec (wire form, before parseJob) with the defaults filled in where it sets nothing. gzipLevel only
 * for archive jobs (parseJob refuses it on copy jobs). Anything not a JSON object is returned unchanged,
 * for parseJob to refuse.
 */
export function applyJobDefaults(spec: unknown, d: JobDefaults): unknown {
  if (!isPlainObject(spec)) return spec;
  const out: Record<string, unknown> = { ...spec };
  if (out.partSize === undefined && d.partSize !== undefined) out.partSize = d.partSize;
  if (out.streamsPerWorker === undefined && d.streamsPerWorker !== undefined) out.streamsPerWorker = d.streamsPerWorker;
  if (out.mode === 'archive' && out.gzipLevel === undefined && d.gzipLevel !== undefined) out.gzipLevel = d.gzipLevel;
  return out;
}

/** Archive rules with the default gzip level where a rule names none (a rule's own level wins). */
export function applyRuleDefaults(rules: readonly ArchiveRule[], d: JobDefaults): ArchiveRule[] {
  return rules.map((r) => (r.gzipLevel === undefined && d.gzipLevel !== undefined ? { ...r, gzipLevel: d.gzipLevel } : r));
}

/** A job started by an OSS event (no caller chose its options) with the deployment's part size and streams. */
export function applyTriggerJobDefaults(job: Job, d: JobDefaults): Job {
  return {
    ...job,
    ...(d.partSize !== undefined ? { partSize: d.partSize } : {}),
    ...(d.streamsPerWorker !== undefined ? { streamsPerWorker: d.streamsPerWorker } : {}),
  };
}
