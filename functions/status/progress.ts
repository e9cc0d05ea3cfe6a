/**
 * Live progress of a job, for `ossferry start/copy/status`, from what is really done and cheap to read: one
 * status GET (plan, upload id, the receipts and archive task results journalled so far) and one ListParts on
 * the open upload (every part OSS holds, including those whose worker has not returned its receipts yet).
 */
import type OSS from 'ali-oss';
import { jobIdOf, parseJob, type JobSpecInput } from '../../shared/job.ts';
import { OssPartSink } from '../oss/part-sink.ts';
import type { ListedPart } from '../oss/types.ts';
import { openSource, type SourceDeps } from '../sources/index.ts';
import type { JobState, JobStatus, StatusStore } from './store.ts';

export interface JobProgress {
  jobId: string;
  state: JobState;
  source: string;
  destination: string;
  size: number;
  /**
   * Bytes of the input done: copy — bytes OSS holds for the upload (receipts ∪ ListParts); archive — input
   * bytes of finished, verified tasks (a task in flight has no input figure OSS could prove).
   */
  bytes: number;
  /** Parts OSS holds (copy: of partCount; archive: compressed parts, partCount counts tasks). */
  parts: number;
  partCount: number;
  partSize: number;
  rounds: number;
  attempts: number;
  startedAt: string;
  updatedAt: string;
  uploadId?: string;
  /** Archive jobs: both sides of the compression. */
  archive?: {
    /** Input bytes of finished, verified tasks (== `bytes`). */
    inputBytesDone: number;
    /** Compressed bytes OSS holds: finished tasks' receipts plus the parts of tasks in flight (ListParts). */
    compressedBytesStored: number;
    tasksDone: number;
    tasks: number;
  };
  error?: { name: string; code?: string; message: string };
  /** The final report (JSON form) once succeeded. */
  report?: Record<string, unknown>;
}

/** Progress of `jobId`; undefined when no status object exists. */
export async function jobProgress(store: StatusStore, clientFor: (bucket: string) => OSS, jobId: string): Promise<JobProgress | undefined> {
  const s = await store.read(jobId);
  if (!s) return undefined;
  const listed = (s.state === 'running' || s.state === 'interrupted') && s.uploadId ? await listOpenUpload(s, s.uploadId, clientFor) : undefined;
  return progressOf(s, listed);
}

/** ListParts of the job's open upload; undefined when it cannot be read (gone, no access): receipts then stand. */
async function listOpenUpload(s: JobStatus, uploadId: string, clientFor: (bucket: string) => OSS): Promise<ListedPart[] | undefined> {
  const m = /^oss:\/\/([^/]+)\/(.+)$/.exec(s.destination);
  if (!m) return undefined;
  return new OssPartSink({ client: clientFor(m[1]!), bucket: m[1]!, key: m[2]!, uploadId }).listParts().catch(() => undefined);
}

/**
 * Progress from a status object and the upload's listed parts (pure). A part counts once, by part number:
 * as listed when OSS lists it, else by its receipt (an upload closed or unreadable leaves only receipts).
 */
export function progressOf(s: JobStatus, listed: readonly ListedPart[] | undefined): JobProgress {
  const stored = new Map<number, number>(s.parts.map((r) => [r.partNumber, r.size]));
  for (const p of listed ?? []) stored.set(p.partNumber, p.size);
  const storedBytes = [...stored.values()].reduce((a, n) => a + n, 0);
  const done = s.state === 'succeeded';
  const archive = s.mode === 'archive' || s.tasks !== undefined;
  const bytes = done ? s.size : archive ? s.bytesDone : Math.min(s.size, Math.max(s.bytesDone, storedBytes));
  const out: JobProgress = {
    jobId: s.jobId,
    state: s.state,
    source: s.source,
    destination: s.destination,
    size: s.size,
    bytes,
    parts: done && !archive ? s.partCount : stored.size,
    partCount: s.partCount,
    partSize: s.partSize,
    rounds: s.rounds,
    attempts: s.attempts,
    startedAt: s.startedAt,
    updatedAt: s.updatedAt,
  };
  if (archive) {
    const reported = done && typeof s.report?.compressedSize === 'number' ? s.report.compressedSize : undefined;
    out.archive = { inputBytesDone: bytes, compressedBytesStored: reported ?? storedBytes, tasksDone: done ? s.partCount : (s.tasks?.length ?? 0), tasks: s.partCount };
  }
  if (s.uploadId) out.uploadId = s.uploadId;
  if (s.error) out.error = { name: s.error.name, message: s.error.message, ...(s.error.code ? { code: s.error.code } : {}) };
  if (s.report) out.report = s.report;
  return out;
}

/**
 * The job id the coordinator will use for `spec` (shared/job.ts jobIdOf over the source's stat), computed
 * on the caller's side so a CLI can print it and follow progress. Needs the source to be reachable from here.
 */
export async function jobIdForSpec(spec: JobSpecInput, deps: SourceDeps = {}): Promise<string> {
  const job = parseJob(spec);
  const src = openSource(job.source.url, deps);
  try {
    const identity = await src.stat();
    return jobIdOf(job, identity);
  } finally {
    await src.close().catch(() => undefined);
  }
}
