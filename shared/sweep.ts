/**
 * Which open multipart uploads a sweep aborts, pure (the OSS I/O is functions/sweep/sweep.ts). An upload
 * is aborted only when it is older than the grace period and either no job names it (a crash before the
 * journal recorded it, a foreign or hand-made upload), or its job is terminal (succeeded, failed, cancelled:
 * nothing will ever complete it), or its job is abandoned: not terminal, but its status has not changed for
 * `abandonedAfterMs` (default ABANDONED_AFTER_MS). A live owner journals every state change and task result,
 * and no invocation outlives FC's longest timeout; a job untouched for longer was given up by FC (every async
 * retry died) and nothing will resume it. Uploads of jobs that may still resume are kept.
 */

/** A job whose status has not changed for this long is abandoned: FC's longest function timeout (24 h). */
export const ABANDONED_AFTER_MS = 24 * 3_600_000;

export interface OpenUpload {
  bucket: string;
  key: string;
  uploadId: string;
  /** Initiated time, ms since epoch. */
  initiatedMs: number;
}

/** What the status location says about the job that started an upload. */
export interface UploadJob {
  jobId: string;
  state: string;
  /** When the job's status last changed (its `updatedAt`), ms since epoch. */
  updatedAtMs?: number;
}

export type SweepDecision = { upload: OpenUpload; action: 'abort' | 'keep'; reason: string };

/** Job states after which nothing will complete the job's upload. */
export const TERMINAL_JOB_STATES: ReadonlySet<string> = new Set(['succeeded', 'failed', 'cancelled']);

export function decideSweep(uploads: readonly OpenUpload[], jobsByUpload: ReadonlyMap<string, UploadJob>, nowMs: number, olderThanMs: number, abandonedAfterMs = ABANDONED_AFTER_MS): SweepDecision[] {
  return uploads.map((upload) => {
    const age = nowMs - upload.initiatedMs;
    if (!(age >= olderThanMs)) return { upload, action: 'keep', reason: `younger than the grace period (${Math.max(0, Math.round(age / 1000))} s old)` };
    const job = jobsByUpload.get(upload.uploadId);
    if (!job) return { upload, action: 'abort', reason: 'no job records this upload' };
    if (TERMINAL_JOB_STATES.has(job.state)) return { upload, action: 'abort', reason: `its job ${job.jobId} is ${job.state}` };
    const idle = job.updatedAtMs === undefined ? undefined : nowMs - job.updatedAtMs;
    if (idle !== undefined && idle >= abandonedAfterMs) {
      return { upload, action: 'abort', reason: `its job ${job.jobId} is ${job.state} but its status has not changed for ${Math.round(idle / 1000)} s: abandoned, nothing resumes it` };
    }
    return { upload, action: 'keep', reason: `its job ${job.jobId} is ${job.state} and may resume` };
  });
}

const DURATION_UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** "24h" → 86400, "90m", "30s", "7d", "3600" (seconds); a description of the problem when it is not one. */
export function parseDurationSeconds(text: string): number | string {
  const m = /^\s*([0-9]+)\s*([smhd]?)\s*$/.exec(text);
  if (!m) return `${JSON.stringify(text)} is not a duration`;
  const n = Number(m[1]) * DURATION_UNITS[m[2] || 's']!;
  return Number.isSafeInteger(n) ? n : `${text} is too long`;
}

/** The coordinator invocation a timer trigger sends: sweep these destinations (discriminated by `kind`). */
export interface SweepEvent {
  kind: 'sweep';
  /** Uploads initiated less than this long ago are kept. */
  olderThanSeconds: number;
  /** The stack's destinations: buckets and key prefixes ("" = whole bucket). */
  destinations: Array<{ bucket: string; prefix: string }>;
  dryRun?: boolean;
}

const BUCKET_RE = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

/** A sweep event from its JSON value, or a description of what is wrong; undefined when it is not a sweep. */
export function parseSweepEvent(body: unknown): SweepEvent | string | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body) || (body as { kind?: unknown }).kind !== 'sweep') return undefined;
  const { kind: _kind, olderThanSeconds, destinations, dryRun, ...rest } = body as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length) return `unknown field ${JSON.stringify(extra[0])} in a sweep event`;
  if (typeof olderThanSeconds !== 'number' || !Number.isInteger(olderThanSeconds) || olderThanSeconds < 0) return 'olderThanSeconds must be a whole number of seconds ≥ 0';
  if (dryRun !== undefined && typeof dryRun !== 'boolean') return 'dryRun must be true or false';
  const ok = (d: unknown): d is { bucket: string; prefix?: string } =>
    d !== null && typeof d === 'object' && typeof (d as { bucket?: unknown }).bucket === 'string' && BUCKET_RE.test((d as { bucket: string }).bucket) &&
    ['undefined', 'string'].includes(typeof (d as { prefix?: unknown }).prefix) && Object.keys(d).every((k) => k === 'bucket' || k === 'prefix');
  if (!Array.isArray(destinations) || destinations.length === 0 || !destinations.every(ok)) return 'destinations must be a non-empty list of {"bucket","prefix"}';
  return { kind: 'sweep', olderThanSeconds, destinations: destinations.map((d) => ({ bucket: d.bucket, prefix: d.prefix ?? '' })), ...(dryRun ? { dryRun } : {}) };
}
