/**
 * The coordinator side of an archive job (mode "archive"):
 *   stat source → job id → already archived? running elsewhere? → planArchiveTasks (member-aligned tasks,
 *   reserved part-number blocks) → Initiate (metadata) → dispatch tasks, re-dispatch failed ones in bounded
 *   rounds → check the Complete invariants (validateCompletedParts) → combine per-task uncompressed CRCs →
 *   Complete (forbid-overwrite) → verify crc64Combine(part CRCs) == OSS's x-oss-hash-crc64ecma → record the
 *   uncompressed size and CRC-64 as metadata → optionally delete the source (same ETag only) → report.
 * Any failure before a verified object exists aborts the multipart upload (nothing half-written).
 *
 * Metadata: OSS takes x-oss-meta-* only at Initiate. When the source publishes a CRC-64 (OSS sources, the
 * trigger path) the uncompressed CRC is known up front, goes in at Initiate and is verified against the
 * combined task CRCs before Complete. Otherwise (HTTP, SFTP) it is known only after the workers ran, so the
 * completed object's metadata is replaced server-side (CopyObject onto itself with REPLACE, pinned by
 * If-Match to the ETag just completed; a multipart UploadPartCopy onto itself above 1 GB, oss-protocol.md
 * §3.4), and the stamped object's CRC-64 is checked to be unchanged. An object carrying this job's id but
 * no `uncompressed-crc64` is an unfinished run of this job and is replaced on the next run.
 *
 * Idempotency (trigger events are at-least-once, fc-platform.md §4.3): the job id hashes source URL +
 * version (size, ETag, CRC, mtime) + destination, and is stored as `x-oss-meta-ossferry-job-id`. A run
 * that finds the destination carrying this job id and its uncompressed CRC reports `alreadyArchived`
 * without uploading; a status object in state running/completing updated recently reports `inProgress`;
 * two runs racing past both checks meet at Complete (forbid-overwrite): the loser aborts its upload and
 * reports `alreadyArchived`.
 */
import type OSS from 'ali-oss';
import { setTimeout as delay } from 'node:timers/promises';
import { planArchiveTasks, validateCompletedParts, DEFAULT_ARCHIVE_MEMBER_SIZE, type ArchivePlan } from '../../shared/archive-parts.ts';
import { crc64Combine, crc64CombineParts, warnIfSlowCrc } from '../../shared/crc64/index.ts';
import { crc64FromWire } from '../../shared/crc64/wire.ts';
import { IntegrityError, InvalidInputError, OssferryError, errorToJson } from '../../shared/errors.ts';
import { normalizeEtag } from '../../shared/events.ts';
import { jobIdFor, ossUrl, type Job } from '../../shared/job.ts';
import { toJsonValue } from '../../shared/json.ts';
import { OSS as LIMITS } from '../../shared/limits.ts';
import type { Logger } from '../../shared/log.ts';
import { taskDeadlineMs, taskSourceFor } from '../../shared/task.ts';
import { ARCHIVE_META, OBJECT_META } from '../../shared/verify.ts';
import { abortUpload, failJob } from '../coordinator/abort.ts';
import { header, ossRetry, type ResponseHeaders } from '../coordinator/oss-calls.ts';
import { headDestination, objectMeta, type TaskDispatchOutcome } from '../coordinator/run.ts';
import { JobFailedError } from '../coordinator/report.ts';
import { OssPartSink } from '../oss/part-sink.ts';
import { DestinationExistsError } from '../oss/types.ts';
import type { RangeSource, SourceIdentity } from '../sources/types.ts';
import { StatusWriter, type JobStatus, type StatusStore } from '../status/store.ts';
import { archiveTaskToWire, type ArchiveResult, type ArchiveTaskWire } from './task.ts';

export type ArchiveJob = Extract<Job, { mode: 'archive' }>;

export type ArchiveDispatchOutcome = TaskDispatchOutcome<ArchiveResult>;

