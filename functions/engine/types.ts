/**
 * The engine's ports and the contract between the one lifecycle (./lifecycle.ts) and a job mode
 * (./modes/copy.ts, ./modes/archive.ts). The lifecycle owns the order of steps, the lease, the upload and
 * the status journal; a mode owns what differs: the plan, the task wire, the result check, the metadata,
 * what counts as already done and the report.
 */
import type { ObjectAttributes } from '../../shared/attributes.ts';
import type OSS from 'ali-oss';
import type { Job } from '../../shared/job.ts';
import type { Logger } from '../../shared/log.ts';
import type { JobReport, ReusedWork } from '../../shared/report.ts';
import type { PartReceipt, WorkerResult, WorkerTaskWire } from '../../shared/task.ts';
import type { ListedPart } from '../oss/types.ts';
import type { RangeSource, SourceIdentity } from '../sources/types.ts';
import type { JobStatus, StatusStore } from '../status/store.ts';
import type { CrashStep } from './crash.ts';
import type { DispatchOutcome } from './dispatch.ts';

export interface EngineDeps {
  logger: Logger;
  /** Opens the job's source (SSRF screening and the job's SFTP host key pin happen inside). */
  openSource(job: Job): RangeSource;
  /** ali-oss client for the destination bucket (retryMax 0; the engine retries). */
  destinationClient: OSS;
  /** Status store (journal, lease); without one a re-invoked job starts afresh and nothing guards ownership. */
  status?: StatusStore;
  /** Runs one worker task (fc2 through ./dispatch.ts, or in-process in tests). */
  dispatch(task: WorkerTaskWire, signal: AbortSignal): Promise<DispatchOutcome>;
  /** The worker function's timeout: each task's deadline sits inside it. */
  workerTimeoutSeconds: number;
  /** The deployment's worker capacity: bounds an 'auto' job's fan-out. Default shared/plan.ts AUTO_WORKERS.cap. */
  maxWorkers?: number;
  /** Client for an OSS source bucket: needed only for deleteSourceAfterVerify. */
  sourceClientFor?: (bucket: string) => OSS;
  /** Dispatch rounds before giving up on missing work. Default 5. */
  maxRounds?: number;
  /** Epoch ms by which this coordinator invocation must answer. */
  deadlineMs?: number;
  signal?: AbortSignal;
  /** Destination OSS endpoint/region hints passed to workers in each task. */
  ossHints?: { endpoint?: string; region?: string };
  /** Lease timing (functions/status/lease.ts); defaults there. */
  lease?: { ttlMs?: number; heartbeatMs?: number; waitMs?: number };
  /** Test-only crash/hold injection (./crash.ts); never set in production wiring unless the test flag is. */
  crashAt?: (step: CrashStep, signal?: AbortSignal) => void | Promise<void>;
  /** How often a running job looks for a cancel request (./cancel.ts). Default 1 s. */
  cancelPollMs?: number;
  now?: () => number;
}

/** Options beyond the job spec: the trigger's and archive tuning. */
export interface JobOptions {
  /** Archive: uncompressed bytes per gzip member. Default 8 MiB. */
  memberSize?: number;
  /** Archive: target compressed part size. Default 16 MiB. */
  partTarget?: number;
  /** Archive: lower bound of a non-final task's input (tests); never below the 100 KB proof. */
  minTaskInput?: number;
  /** Archive: members read and compressed at once per worker. Default min(streamsPerWorker, 4). */
  concurrency?: number;
  /** Archive: above this compressed size, metadata is stamped by multipart copy. Default 1 GB. */
  copyObjectLimit?: number;
  /** Delete the OSS source's archived version once the archive is verified (needs versioning on the source bucket). */
  deleteSourceAfterVerify?: boolean;
  /** Set by the engine at job start (./source-delete.ts): the source version id that will be deleted. */
  deleteVersionId?: string;
  /** The trigger's idempotency key (shared/events.ts), for logs and the report. */
  idempotencyKey?: string;
  /** The ETag the trigger reported for the source (a redelivery after the source was deleted). */
  sourceEtag?: string;
}

