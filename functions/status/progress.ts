/**
 * Live progress of a job, for `ossferry start/copy/status`: the status object gives the plan, the upload id
 * and the verified receipts; ListParts on the open upload gives the bytes OSS already holds (workers report
 * receipts only when a task ends, ListParts moves with every part).
 */
import type OSS from 'ali-oss';
import { jobIdOf, parseJob, type JobSpecInput } from '../../shared/job.ts';
import { OssPartSink } from '../oss/part-sink.ts';
import { openSource, type SourceDeps } from '../sources/index.ts';
import type { JobState, StatusStore } from './store.ts';

export interface JobProgress {
  jobId: string;
  state: JobState;
  source: string;
  destination: string;
  size: number;
  /** Bytes OSS holds for this upload (ListParts), or the verified bytes once the upload is closed. */
  bytes: number;
  parts: number;
  partCount: number;
  partSize: number;
  rounds: number;
  attempts: number;
  startedAt: string;
  updatedAt: string;
  uploadId?: string;
  error?: { name: string; code?: string; message: string };
  /** The final report (JSON form) once succeeded. */
  report?: Record<string, unknown>;
}

/** Progress of `jobId`; undefined when no status object exists. */
export async function jobProgress(store: StatusStore, clientFor: (bucket: string) => OSS, jobId: string): Promise<JobProgress | undefined> {
  const s = await store.read(jobId);
  if (!s) return undefined;
  let bytes = s.bytesDone;
  let parts = s.parts.length;
  if ((s.state === 'running' || s.state === 'interrupted') && s.uploadId) {
    const m = /^oss:\/\/([^/]+)\/(.+)$/.exec(s.destination);
    if (m) {
      const sink = new OssPartSink({ client: clientFor(m[1]!), bucket: m[1]!, key: m[2]!, uploadId: s.uploadId });
      const listed = await sink.listParts().catch(() => undefined);
      if (listed) {
        bytes = Math.max(bytes, Math.min(s.size, listed.reduce((a, p) => a + p.size, 0)));
        parts = Math.max(parts, listed.length);
      }
    }
  }
  const out: JobProgress = {
    jobId,
    state: s.state,
    source: s.source,
    destination: s.destination,
    size: s.size,
    bytes: s.state === 'succeeded' ? s.size : bytes,
    parts: s.state === 'succeeded' ? s.partCount : parts,
    partCount: s.partCount,
    partSize: s.partSize,
    rounds: s.rounds,
    attempts: s.attempts,
    startedAt: s.startedAt,
    updatedAt: s.updatedAt,
  };
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
