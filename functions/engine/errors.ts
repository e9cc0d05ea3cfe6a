/** The named errors of the job engine. */
import { OssferryError } from '../../shared/errors.ts';

/**
 * A job ended without a verified object. `cause` is the reason; `aborted` says whether the multipart upload
 * was aborted (true = no parts left behind), `uploadId` which one. The destination is untouched unless the
 * message says otherwise.
 */
export class JobFailedError extends OssferryError {
  readonly jobId: string | undefined;
  readonly uploadId: string | undefined;
  readonly aborted: boolean;
  /** The code of the underlying cause (e.g. SourceChanged, DestinationExists, InvalidInput). */
  readonly causeCode: string;
  constructor(args: { jobId?: string; uploadId?: string; aborted: boolean; cause: unknown; message: string }) {
    super('JobFailed', args.message, { cause: args.cause });
    this.jobId = args.jobId;
    this.uploadId = args.uploadId;
    this.aborted = args.aborted;
    const c = (args.cause as { code?: unknown })?.code;
    this.causeCode = typeof c === 'string' ? c : ((args.cause as Error)?.name ?? 'Error');
  }
}

/**
 * Another invocation owns the job (its lease is fresh): this one did nothing. Retrying later is right:
 * the owner either finishes (the retry then reports the finished object) or stops heartbeating (the retry
 * takes the job over).
 */
export class JobInProgressError extends OssferryError {
  readonly jobId: string;
  constructor(jobId: string, detail: string) {
    super('JobInProgress', `job ${jobId} is being run by another invocation (${detail}); nothing was done. Fix: wait for it, or submit again once its lease has expired`);
    this.jobId = jobId;
  }
}

/**
 * This invocation lost the job: a later invocation took it over (a higher lease epoch) after this one's
 * lease expired. A fenced owner stops without completing, aborting or writing status.
 */
export class LeaseLostError extends OssferryError {
  constructor(jobId: string, detail: string) {
    super('LeaseLost', `job ${jobId}: this invocation no longer owns the job (${detail}); it stopped without touching the upload or the status. Fix: none needed, the new owner continues`);
  }
}

/**
 * The job was cancelled (`ossferry cancel`: a cancel request in the status location). Its upload is aborted
 * and nothing is written to the destination; it stays cancelled until the user submits it again.
 */
export class JobCancelledError extends OssferryError {
  readonly jobId: string;
  constructor(jobId: string, requestedAt: string) {
    super('JobCancelled', `job ${jobId} was cancelled (cancel requested ${requestedAt}); its multipart upload is aborted and nothing was written to the destination. Fix: none needed; to run it again, submit it again with ossferry copy`);
    this.jobId = jobId;
  }
}
