/**
 * The coordinator's job flow (design.md "Data flow of a job"):
 *   stat source → job id → status object (resume?) → destination check → plan → initiate (or ListParts)
 *   → dispatch tasks to workers, re-dispatch missing parts in bounded rounds → combine part CRCs
 *   → Complete (x-oss-forbid-overwrite) → verify combined == OSS == source/expected CRC → report.
 * Any terminal failure aborts the multipart upload (peers.md §2 item 1) and raises JobFailedError saying so.
 * Resume trusts the destination, not the status object: a part is reused only when ListParts shows it with
 * the planned size and the ETag of a receipt recorded with its CRC (peers.md §0 item 9, §2 item 2).
 */
import type OSS from 'ali-oss';
import { setTimeout as sleep } from 'node:timers/promises';
import { crc64CombineParts, warnIfSlowCrc } from '../../shared/crc64/index.ts';
import { crc64FromWire } from '../../shared/crc64/wire.ts';
import { IntegrityError, InvalidInputError, OssferryError, errorToJson } from '../../shared/errors.ts';
import { jobIdFor, ossUrl, type Job } from '../../shared/job.ts';
import { safeUrl, type Logger } from '../../shared/log.ts';
import { planJob, replanMissing, splitParts, type PartRange } from '../../shared/plan.ts';
import { taskDeadlineMs, taskSourceFor, taskToWire, type PartReceipt, type WorkerResult, type WorkerTaskWire } from '../../shared/task.ts';
import { OBJECT_META } from '../../shared/verify.ts';
import { OssPartSink } from '../oss/part-sink.ts';
import { DestinationExistsError, type PartSink } from '../oss/types.ts';
import type { RangeSource, SourceIdentity } from '../sources/types.ts';
import { StatusWriter, type JobStatus, type StatusStore } from '../status/store.ts';
import { abortUpload, failJob, isNoSuchUpload } from './abort.ts';
import { header, ossRetry, type ResponseHeaders } from './oss-calls.ts';
import { copyReportToJson, JobFailedError, type CopyReport } from './report.ts';

/** How one worker invocation ended, as the dispatcher classifies it; `R` is the worker's result (copy or archive). */
export type TaskDispatchOutcome<R> =
  | { kind: 'result'; result: R }
  /** The invocation failed in a way a new invocation may fix (crash, timeout, throttling past retries). */
  | { kind: 'retry'; error: unknown }
  /** Retrying cannot help (bad input, source changed, access denied). */
  | { kind: 'fatal'; error: unknown };

/** How one copy task's invocation ended. */
export type DispatchOutcome = TaskDispatchOutcome<WorkerResult>;

export interface CoordinatorDeps {
  logger: Logger;
  /** Opens the job's source; SSRF screening happens inside (functions/sources). */
  openSource(job: Job): RangeSource;
  /** ali-oss client for the destination bucket (retryMax 0; the coordinator retries). */
  destinationClient: OSS;
  /** Status store for resume and progress; without one, a re-invoked job starts afresh. */
  status?: StatusStore;
  /** Runs one worker task (fc2 invokeFunction through the invoker, functions/coordinator/dispatch.ts). */
  dispatch(task: WorkerTaskWire, signal: AbortSignal): Promise<DispatchOutcome>;
  /** The worker function's timeout: each task's deadline sits inside it. */
  workerTimeoutSeconds: number;
  /** Dispatch rounds before giving up on missing parts. Default 5. */
  maxRounds?: number;
  /** Epoch ms by which this coordinator invocation must answer. */
  deadlineMs?: number;
  signal?: AbortSignal;
  /** Destination OSS endpoint/region hints passed to workers in each task. */
  ossHints?: { endpoint?: string; region?: string };
  now?: () => number;
}

export const COORDINATOR_DEFAULTS = Object.freeze({ maxRounds: 5 });