/** What the destination holds now (HEAD). */
export interface DestinationInfo {
  size: number;
  crc64?: bigint;
  etag?: string;
  meta: Record<string, string>;
}

/** What a mode sees of the job being run. */
export interface ModeContext {
  job: Job;
  jobId: string;
  identity: SourceIdentity;
  options: JobOptions;
  deps: EngineDeps;
  log: Logger;
  /** What the source said about its object besides its bytes (kept on the destination unless object.preserve is off). */
  attributes?: ObjectAttributes;
  /** The job trusted a source without a strong validator (unpinned: trust): labelled on the object and in the report. */
  unpinned: boolean;
  /** OSS can copy the source object server-side (an OSS source that is not Appendable): see modes/server-copy.ts. */
  serverCopyable?: boolean;
  /** Source and destination as reports show them. */
  source: string;
  destination: string;
  started: number;
  /** Ends the window in which a cancel request stops the job (./cancel.ts): called before Complete. */
  pastCancel?: () => void;
}

/** One task of a dispatch round: a worker task to dispatch, or work the coordinator runs itself (server-side copy). */
export interface RoundTask {
  wire?: WorkerTaskWire;
  /** Runs in place of a worker dispatch (no worker is invoked); answers as a dispatch would. */
  run?(signal: AbortSignal): Promise<DispatchOutcome>;
  /** Fields naming the task in logs. */
  label: Record<string, unknown>;
  /** Takes the worker's answer: a problem description when it does not match the task (then it runs again). */
  accept(result: WorkerResult): string | undefined;
}

/** Facts of this run the lifecycle hands to the mode's report. */
export interface RunFacts {
  uploadId: string;
  etag: string;
  ossCrc64: bigint;
  combinedCrc64: bigint;
  tasks: number;
  peakWorkers: number;
  rounds: number;
  attempts: number;
  reused: ReusedWork;
}

/** A mode's plan for one run of a job. */
export interface ModePlan {
  /** What the status object records as partSize / partCount. */
  partSize: number;
  partCount: number;
  /** x-oss-meta-* and headers (Content-Type, storage class, encryption, tags, ACL) at Initiate: OSS takes them only there. */
  initiate: { meta: Record<string, string>; headers: Record<string, string> };
  /**
   * Takes over what an earlier run finished in the same upload: `listed` is ListParts (the truth), `prior`
   * the journal. Returns what was reused and how it was proven.
   */
  resume(prior: JobStatus, listed: readonly ListedPart[]): Promise<Partial<ReusedWork>>;
  /** The tasks of the next round (all work not yet done) for upload `uploadId`. */
  round(uploadId: string, deadlineMs: number): RoundTask[];
  done(): boolean;
  /** What is still missing, for the error after the last round. */
  missing(): string;
  /** The journal fields of the status object (receipts so far, input bytes done, archive task results). */
  journal(): Pick<JobStatus, 'parts' | 'bytesDone'> & Partial<Pick<JobStatus, 'tasks'>>;
  /** Checks before Complete; returns the parts to complete, in order, and their combined CRC-64. Throws IntegrityError. */
  verify(): { receipts: PartReceipt[]; combined: bigint };
  /** After a verified Complete (e.g. record what only the run could learn). Returns the object's final ETag. */
  afterComplete(completed: { etag: string; crc64: bigint }): Promise<{ etag: string }>;
  /** The report of a verified run (finalize steps such as deleting the source happen here). */
  report(run: RunFacts): Promise<JobReport>;
}

/** A job mode. */
export interface JobMode {
  /** A report when the destination already holds this job's verified result; else undefined. */
  alreadyDone(ctx: ModeContext, existing: DestinationInfo, prior: JobStatus | undefined): JobReport | undefined;
  /** When stat fails: a report if the job's result exists anyway (archive: a redelivery after deleting the source). */
  sourceGone?(job: Job, deps: EngineDeps, options: JobOptions, err: unknown, started: number): Promise<JobReport | undefined>;
  /** The answer to a delivery that finds a live owner; undefined → JobInProgressError. */
  inProgress?(ctx: ModeContext): JobReport;
  plan(ctx: ModeContext, resumeFrom: JobStatus | undefined): ModePlan;
}
