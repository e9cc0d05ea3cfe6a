/**
 * OSS trigger events → archive jobs, on the coordinator. `handleOssEvent(body, deps)` parses the event with
 * the archive rules (shared/events.ts: only PutObject/PostObject/CopyObject/CompleteMultipartUpload, rules
 * loaded and loop-checked by parseArchiveRules), logs and skips records no rule matches, and runs one archive
 * job per matching record, carrying the rule's gzip level, deleteSourceAfterVerify and the idempotency key.
 * Duplicate deliveries (FC retries asynchronous invocations) are harmless: the engine reports `alreadyArchived` for an object
 * version it has archived, and `inProgress` only while a live owner holds the job's lease; no second upload.
 * A failed record does not stop the others; the result lists each record's outcome. The caller decides
 * whether failures make the invocation fail (so FC redelivers: the job ids make a rerun idempotent).
 */
import type { ArchiveRule } from '../../shared/archive-rules.ts';
import { OssferryError, errorToJson } from '../../shared/errors.ts';
import { parseOssEvent, type ParseOssEventOptions } from '../../shared/events.ts';
import { parseJob, type Job } from '../../shared/job.ts';
import type { Logger } from '../../shared/log.ts';
import { jobReportToJson, type JobReport } from '../../shared/report.ts';
import { NETWORK_ERROR_CODES } from '../../shared/retry.ts';
import { JobFailedError } from '../engine/errors.ts';
import type { JobOptions } from '../engine/types.ts';

export interface OssEventDeps {
  rules: readonly ArchiveRule[];
  logger: Logger;
  /** Runs one archive job (the engine's runJob with the coordinator's deps). */
  runJob(job: Job, options: JobOptions): Promise<JobReport>;
  /** Worker count for trigger-started jobs (the stack's max workers). */
  workers?: number;
  parseOptions?: ParseOssEventOptions;
}

export interface OssEventRecordResult {
  index: number;
  idempotencyKey: string;
  source: string;
  destination: string;
  ok: boolean;
  report?: Record<string, unknown>;
  error?: ReturnType<typeof errorToJson>;
  /** The failure may pass on another delivery (throttling, server error, broken connection). */
  transient?: true;
}

export interface OssEventResult {
  results: OssEventRecordResult[];
  ignored: Array<{ index: number; reason: string }>;
  /** Jobs that ran and uploaded, were already archived, or were in progress elsewhere. */
  archived: number;
  alreadyArchived: number;
  inProgress: number;
  failed: number;
}

/** Failure causes another delivery may not meet: throttling, a server error, a broken connection. */
const TRANSIENT_CODES = new Set(['SourceUnavailable', 'SlowDown', 'InternalError', 'ServiceUnavailable', 'RequestTimeout', ...NETWORK_ERROR_CODES]);

/** Whether a record's failure was transient (then the event is worth FC's async retry), by its own or its cause's code. */
export function transientFailure(err: unknown): boolean {
  const code = err instanceof JobFailedError ? err.causeCode : (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && TRANSIENT_CODES.has(code);
}

/**
 * Thrown after every record was tried when one failed transiently: the invocation fails, so FC retries the event
 * asynchronously (its retry policy); the records that succeeded answer alreadyArchived then, at the cost of a HEAD.
 */
export class TriggerRetryError extends OssferryError {
  readonly result: OssEventResult;
  constructor(result: OssEventResult, failed: OssEventRecordResult[]) {
    super(
      'TriggerRetry',
      `${failed.length} archive(s) of this event failed transiently (${failed.map((r) => `${r.source}: ${r.error?.code ?? r.error?.name}`).join('; ')}); failing the invocation so Function Compute delivers the event again; if every retry fails, the coordinator's log lines "archive from trigger failed" name the objects: put them again, or archive them with ossferry copy --gzip`,
    );
    this.result = result;
  }
}

export async function handleOssEvent(body: unknown, deps: OssEventDeps): Promise<OssEventResult> {
  const outcomes = parseOssEvent(body, deps.rules, deps.parseOptions);
  const out: OssEventResult = { results: [], ignored: [], archived: 0, alreadyArchived: 0, inProgress: 0, failed: 0 };
  for (const o of outcomes) {
    if (o.kind !== 'archive') {
      deps.logger.info('trigger record ignored', { index: o.index, reason: o.reason, ...(o.bucket ? { bucket: o.bucket } : {}), ...(o.key ? { key: o.key } : {}) });
      out.ignored.push({ index: o.index, reason: o.reason });
      continue;
    }
    const r = o.request;
    const rec: OssEventRecordResult = { index: o.index, idempotencyKey: r.idempotencyKey, source: r.source, destination: r.destination, ok: false };
    try {
      const job = parseJob({ source: r.source, destination: r.destination, mode: 'archive', gzipLevel: r.gzipLevel, expectedSize: r.sourceSize, ...(deps.workers ? { workers: deps.workers } : {}) });
      const report = await deps.runJob(job, { idempotencyKey: r.idempotencyKey, deleteSourceAfterVerify: r.deleteSourceAfterVerify, sourceEtag: r.sourceEtag });
      rec.ok = true;
      rec.report = jobReportToJson(report);
      if (report.mode === 'archive' && report.alreadyArchived) out.alreadyArchived++;
      else if (report.mode === 'archive' && report.inProgress) out.inProgress++;
      else out.archived++;
    } catch (err) {
      rec.error = errorToJson(err);
      if (transientFailure(err)) rec.transient = true;
      out.failed++;
      deps.logger.error('archive from trigger failed', { index: o.index, idempotencyKey: r.idempotencyKey, rule: r.rule, error: rec.error });
    }
    out.results.push(rec);
  }
  deps.logger.info('trigger event handled', { archived: out.archived, alreadyArchived: out.alreadyArchived, inProgress: out.inProgress, failed: out.failed, ignored: out.ignored.length });
  const transient = out.results.filter((r) => r.transient);
  if (transient.length > 0) throw new TriggerRetryError(out, transient);
  return out;
}