interface DestinationInfo {
  size: number;
  crc64?: bigint;
  etag?: string;
  meta: Record<string, string>;
}

function missingBucket(job: Job, cause: unknown): InvalidInputError {
  return new InvalidInputError('destination', `bucket ${job.destination.bucket} does not exist`, 'create the bucket first or choose an existing one', { cause });
}

/** HEAD the destination; undefined when it does not exist. A missing bucket is bad input. */
export async function headDestination(client: OSS, job: Job, signal?: AbortSignal): Promise<DestinationInfo | undefined> {
  try {
    const r = await ossRetry(() => client.head(job.destination.key), signal);
    const h = (r.res as unknown as { headers: ResponseHeaders }).headers;
    const crc = header(h, 'x-oss-hash-crc64ecma');
    const out: DestinationInfo = { size: Number(header(h, 'content-length') ?? 0), meta: (r.meta ?? {}) as Record<string, string> };
    if (crc !== undefined) out.crc64 = crc64FromWire(crc, 'x-oss-hash-crc64ecma');
    const etag = header(h, 'etag');
    if (etag !== undefined) out.etag = etag;
    return out;
  } catch (err) {
    const e = err as { status?: number; code?: string };
    if (e.status === 404 && e.code === 'NoSuchBucket') throw missingBucket(job, err);
    if (e.status === 404) return undefined;
    throw err;
  }
}

/** Object metadata recording where the bytes came from (x-oss-meta-*). Values are ASCII-safe. */
export function objectMeta(job: Job, jobId: string, identity: SourceIdentity): Record<string, string> {
  const ascii = (s: string) => s.replace(/[^\x20-\x7e]/g, '?').slice(0, 1024);
  const meta: Record<string, string> = {
    [OBJECT_META.JOB_ID]: jobId,
    'source-url': ascii(safeUrl(job.source.url) === '[unparseable url]' ? job.source.url.split('?')[0]! : safeUrl(job.source.url)),
    [OBJECT_META.SOURCE_SIZE]: String(identity.size),
  };
  if (identity.etag !== undefined) meta['source-etag'] = ascii(identity.etag);
  if (identity.crc64 !== undefined) meta[OBJECT_META.SOURCE_CRC64] = identity.crc64.toString(10);
  if (identity.mtimeMs !== undefined) meta['source-mtime-ms'] = String(identity.mtimeMs);
  return meta;
}

/**
 * Runs a copy job to completion (or a clean failure). Returns the verified report; throws JobFailedError
 * (cause = the reason, `aborted` = multipart upload aborted) or, for bad input found before any upload
 * exists, the InvalidInputError / DestinationExistsError itself.
 */