export interface ArchiveJobDeps {
  logger: Logger;
  /** Opens the job's source for stat(); `sftp.hostKeyFingerprint` is the job's SFTP host key pin. */
  openSource(job: Job, sftp?: { hostKeyFingerprint?: string }): RangeSource;
  destinationClient: OSS;
  status?: StatusStore;
  /** Runs one archive task on a worker (fc2 through functions/archive/dispatch.ts, or in-process in tests). */
  dispatch(task: ArchiveTaskWire, signal: AbortSignal): Promise<ArchiveDispatchOutcome>;
  workerTimeoutSeconds: number;
  /** Client for an OSS source bucket: needed only for deleteSourceAfterVerify. */
  sourceClientFor?: (bucket: string) => OSS;
  maxRounds?: number;
  deadlineMs?: number;
  signal?: AbortSignal;
  ossHints?: { endpoint?: string; region?: string };
  now?: () => number;
}

export interface ArchiveJobOptions {
  /** Uncompressed bytes per gzip member. Default 8 MiB. */
  memberSize?: number;
  /** Target compressed part size. Default 16 MiB. */
  partTarget?: number;
  /** Lower bound of a non-final task's input (tests); never below the 100 KB proof (archive-parts.ts). */
  minTaskInput?: number;
  /** Members read and compressed at once per worker. Default 4. */
  concurrency?: number;
  /** Delete an OSS source once the archive is verified, if it still has the ETag the job archived. */
  deleteSourceAfterVerify?: boolean;
  /** SFTP host key pin (`SHA256:…`), passed to the workers. */
  hostKeyFingerprint?: string;
  /** The trigger's idempotency key (shared/events.ts), for logs and the report. */
  idempotencyKey?: string;
  /**
   * The ETag the trigger reported for the source. When the source is gone (a redelivered event after
   * deleteSourceAfterVerify), a destination recording this ETag and its uncompressed CRC is reported as
   * already archived instead of failing.
   */
  sourceEtag?: string;
  /** Above this compressed size, metadata is stamped by multipart copy. Default 1 GB (CopyObject limit). */
  copyObjectLimit?: number;
  /** A running status object younger than this means another coordinator runs the job. Default worker timeout + 120 s. */
  inProgressWindowMs?: number;
}

export interface ArchiveReport {
  jobId: string;
  source: string;
  destination: string;
  /** Uncompressed input bytes. */
  size: number;
  compressedSize: number;
  /** size / compressedSize. */
  ratio: number;
  gzipLevel: number;
  memberSize: number;
  parts: number;
  tasks: number;
  rounds: number;
  seconds: number;
  /** Input MB/s (10^6 B/s) over this run's wall time. */
  mbPerSecond: number;
  /** CRC-64 of the stored (compressed) object == combine(part CRCs) == OSS's. */
  crc64: bigint;
  /** CRC-64 of the input == combine(per-task uncompressed CRCs) (== the source's CRC when published). */
  uncompressedCrc64: bigint;
  etag: string;
  uploadId: string;
  verified: { combinedCrc64: bigint; ossCrc64: bigint; uncompressedCrc64: bigint; sourceCrc64?: bigint };
  idempotencyKey?: string;
  /** The destination already held this archive: nothing was uploaded. */
  alreadyArchived?: boolean;
  /** Another run of this job is in progress: nothing was uploaded. */
  inProgress?: boolean;
  /** deleteSourceAfterVerify outcome. */
  sourceDeleted?: boolean;
  sourceKeptReason?: string;
}

/** JSON-safe copy of a report (bigint → decimal string). */
export function archiveReportToJson(r: ArchiveReport): Record<string, unknown> {
  return toJsonValue(r);
}

/**
 * Replaces the metadata of `key` in place, keeping its bytes: CopyObject onto itself (≤ copyObjectLimit),
 * else a multipart copy onto itself (UploadPartCopy, ≤ 1 GB per part). Pinned to `etag` so an object
 * replaced meanwhile is never re-stamped. Returns the stamped object's CRC-64 and ETag.
 */
