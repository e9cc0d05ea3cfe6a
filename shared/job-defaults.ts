/**
 * The deployment's job defaults (stack config `transfer.*` and `object.*`, written by shared/function-env-build.ts
 * into the coordinator's environment): part size, streams per worker, gzip level, and the destination object's
 * storage class, server-side encryption, tags and ACL, for jobs that do not choose their own. Explicit job options
 * always win. Pure; the coordinator applies them in one call per path.
 */
import { parseObjectDefaults, type ObjectDefaults } from './object-options.ts';
import type { ArchiveRule, GzipLevel } from './archive-rules.ts';
import { InvalidInputError } from './errors.ts';
import { FUNCTION_ENV } from './function-env.ts';
import { JOB_DEFAULTS, type Job } from './job.ts';
import { OSS } from './limits.ts';

export type { ObjectDefaults };

export interface JobDefaults {
  partSize?: number;
  streamsPerWorker?: number;
  gzipLevel?: GzipLevel;
  object?: ObjectDefaults;
}

/**
 * A job's object options over the defaults, field by field; encryption is one setting: a job naming its own
 * serverSideEncryption takes no default kmsKeyId.
 */
export function withObjectDefaults(own: Record<string, unknown> | undefined, d: ObjectDefaults): Record<string, unknown> {
  const base: Record<string, unknown> = { ...d };
  if (own?.serverSideEncryption !== undefined) delete base.kmsKeyId;
  for (const [k, v] of Object.entries(own ?? {})) if (v !== undefined) base[k] = v;
  return base;
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
  const object = objectDefaultsFromEnv(env);
  return {
    ...(partSize !== undefined ? { partSize } : {}),
    ...(streamsPerWorker !== undefined ? { streamsPerWorker } : {}),
    ...(gzipLevel !== undefined ? { gzipLevel } : {}),
    ...(object !== undefined ? { object } : {}),
  };
}

function objectDefaultsFromEnv(env: Record<string, string | undefined>): ObjectDefaults | undefined {
  const raw = env[FUNCTION_ENV.OBJECT_DEFAULTS];
  if (raw === undefined || raw.trim() === '') return undefined;
  const fix = 'set stack config object.* (pulumi config set --path object.storageClass IA) and deploy again';
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new InvalidInputError(FUNCTION_ENV.OBJECT_DEFAULTS, 'is not JSON', fix);
  }
  return parseObjectDefaults(json, FUNCTION_ENV.OBJECT_DEFAULTS, fix);
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
  // A malformed `object` is left for parseJob to refuse by name.
  if (d.object !== undefined && (out.object === undefined || isPlainObject(out.object))) out.object = withObjectDefaults(out.object as Record<string, unknown> | undefined, d.object);
  return out;
}

/** Archive rules with the default gzip level where a rule names none (a rule's own level wins). */
export function applyRuleDefaults(rules: readonly ArchiveRule[], d: JobDefaults): ArchiveRule[] {
  return rules.map((r) => (r.gzipLevel === undefined && d.gzipLevel !== undefined ? { ...r, gzipLevel: d.gzipLevel } : r));
}

/** A job started by an OSS event (no caller chose its options) with the deployment's part size, streams and object defaults. */
export function applyTriggerJobDefaults(job: Job, d: JobDefaults): Job {
  return {
    ...job,
    ...(d.partSize !== undefined ? { partSize: d.partSize } : {}),
    ...(d.streamsPerWorker !== undefined ? { streamsPerWorker: d.streamsPerWorker } : {}),
    ...(d.object !== undefined ? { object: { ...job.object, ...d.object } } : {}),
  };
}