export async function runCopyJob(job: Job, deps: CoordinatorDeps): Promise<CopyReport> {
  const now = deps.now ?? Date.now;
  const started = now();
  const signal = deps.signal;
  let log = deps.logger;
  if (job.mode !== 'copy') {
    throw new InvalidInputError('mode', `"${job.mode}" jobs are not run by this coordinator yet`, 'use mode "copy"');
  }
  warnIfSlowCrc(log);

  // 1. Source identity (the sources module screens the URL before any connection).
  const source = deps.openSource(job);
  let identity: SourceIdentity;
  try {
    identity = await source.stat(signal);
  } finally {
    await source.close().catch(() => undefined);
  }
  if (job.expectedSize !== undefined && job.expectedSize !== identity.size) {
    throw new InvalidInputError('expectedSize', `is ${job.expectedSize} but the source has ${identity.size} bytes`, 'fix expectedSize or check the source URL');
  }
  if (job.expectedCrc64 !== undefined && identity.crc64 !== undefined && job.expectedCrc64 !== identity.crc64) {
    throw new InvalidInputError('expectedCrc64', `is ${job.expectedCrc64} but the source reports ${identity.crc64}`, 'fix expectedCrc64 or check the source');
  }
  const jobId = jobIdFor({ url: job.source.url, identity }, job.destination);
  log = log.child({ jobId });
  const dest = ossUrl(job.destination);
  const displaySource = source.displayUrl;

  // 2. Earlier runs of this job.
  const prior = deps.status ? await deps.status.read(jobId) : undefined;
  const attempts = (prior?.attempts ?? 0) + 1;

  // 3. Destination up front: never move bytes towards an object we may not replace.
  const existing = await headDestination(deps.destinationClient, job, signal);
  if (existing && existing.meta[OBJECT_META.JOB_ID] === jobId && prior && (prior.state === 'succeeded' || prior.state === 'completing')) {
    const done = finishedEarlier(prior, existing, jobId);
    if (done) {
      log.info('job already complete at the destination', { destination: dest, crc64: done.crc64 });
      return { ...done, attempts };
    }
  }
  if (existing && !job.overwrite) {
    throw new DestinationExistsError(
      `destination: ${dest} already exists (${existing.size} bytes) and overwrite is off; nothing was uploaded and the object is untouched. Fix: choose another key, delete the object, or set overwrite: true`,
    );
  }

  // 4. Plan — reusing the earlier part size when resuming, so part boundaries match what OSS holds.
  const resumable =
    prior?.uploadId !== undefined &&
    prior.size === identity.size &&
    (prior.state === 'running' || prior.state === 'interrupted' || prior.state === 'completing') &&
    prior.partSize >= 1;
  const planOptions = { partSize: job.partSize, maxWorkers: job.workers, streamsPerWorker: job.streamsPerWorker };
  const plan = planJob(identity.size, planOptions);
  let parts: PartRange[] = plan.parts;
  let partSize = plan.partSize;

  let sink: PartSink | undefined;
  const done = new Map<number, PartReceipt>();
  let resumedParts = 0;
  if (resumable) {
    try {
      const resumedLayout = splitParts(identity.size, prior.partSize);
      const s = new OssPartSink({ client: deps.destinationClient, bucket: job.destination.bucket, key: job.destination.key, uploadId: prior.uploadId!, logger: log });
      const listed = await ossRetry(() => s.listParts(), signal);
      const recorded = new Map(prior.parts.map((p) => [p.partNumber, p]));
      for (const l of listed) {
        const planned = resumedLayout[l.partNumber - 1];
        const rec = recorded.get(l.partNumber);
        if (planned && rec && l.size === planned.end - planned.start && rec.size === l.size && rec.etag === l.etag) {
          done.set(l.partNumber, { partNumber: rec.partNumber, etag: rec.etag, size: rec.size, crc64: rec.crc64 });
        }
      }
      sink = s;
      parts = resumedLayout;
      partSize = prior.partSize;
      resumedParts = done.size;
      log.info('resuming multipart upload', { uploadId: prior.uploadId, listedParts: listed.length, reusedParts: done.size, totalParts: parts.length });
    } catch (err) {
      if (!isNoSuchUpload(err)) throw err;
      log.warn('recorded multipart upload is gone; starting afresh', { uploadId: prior.uploadId });
    }
  }
  log.info('job planned', {
    source: displaySource,
    destination: dest,
    size: identity.size,
    partSize,
    parts: parts.length,
    workers: job.workers,
    streamsPerWorker: job.streamsPerWorker,
    resumedParts,
  });

  // 5. Initiate (metadata goes in at Initiate; OSS takes none at Complete).
  if (!sink) {
    const s = new OssPartSink({ client: deps.destinationClient, bucket: job.destination.bucket, key: job.destination.key, logger: log });
    try {
      await ossRetry(() => s.initiate({ meta: objectMeta(job, jobId, identity), overwrite: job.overwrite }), signal);
    } catch (err) {
      // HEAD of a key in a missing bucket is a bodiless 404 that ali-oss reports as NoSuchKey; Initiate says NoSuchBucket.
      if ((err as { code?: string }).code === 'NoSuchBucket') throw missingBucket(job, err);
      throw err;
    }
    sink = s;
  }
  const uploadId = sink.uploadId!;
  const status: JobStatus = {
    version: 1,
    jobId,
    state: 'running',
    source: displaySource,
    sourceIdentity: { ...identity },
    destination: dest,
    uploadId,
    size: identity.size,
    partSize,
    partCount: parts.length,
    parts: [...done.values()],
    bytesDone: [...done.values()].reduce((a, p) => a + p.size, 0),
    rounds: 0,
    startedAt: prior?.startedAt ?? new Date(started).toISOString(),
    updatedAt: new Date().toISOString(),
    attempts,
  };
  const writer = new StatusWriter(deps.status);
  const save = () => {
    status.parts = [...done.values()].sort((a, b) => a.partNumber - b.partNumber);
    status.bytesDone = status.parts.reduce((a, p) => a + p.size, 0);
    status.updatedAt = new Date().toISOString();
    writer.save(status);
  };
  save();
  // The first status write must land: without it a killed coordinator leaves an upload nobody can find.
  await writer.flush(true).catch(async (err: unknown) => {
    // No status object to record the failure in, so only the abort's outcome is reported (truthfully).
    const aborted = await abortUpload(sink!, log);
    const outcome = aborted ? `multipart upload aborted, nothing written to ${dest}` : `ABORTING multipart upload ${uploadId} FAILED — abort it by hand or let the lifecycle rule remove it`;
    throw new JobFailedError({ jobId, uploadId, aborted, cause: err, message: `job ${jobId}: ${(err as Error).message}; ${outcome}` });
  });

  const fail = (cause: unknown): Promise<never> => failJob({ label: 'job', jobId, uploadId, dest, sink: sink!, log, status, save, writer }, cause);

  // 6. Dispatch rounds.
  let tasksDispatched = 0;
  let peakWorkers = 0;
  const maxRounds = deps.maxRounds ?? COORDINATOR_DEFAULTS.maxRounds;
  const byNumber = new Map(parts.map((p) => [p.partNumber, p]));
  const roundCtl = new AbortController();
  const onOuterAbort = () => roundCtl.abort(signal?.reason);
  signal?.addEventListener('abort', onOuterAbort, { once: true });
  try {
    for (let round = 1; done.size < parts.length; round++) {
      if (round > maxRounds) {
        const missing = parts.filter((p) => !done.has(p.partNumber)).map((p) => p.partNumber);
        await fail(new IntegrityError(`parts still missing after ${maxRounds} dispatch rounds: ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? ' …' : ''}`));
      }
      if (round > 1) await sleep(Math.min(250 * 2 ** (round - 2), 4_000), undefined, signal ? { signal } : {});
      if (deps.deadlineMs !== undefined && now() > deps.deadlineMs - 15_000) {
        // Out of time: leave the upload for a re-invocation to resume (the status object says where it is).
        status.state = 'interrupted';
        save();
        await writer.flush();
        throw new JobFailedError({ jobId, uploadId, aborted: false, cause: new OssferryError('Deadline', 'coordinator deadline reached'), message: `job ${jobId} interrupted by the coordinator deadline with ${parts.length - done.size} parts missing; invoke it again to resume upload ${uploadId}` });
      }
      const tasks = replanMissing(parts, done.keys(), planOptions);
      status.rounds = round;
      log.info('dispatch round', { round, tasks: tasks.length, parts: tasks.reduce((a, t) => a + t.parts.length, 0) });
      let fatal: unknown;
      const deadlineMs = taskDeadlineMs(now(), deps.workerTimeoutSeconds, deps.deadlineMs);
      let inFlight = 0;
      await Promise.all(
        tasks.map(async (t) => {
          const wire = taskToWire({
            jobId,
            uploadId,
            destination: job.destination,
            source: taskSourceFor(job, identity, job.sftpHostKeyFingerprint),
            parts: t.parts,
            streams: job.streamsPerWorker,
            mode: 'copy',
            deadlineMs,
            ...(deps.ossHints ? { oss: deps.ossHints } : {}),
          });
          tasksDispatched++;
          inFlight++;
          peakWorkers = Math.max(peakWorkers, inFlight);
          let outcome: DispatchOutcome;
          try {
            outcome = await deps.dispatch(wire, roundCtl.signal);
          } catch (err) {
            outcome = roundCtl.signal.aborted ? { kind: 'fatal', error: roundCtl.signal.reason ?? err } : { kind: 'retry', error: err };
          } finally {
            inFlight--;
          }
          if (outcome.kind === 'fatal') {
            fatal ??= outcome.error;
            roundCtl.abort(outcome.error);
            return;
          }
          if (outcome.kind === 'retry') {
            log.warn('worker task failed; its parts go to the next round', { round, firstPart: t.parts[0]!.partNumber, parts: t.parts.length, error: errorToJson(outcome.error) });
            return;
          }
          const r = outcome.result;
          if (r.fatal) {
            fatal ??= new OssferryError(r.fatal.code, r.fatal.message);
            roundCtl.abort(fatal);
            return;
          }
          const inTask = new Set(t.parts.map((p) => p.partNumber));
          for (const rec of r.receipts) {
            const planned = byNumber.get(rec.partNumber);
            if (!planned || !inTask.has(rec.partNumber) || rec.size !== planned.end - planned.start) {
              log.error('worker returned a receipt that does not match its task; part will be uploaded again', { receipt: { partNumber: rec.partNumber, size: rec.size } });
              continue;
            }
            done.set(rec.partNumber, rec);
          }
          if (r.errors.length > 0 || r.unfinished.length > 0) {
            log.warn('worker returned unfinished parts', { round, unfinished: r.unfinished.length, errors: r.errors.slice(0, 5) });
          }
          save();
        }),
      );
      if (fatal !== undefined) await fail(fatal);
      if (signal?.aborted) await fail(signal.reason);
    }
  } finally {
    signal?.removeEventListener('abort', onOuterAbort);
  }

  // 7. Verify before Complete what can be verified: sizes and the combined CRC against the source/expected CRC.
  const receipts = parts.map((p) => done.get(p.partNumber)!);
  const total = receipts.reduce((a, p) => a + p.size, 0);
  if (total !== identity.size) await fail(new IntegrityError(`parts add up to ${total} bytes, the source has ${identity.size}`));
  const combined = crc64CombineParts(receipts);
  if (identity.crc64 !== undefined && combined !== identity.crc64) {
    await fail(new IntegrityError(`combined CRC-64 of the parts ${combined} differs from the source's CRC-64 ${identity.crc64}`));
  }
  if (job.expectedCrc64 !== undefined && combined !== job.expectedCrc64) {
    await fail(new IntegrityError(`combined CRC-64 of the parts ${combined} differs from expectedCrc64 ${job.expectedCrc64}`));
  }

  // 8. Complete (forbid-overwrite unless asked) and compare OSS's whole-object CRC.
  status.state = 'completing';
  save();
  await writer.flush();
  let completed: { etag: string; crc64?: bigint };
  try {
    completed = await completeOnce(sink, deps.destinationClient, receipts, job, jobId, signal);
  } catch (err) {
    return fail(err);
  }
  if (completed.crc64 === undefined || completed.crc64 !== combined) {
    // The object exists but is not what we sent: remove it unless it replaced an existing object on purpose.
    const problem = completed.crc64 === undefined ? 'OSS returned no whole-object CRC-64' : `OSS's CRC-64 ${completed.crc64} differs from the combined part CRC-64 ${combined}`;
    const removed = await ossRetry(() => deps.destinationClient.delete(job.destination.key)).then(() => true, () => false);
    const err = new IntegrityError(`${problem}; the completed object was ${removed ? 'deleted' : 'NOT deleted (delete it by hand)'}`);
    status.state = 'failed';
    status.error = errorToJson(err) as JobStatus['error'];
    save();
    await writer.flush();
    throw new JobFailedError({ jobId, uploadId, aborted: true, cause: err, message: `job ${jobId} failed verification: ${err.message}` });
  }

  const seconds = Math.max((now() - started) / 1000, 1e-6);
  const report: CopyReport = {
    jobId,
    source: displaySource,
    destination: dest,
    size: identity.size,
    partSize,
    parts: parts.length,
    tasks: tasksDispatched,
    workers: peakWorkers,
    rounds: status.rounds,
    resumedParts,
    attempts,
    seconds: Math.round(seconds * 1000) / 1000,
    mbPerSecond: Math.round((identity.size / 1e6 / seconds) * 10) / 10,
    crc64: combined,
    etag: completed.etag,
    uploadId,
    verified: {
      combinedCrc64: combined,
      ossCrc64: completed.crc64,
      ...(identity.crc64 !== undefined ? { sourceCrc64: identity.crc64 } : {}),
      ...(job.expectedCrc64 !== undefined ? { expectedCrc64: job.expectedCrc64 } : {}),
    },
  };
  status.state = 'succeeded';
  status.report = copyReportToJson(report);
  save();
  await writer.flush();
  log.info('job succeeded', { destination: dest, size: identity.size, parts: parts.length, seconds: report.seconds, mbPerSecond: report.mbPerSecond, crc64: combined });
  return report;
}