export async function stampMetadata(client: OSS, bucket: string, key: string, etag: string, size: number, meta: Record<string, string>, copyObjectLimit: number = LIMITS.MAX_COPY_OBJECT_SIZE): Promise<{ etag: string; crc64?: bigint }> {
  if (size <= copyObjectLimit) {
    await ossRetry(() => client.copy(key, key, { meta: meta as unknown as OSS.UserMeta, headers: { 'If-Match': etag } } as OSS.CopyObjectOptions));
  } else {
    const init = await ossRetry(() => client.initMultipartUpload(key, { meta: meta as unknown as OSS.UserMeta }));
    const partSize = Math.max(LIMITS.MIN_PART_SIZE, Math.min(LIMITS.MAX_COPY_OBJECT_SIZE, Math.ceil(size / LIMITS.MAX_PART_NUMBER)));
    const done: Array<{ number: number; etag: string }> = [];
    try {
      for (let n = 1, s = 0; s < size; n++, s += partSize) {
        const end = Math.min(size, s + partSize);
        const r = await ossRetry(() =>
          client.uploadPartCopy(key, init.uploadId, n, `${s}-${end - 1}`, { sourceKey: key, sourceBucketName: bucket }, { headers: { 'x-oss-copy-source-if-match': etag } } as never),
        );
        done.push({ number: n, etag: r.etag });
      }
      await ossRetry(() => client.completeMultipartUpload(key, init.uploadId, done));
    } catch (err) {
      await client.abortMultipartUpload(key, init.uploadId).catch(() => undefined);
      throw err;
    }
  }
  const h = (await ossRetry(() => client.head(key))).res as unknown as { headers: ResponseHeaders };
  const crc = header(h.headers, 'x-oss-hash-crc64ecma');
  return { etag: header(h.headers, 'etag') ?? '', ...(crc !== undefined ? { crc64: crc64FromWire(crc, 'x-oss-hash-crc64ecma') } : {}) };
}

