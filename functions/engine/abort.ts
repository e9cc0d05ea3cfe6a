/**
 * How a job that fails before a verified object exists gives up its multipart upload (every mode alike,
 * ./lifecycle.ts), so it leaves nothing half-written and says so.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { errorToJson } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import type { PartSink } from '../oss/types.ts';
import type { JobStatus, StatusWriter } from '../status/store.ts';
import { ossRetry } from './oss-calls.ts';
import { JobFailedError } from './errors.ts';

/** The multipart upload does not exist (any more): aborted, completed, or never there. */
export const isNoSuchUpload = (err: unknown): boolean => (err as { code?: string })?.code === 'NoSuchUpload';

/**
 * Aborts the upload and checks it is gone (parts still uploading when Abort runs can survive
 * it, so it may need repeating). True once ListParts answers NoSuchUpload; false after three rounds (each failure is logged).
 */
export async function abortUpload(sink: PartSink, log: Logger): Promise<boolean> {
  for (let i = 0; i < 3; i++) {
    try {
      await ossRetry(() => sink.abort());
      await sleep(i === 0 ? 0 : 500);
      await ossRetry(() => sink.listParts());
      // Still listed: another abort round after in-flight parts land.
    } catch (err) {
      if (isNoSuchUpload(err)) return true;
      log.error('abort of the multipart upload failed', { uploadId: sink.uploadId, error: errorToJson(err) });
    }
  }
  return false;
}

/** A running job as failJob() needs it. */
export interface FailingJob {
  /** How logs and messages name the job: `copy job` or `archive job`. */
  label: string;
  jobId: string;
  uploadId: string;
  /** The destination as messages show it (oss://bucket/key). */
  dest: string;
  sink: PartSink;
  log: Logger;
  status: JobStatus;
  /** The job's own status save (stamps updatedAt and whatever else the job keeps current). */
  save(): void;
  writer: StatusWriter;
}

/**
 * Aborts the job's upload, records the failure in its status object and throws JobFailedError whose
 * message says whether the abort held (and, if not, that the upload must be removed by hand).
 */
export async function failJob(job: FailingJob, cause: unknown): Promise<never> {
  const { jobId, uploadId, dest, status } = job;
  const aborted = await abortUpload(job.sink, job.log);
  status.state = (cause as Error)?.name === 'JobCancelledError' ? 'cancelled' : 'failed';
  status.error = errorToJson(cause) as JobStatus['error'];
  status.aborted = aborted;
  job.save();
  await job.writer.flush();
  const why = (cause as Error)?.message ?? String(cause);
  job.log.error(`${job.label} failed`, { error: errorToJson(cause), aborted, uploadId });
  throw new JobFailedError({
    jobId,
    uploadId,
    aborted,
    cause,
    message: `${job.label} ${jobId} failed: ${why}; ${aborted ? `multipart upload ${uploadId} aborted, nothing written to ${dest}` : `ABORTING multipart upload ${uploadId} FAILED — abort it by hand or let the lifecycle rule remove it`}`,
  });
}

/** A failure after Complete (the object's CRC-64, finalize): nothing left to abort; recorded, then thrown. */
export async function failAfterComplete(job: FailingJob, cause: unknown): Promise<never> {
  job.status.state = 'failed';
  job.status.error = errorToJson(cause) as JobStatus['error'];
  job.save();
  await job.writer.flush();
  job.log.error('job failed after Complete', { error: errorToJson(cause) });
  throw new JobFailedError({ jobId: job.jobId, uploadId: job.uploadId, aborted: true, cause, message: `${job.label} ${job.jobId} failed verification: ${(cause as Error)?.message ?? String(cause)}` });
}