/** A report for a job whose verified object is already at the destination (repeated invocation). */
function finishedEarlier(prior: JobStatus, existing: DestinationInfo, jobId: string): CopyReport | undefined {
  if (existing.size !== prior.size || existing.crc64 === undefined) return undefined;
  const receipts = [...prior.parts].sort((a, b) => a.partNumber - b.partNumber);
  if (receipts.length !== prior.partCount) return undefined;
  const combined = crc64CombineParts(receipts);
  if (combined !== existing.crc64) return undefined;
  return {
    jobId,
    source: prior.source,
    destination: prior.destination,
    size: prior.size,
    partSize: prior.partSize,
    parts: prior.partCount,
    tasks: 0,
    workers: 0,
    rounds: 0,
    resumedParts: prior.partCount,
    attempts: prior.attempts,
    seconds: 0,
    mbPerSecond: 0,
    crc64: combined,
    etag: existing.etag ?? '',
    uploadId: prior.uploadId ?? '',
    verified: { combinedCrc64: combined, ossCrc64: existing.crc64, ...(prior.sourceIdentity.crc64 !== undefined ? { sourceCrc64: prior.sourceIdentity.crc64 } : {}) },
    alreadyDone: true,
  };
}

/**
 * Complete with retries. A retried Complete whose first attempt already succeeded answers NoSuchUpload (or
 * FileAlreadyExists with forbid-overwrite): then the object is ours if its metadata carries this job id.
 */
async function completeOnce(sink: PartSink, client: OSS, receipts: PartReceipt[], job: Job, jobId: string, signal?: AbortSignal): Promise<{ etag: string; crc64?: bigint }> {
  let attempt = 0;
  try {
    return await ossRetry(() => {
      attempt++;
      return sink.complete(receipts, { overwrite: job.overwrite, ...(signal ? { signal } : {}) });
    });
  } catch (err) {
    if (attempt > 1 && (isNoSuchUpload(err) || err instanceof DestinationExistsError)) {
      const obj = await headDestination(client, job, signal);
      if (obj && obj.meta[OBJECT_META.JOB_ID] === jobId && sink.uploadId !== undefined) {
        return { etag: obj.etag ?? '', ...(obj.crc64 !== undefined ? { crc64: obj.crc64 } : {}) };
      }
    }
    throw err;
  }
}