/** Runs an archive job: a verified gzip object at the destination, or a clean failure with the upload aborted. */
export async function runArchiveJob(job: Job, deps: ArchiveJobDeps, options: ArchiveJobOptions = {}): Promise<ArchiveReport> {
  if (job.mode !== 'archive') throw new InvalidInputError('mode', `is "${job.mode}"; runArchiveJob runs archive jobs`, 'set mode to "archive" or use runCopyJob');
  const now = deps.now ?? Date.now;
  const started = now();
  const signal = deps.signal;
  let log = deps.logger;
  warnIfSlowCrc(log);
  // The host key pin: the caller's option, else the job's sftpHostKeyFingerprint.
  const hostKeyFingerprint = options.hostKeyFingerprint ?? job.sftpHostKeyFingerprint;

  // 1. Source identity.
  const source = deps.openSource(job, hostKeyFingerprint ? { hostKeyFingerprint } : undefined);
  let identity: SourceIdentity;
  try {
    identity = await source.stat(signal);
  } catch (err) {
    const gone = await archivedBeforeSourceWentAway(job, deps, options, err, started, now, source.displayUrl);
    if (gone) return gone;
    throw err;
  } finally {
    await source.close().catch(() => undefined);
  }
  if (job.expectedSize !== undefined && job.expectedSize !== identity.size) {
    throw new InvalidInputError('expectedSize', `is ${job.expectedSize} but the source has ${identity.size} bytes`, 'fix expectedSize or check the source URL');
  }
  const jobId = jobIdFor({ url: job.source.url, identity }, job.destination);
  log = log.child({ jobId, ...(options.idempotencyKey ? { idempotencyKey: options.idempotencyKey } : {}) });
  const dest = ossUrl(job.destination);
  const client = deps.destinationClient;
  const base = { jobId, source: source.displayUrl, destination: dest, size: identity.size, gzipLevel: job.gzipLevel, ...(options.idempotencyKey ? { idempotencyKey: options.idempotencyKey } : {}) };

  // 2. Already archived / in progress / destination taken.
  const existing = await headDestination(client, job, signal);
  const ours = existing !== undefined && existing.meta[OBJECT_META.JOB_ID] === jobId;
  if (existing && ours && existing.meta[ARCHIVE_META.UNCOMPRESSED_CRC64] !== undefined && existing.crc64 !== undefined) {
    log.info('already archived', { destination: dest });
    return alreadyArchivedReport(base, existing, started, now);
  }
  if (existing && !ours && !job.overwrite) {
    throw new DestinationExistsError(
      `destination: ${dest} already exists (${existing.size} bytes) and is not this source's archive (x-oss-meta-ossferry-job-id differs); nothing was uploaded. Fix: choose another key, delete the object, or set overwrite: true`,
    );
  }
  const prior = deps.status ? await deps.status.read(jobId) : undefined;
  const window = options.inProgressWindowMs ?? deps.workerTimeoutSeconds * 1000 + 120_000;
  if (prior && (prior.state === 'running' || prior.state === 'completing') && now() - Date.parse(prior.updatedAt) < window) {
    log.info('archive job already in progress elsewhere; not starting a second upload', { uploadId: prior.uploadId, updatedAt: prior.updatedAt });
    return { ...base, compressedSize: 0, ratio: 0, memberSize: 0, parts: 0, tasks: 0, rounds: 0, seconds: 0, mbPerSecond: 0, crc64: 0n, uncompressedCrc64: 0n, etag: '', uploadId: prior.uploadId ?? '', verified: { combinedCrc64: 0n, ossCrc64: 0n, uncompressedCrc64: 0n }, inProgress: true };
  }
  if (prior?.uploadId && (prior.state === 'running' || prior.state === 'completing' || prior.state === 'interrupted')) {
    // A stale run of this job: its upload is abandoned (archive tasks are all-or-nothing; we start afresh).
    const stale = new OssPartSink({ client, bucket: job.destination.bucket, key: job.destination.key, uploadId: prior.uploadId, logger: log });
    await abortUpload(stale, log);
  }

  // 3. Plan.
  const plan: ArchivePlan = planArchiveTasks({
    sourceSize: identity.size,
    maxTasks: job.workers,
    memberSize: options.memberSize ?? DEFAULT_ARCHIVE_MEMBER_SIZE,
    ...(options.partTarget !== undefined ? { partTarget: options.partTarget } : {}),
    ...(options.minTaskInput !== undefined ? { minTaskInput: options.minTaskInput } : {}),
  });
  log.info('archive job planned', { source: source.displayUrl, destination: dest, size: identity.size, tasks: plan.tasks.length, memberSize: plan.memberSize, partTarget: plan.partTarget, partsPerTask: plan.partsPerTask, gzipLevel: job.gzipLevel });

  // 4. Initiate with the metadata known now.
  const meta: Record<string, string> = {
    ...objectMeta(job, jobId, identity),
    [ARCHIVE_META.FORMAT]: 'gzip-members',
    [ARCHIVE_META.UNCOMPRESSED_SIZE]: String(identity.size),
    [ARCHIVE_META.MEMBER_SIZE]: String(plan.memberSize),
    [ARCHIVE_META.LEVEL]: String(job.gzipLevel),
  };
  if (identity.crc64 !== undefined) meta[ARCHIVE_META.UNCOMPRESSED_CRC64] = identity.crc64.toString(10);
  const overwrite = job.overwrite || ours;
  const sink = new OssPartSink({ client, bucket: job.destination.bucket, key: job.destination.key, logger: log });
  await ossRetry(() => sink.initiate({ meta, overwrite, contentType: 'application/gzip' }), signal);
  const uploadId = sink.uploadId!;

  const status: JobStatus = {
    version: 1,
    jobId,
    state: 'running',
    source: source.displayUrl,
    sourceIdentity: { ...identity },
    destination: dest,
    uploadId,
    size: identity.size,
    // Archive jobs: partSize = the part target, partCount = the number of tasks (compressed parts are unknown up front).
    partSize: plan.partTarget,
    partCount: plan.tasks.length,
    parts: [],
    bytesDone: 0,
    rounds: 0,
    startedAt: new Date(started).toISOString(),
    updatedAt: new Date().toISOString(),
    attempts: (prior?.attempts ?? 0) + 1,
  };
  const writer = new StatusWriter(deps.status);
  const save = () => {
    status.updatedAt = new Date().toISOString();
    writer.save(status);
  };
  save();

  const fail = (cause: unknown): Promise<never> => failJob({ label: 'archive job', jobId, uploadId, dest, sink, log, status, save, writer }, cause);
  try {
    await writer.flush(true);
  } catch (err) {
    return fail(err);
  }

  // 5. Dispatch every task; failed tasks go to the next round.
  const results = new Map<number, ArchiveResult>();
  const maxRounds = deps.maxRounds ?? 5;
  let tasksDispatched = 0;
  let rounds = 0;
  const ctl = new AbortController();
  const onOuterAbort = () => ctl.abort(signal?.reason);
  signal?.addEventListener('abort', onOuterAbort, { once: true });
  try {
    while (results.size < plan.tasks.length) {
      rounds++;
      if (rounds > maxRounds) {
        const missing = plan.tasks.filter((t) => !results.has(t.index)).map((t) => `[${t.start}, ${t.end})`);
        await fail(new IntegrityError(`archive tasks still failing after ${maxRounds} dispatch rounds: ${missing.slice(0, 10).join(', ')}`));
      }
      if (rounds > 1) await delay(Math.min(250 * 2 ** (rounds - 2), 4_000));
      const deadlineMs = taskDeadlineMs(now(), deps.workerTimeoutSeconds, deps.deadlineMs);
      let fatal: unknown;
      await Promise.all(
        plan.tasks
          .filter((t) => !results.has(t.index))
          .map(async (t) => {
            const wire = archiveTaskToWire({
              mode: 'archive',
              jobId,
              uploadId,
              destination: job.destination,
              source: taskSourceFor(job, identity, hostKeyFingerprint),
              start: t.start,
              end: t.end,
              firstPartNumber: t.firstPartNumber,
              lastPartNumber: t.lastPartNumber,
              isFinal: t.isFinal,
              memberSize: plan.memberSize,
              partTarget: plan.partTarget,
              gzipLevel: job.gzipLevel,
              concurrency: options.concurrency ?? Math.min(job.streamsPerWorker, 4),
              deadlineMs,
              ...(deps.ossHints ? { oss: deps.ossHints } : {}),
            });
            tasksDispatched++;
            let outcome: ArchiveDispatchOutcome;
            try {
              outcome = await deps.dispatch(wire, ctl.signal);
            } catch (err) {
              outcome = ctl.signal.aborted ? { kind: 'fatal', error: ctl.signal.reason ?? err } : { kind: 'retry', error: err };
            }
            if (outcome.kind === 'fatal') {
              fatal ??= outcome.error;
              ctl.abort(outcome.error);
              return;
            }
            if (outcome.kind === 'retry') {
              log.warn('archive task failed; it goes to the next round', { round: rounds, task: t.index, error: errorToJson(outcome.error) });
              return;
            }
            const r = outcome.result;
            const problem = checkResult(r, t);
            if (problem) {
              log.error('worker returned an archive result that does not match its task; task will run again', { task: t.index, problem });
              return;
            }
            results.set(t.index, r);
            status.parts = [...results.values()].flatMap((x) => x.receipts).sort((a, b) => a.partNumber - b.partNumber);
            status.bytesDone = [...results.values()].reduce((a, x) => a + x.uncompressedSize, 0);
            status.rounds = rounds;
            save();
          }),
      );
      if (fatal !== undefined) await fail(fatal);
      if (signal?.aborted) await fail(signal.reason);
    }
  } finally {
    signal?.removeEventListener('abort', onOuterAbort);
  }

  // 6. Verify what can be verified before Complete.
  const ordered = plan.tasks.map((t) => results.get(t.index)!);
  const receipts = ordered.flatMap((r) => r.receipts);
  try {
    validateCompletedParts(receipts);
  } catch (err) {
    return fail(err);
  }
  let uncompressedCrc = 0n;
  let uncompressedSize = 0;
  for (const r of ordered) {
    uncompressedCrc = crc64Combine(uncompressedCrc, r.uncompressedCrc64, r.uncompressedSize);
    uncompressedSize += r.uncompressedSize;
  }
  if (uncompressedSize !== identity.size) await fail(new IntegrityError(`tasks compressed ${uncompressedSize} input bytes, the source has ${identity.size}`));
  if (identity.crc64 !== undefined && uncompressedCrc !== identity.crc64) {
    await fail(new IntegrityError(`combined uncompressed CRC-64 ${uncompressedCrc} differs from the source's CRC-64 ${identity.crc64}`));
  }
  if (job.expectedCrc64 !== undefined && uncompressedCrc !== job.expectedCrc64) {
    await fail(new IntegrityError(`combined uncompressed CRC-64 ${uncompressedCrc} differs from expectedCrc64 ${job.expectedCrc64}`));
  }
  const combined = crc64CombineParts(receipts);
  const compressedSize = receipts.reduce((a, p) => a + p.size, 0);

  // 7. Complete; a concurrent duplicate that completed first makes this run a no-op.
  status.state = 'completing';
  save();
  await writer.flush();
  let completed: { etag: string; crc64?: bigint };
  try {
    completed = await ossRetry(() => sink.complete(receipts, { overwrite, ...(signal ? { signal } : {}) }));
  } catch (err) {
    if (err instanceof DestinationExistsError) {
      const now2 = await headDestination(client, job, signal);
      if (now2 && now2.meta[OBJECT_META.JOB_ID] === jobId) {
        await abortUpload(sink, log);
        status.state = 'succeeded';
        save();
        await writer.flush();
        log.info('a concurrent run archived this object first; this run uploaded nothing to the destination', { destination: dest });
        return alreadyArchivedReport(base, now2, started, now);
      }
    }
    return fail(err);
  }
  if (completed.crc64 === undefined || completed.crc64 !== combined) {
    const problem = completed.crc64 === undefined ? 'OSS returned no whole-object CRC-64' : `OSS's CRC-64 ${completed.crc64} differs from the combined part CRC-64 ${combined}`;
    const removed = await ossRetry(() => client.delete(job.destination.key)).then(() => true, () => false);
    return failVerified(new IntegrityError(`${problem}; the completed object was ${removed ? 'deleted' : 'NOT deleted (delete it by hand)'}`));
  }

  // 8. Uncompressed CRC into the metadata when it was not known at Initiate.
  let etag = completed.etag;
  if (identity.crc64 === undefined) {
    try {
      const stamped = await stampMetadata(client, job.destination.bucket, job.destination.key, completed.etag, compressedSize, { ...meta, [ARCHIVE_META.UNCOMPRESSED_CRC64]: uncompressedCrc.toString(10) }, options.copyObjectLimit);
      if (stamped.crc64 !== combined) {
        return failVerified(new IntegrityError(`after recording the uncompressed CRC-64 the object's CRC-64 is ${stamped.crc64 ?? 'missing'}, expected ${combined}; the object is left for inspection`));
      }
      etag = stamped.etag;
    } catch (err) {
      return failVerified(new OssferryError('MetadataStamp', `the archive is complete and verified but recording x-oss-meta-${ARCHIVE_META.UNCOMPRESSED_CRC64} failed (${(err as Error).message}); re-run the job to replace it`, { cause: err }));
    }
  }

  // 9. Optional source deletion: only an OSS source, only when it still has the archived ETag.
  let sourceDeleted: boolean | undefined;
  let sourceKeptReason: string | undefined;
  if (options.deleteSourceAfterVerify) {
    ({ sourceDeleted, sourceKeptReason } = await deleteSourceIfUnchanged(job, deps, identity, log));
  }

  const seconds = Math.max((now() - started) / 1000, 1e-6);
  const report: ArchiveReport = {
    ...base,
    compressedSize,
    ratio: compressedSize > 0 ? Math.round((identity.size / compressedSize) * 1000) / 1000 : 0,
    memberSize: plan.memberSize,
    parts: receipts.length,
    tasks: tasksDispatched,
    rounds,
    seconds: Math.round(seconds * 1000) / 1000,
    mbPerSecond: Math.round((identity.size / 1e6 / seconds) * 10) / 10,
    crc64: combined,
    uncompressedCrc64: uncompressedCrc,
    etag,
    uploadId,
    verified: { combinedCrc64: combined, ossCrc64: completed.crc64, uncompressedCrc64: uncompressedCrc, ...(identity.crc64 !== undefined ? { sourceCrc64: identity.crc64 } : {}) },
    ...(sourceDeleted !== undefined ? { sourceDeleted } : {}),
    ...(sourceKeptReason !== undefined ? { sourceKeptReason } : {}),
  };
  status.state = 'succeeded';
  status.report = archiveReportToJson(report);
  save();
  await writer.flush();
  log.info('archive job succeeded', { destination: dest, size: identity.size, compressedSize, ratio: report.ratio, parts: receipts.length, seconds: report.seconds, mbPerSecond: report.mbPerSecond, crc64: combined, uncompressedCrc64: uncompressedCrc });
  return report;

  async function failVerified(err: unknown): Promise<never> {
    status.state = 'failed';
    status.error = errorToJson(err) as JobStatus['error'];
    save();
    await writer.flush();
    log.error('archive job failed after Complete', { error: errorToJson(err) });
    throw new JobFailedError({ jobId, uploadId, aborted: true, cause: err, message: `archive job ${jobId} failed verification: ${(err as Error).message}` });
  }
}

