/**
 * Which open multipart uploads a sweep aborts, pure (the OSS I/O is functions/sweep/sweep.ts). An upload
 * is aborted only when it is older than the grace period and either no job names it (a crash before the
 * journal recorded it, a foreign or hand-made upload) or its job is terminal (succeeded, failed, cancelled:
 * nothing will ever complete it). Uploads of jobs that may still resume are kept, whoever owns them now.
 */

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
}

export type SweepDecision = { upload: OpenUpload; action: 'abort' | 'keep'; reason: string };

/** Job states after which nothing will complete the job's upload. */
export const TERMINAL_JOB_STATES: ReadonlySet<string> = new Set(['succeeded', 'failed', 'cancelled']);

export function decideSweep(uploads: readonly OpenUpload[], jobsByUpload: ReadonlyMap<string, UploadJob>, nowMs: number, olderThanMs: number): SweepDecision[] {
  return uploads.map((upload) => {
    const age = nowMs - upload.initiatedMs;
    if (!(age >= olderThanMs)) return { upload, action: 'keep', reason: `younger than the grace period (${Math.max(0, Math.round(age / 1000))} s old)` };
    const job = jobsByUpload.get(upload.uploadId);
    if (!job) return { upload, action: 'abort', reason: 'no job records this upload' };
    if (TERMINAL_JOB_STATES.has(job.state)) return { upload, action: 'abort', reason: `its job ${job.jobId} is ${job.state}` };
    return { upload, action: 'keep', reason: `its job ${job.jobId} is ${job.state} and may resume` };
  });
}