/** A redelivered event whose source was deleted after a verified archive: report it, do not fail. */
async function archivedBeforeSourceWentAway(job: ArchiveJob, deps: ArchiveJobDeps, options: ArchiveJobOptions, err: unknown, started: number, now: () => number, displayUrl: string): Promise<ArchiveReport | undefined> {
  const e = err as { status?: number; code?: string; cause?: { status?: number } };
  const notFound = e?.status === 404 || e?.code === 'NoSuchKey' || e?.cause?.status === 404 || /NoSuchKey|not found|404/i.test((err as Error)?.message ?? '');
  if (!notFound || options.sourceEtag === undefined) return undefined;
  const existing = await headDestination(deps.destinationClient, job, deps.signal);
  const recorded = existing?.meta['source-etag'];
  if (!existing || recorded === undefined || normalizeEtag(recorded) !== normalizeEtag(options.sourceEtag) || existing.meta[ARCHIVE_META.UNCOMPRESSED_CRC64] === undefined) return undefined;
  const jobId = existing.meta[OBJECT_META.JOB_ID] ?? '';
  deps.logger.info('source is gone and its archive exists (redelivered event)', { jobId, destination: ossUrl(job.destination) });
  return alreadyArchivedReport(
    { jobId, source: displayUrl, destination: ossUrl(job.destination), size: Number(existing.meta[ARCHIVE_META.UNCOMPRESSED_SIZE] ?? 0), gzipLevel: job.gzipLevel, ...(options.idempotencyKey ? { idempotencyKey: options.idempotencyKey } : {}) },
    existing,
    started,
    now,
  );
}

function checkResult(r: ArchiveResult, t: { start: number; end: number; firstPartNumber: number; lastPartNumber: number }): string | undefined {
  if (r.uncompressedSize !== t.end - t.start) return `uncompressedSize ${r.uncompressedSize} ≠ task range ${t.end - t.start}`;
  let prev = 0;
  for (const p of r.receipts) {
    if (p.partNumber < t.firstPartNumber || p.partNumber > t.lastPartNumber) return `part ${p.partNumber} outside the block ${t.firstPartNumber}-${t.lastPartNumber}`;
    if (p.partNumber <= prev) return 'part numbers not ascending';
    prev = p.partNumber;
  }
  if (r.receipts.reduce((a, p) => a + p.size, 0) !== r.compressedSize) return 'compressedSize ≠ sum of part sizes';
  return undefined;
}

function alreadyArchivedReport(
  base: { jobId: string; source: string; destination: string; size: number; gzipLevel: number; idempotencyKey?: string },
  existing: { size: number; crc64?: bigint; etag?: string; meta: Record<string, string> },
  started: number,
  now: () => number,
): ArchiveReport {
  const uncompressed = existing.meta[ARCHIVE_META.UNCOMPRESSED_CRC64];
  const u = uncompressed !== undefined ? crc64FromWire(uncompressed, `x-oss-meta-${ARCHIVE_META.UNCOMPRESSED_CRC64}`) : 0n;
  const crc = existing.crc64 ?? 0n;
  return {
    ...base,
    compressedSize: existing.size,
    ratio: existing.size > 0 ? Math.round((base.size / existing.size) * 1000) / 1000 : 0,
    memberSize: Number(existing.meta[ARCHIVE_META.MEMBER_SIZE] ?? 0),
    parts: 0,
    tasks: 0,
    rounds: 0,
    seconds: Math.round(((now() - started) / 1000) * 1000) / 1000,
    mbPerSecond: 0,
    crc64: crc,
    uncompressedCrc64: u,
    etag: existing.etag ?? '',
    uploadId: '',
    verified: { combinedCrc64: crc, ossCrc64: crc, uncompressedCrc64: u },
    alreadyArchived: true,
  };
}

async function deleteSourceIfUnchanged(job: Job, deps: ArchiveJobDeps, identity: SourceIdentity, log: Logger): Promise<{ sourceDeleted: boolean; sourceKeptReason?: string }> {
  if (job.source.kind !== 'oss') return { sourceDeleted: false, sourceKeptReason: 'only OSS sources are deleted after verification' };
  if (!deps.sourceClientFor) return { sourceDeleted: false, sourceKeptReason: 'no OSS client for the source bucket was configured' };
  if (identity.etag === undefined) return { sourceDeleted: false, sourceKeptReason: 'the source had no ETag to compare' };
  const src = deps.sourceClientFor(job.source.bucket);
  try {
    const h = await ossRetry(() => src.head(job.source.kind === 'oss' ? job.source.key : ''));
    const etagNow = header((h.res as unknown as { headers: ResponseHeaders }).headers, 'etag');
    if (etagNow === undefined || normalizeEtag(etagNow) !== normalizeEtag(identity.etag)) {
      log.warn('source changed after archiving; kept', { archivedEtag: identity.etag, etagNow });
      return { sourceDeleted: false, sourceKeptReason: `the source's ETag is now ${etagNow ?? 'missing'}, not the archived ${identity.etag}` };
    }
    await ossRetry(() => src.delete(job.source.kind === 'oss' ? job.source.key : ''));
    log.info('source deleted after verified archive', { source: job.source.url });
    return { sourceDeleted: true };
  } catch (err) {
    if ((err as { status?: number }).status === 404) return { sourceDeleted: false, sourceKeptReason: 'the source no longer exists' };
    log.error('deleting the source failed; the archive is complete', { error: errorToJson(err) });
    return { sourceDeleted: false, sourceKeptReason: `delete failed: ${(err as Error).message}` };
  }
}
