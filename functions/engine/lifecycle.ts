/**
 * The job lifecycle, one for every mode (design.md "The job as a state machine"):
 *   stat source → job identity → ownership (lease) → destination check → resume or (intent → Initiate)
 *   → dispatch rounds → verify → Complete (x-oss-forbid-overwrite) → verify OSS's CRC → finalize → report.
 * What differs between copy and archive is the mode (./modes/*.ts): plan, task wire, result check,
 * metadata, report. Every step is crash-safe: the status object is the owner's journal (intent before
 * Initiate, receipts as they land, `completing` before Complete), ListParts is the truth on resume, and a
 * later invocation takes over only through the lease (functions/status/lease.ts). Any failure before a
 * verified object exists aborts the upload — unless the lease was lost: a fenced owner touches nothing.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ObjectAttributes } from '../../shared/attributes.ts';
import { warnIfSlowCrc } from '../../shared/crc64/index.ts';
import { IntegrityError, InvalidInputError, OssferryError, errorToJson } from '../../shared/errors.ts';
import { jobIdOf, ossUrl, type Job } from '../../shared/job.ts';
import type { Logger } from '../../shared/log.ts';
import { isPinned } from '../../shared/pinning.ts';
import { capabilitiesOf } from '../../shared/sources.ts';
import { NO_REUSE, jobReportToJson, type JobReport, type ReusedWork } from '../../shared/report.ts';
import { taskDeadlineMs } from '../../shared/task.ts';
import { OBJECT_META } from '../../shared/verify.ts';
import { OssPartSink } from '../oss/part-sink.ts';
import { DestinationExistsError } from '../oss/types.ts';
import type { SourceIdentity } from '../sources/types.ts';
import { acquireLease, type JobLease } from '../status/lease.ts';
import { recordReceipt } from '../status/receipt.ts';
import { StatusWriter, type JobStatus } from '../status/store.ts';
import { abortUpload, failAfterComplete, failJob, isNoSuchUpload } from './abort.ts';
import { abortStrayUploads, completeOnce, headDestination, missingBucket, removeUnverified } from './destination.ts';
import type { DispatchOutcome } from './dispatch.ts';
import { JobFailedError, JobInProgressError } from './errors.ts';
import { sourceVersionToDelete } from './source-delete.ts';
import { claimDestination } from './supersede.ts';
import { cancellable } from './cancel.ts';
import { archiveMode } from './modes/archive.ts';
import { copyMode } from './modes/copy.ts';
import { ossRetry } from './oss-calls.ts';
import type { EngineDeps, JobMode, JobOptions, ModeContext, ModePlan } from './types.ts';

const MODES: Readonly<Record<Job['mode'], JobMode>> = { copy: copyMode, archive: archiveMode };
export const ENGINE_DEFAULTS = Object.freeze({ maxRounds: 5 });
const RESUMABLE: ReadonlySet<JobStatus['state']> = new Set(['initiating', 'running', 'interrupted', 'completing']);

/**
 * Runs a job to a verified object (or a clean failure) and returns its report. Throws JobFailedError (cause =
 * the reason, `aborted` = upload aborted), JobInProgressError (a live owner runs it), LeaseLostError (this
 * invocation was fenced), or, for bad input found before any upload exists, the error itself.
 */
export async function runJob(job: Job, deps: EngineDeps, options: JobOptions = {}): Promise<JobReport> {
  const mode = MODES[job.mode];
  const now = deps.now ?? Date.now;
  const started = now();
  warnIfSlowCrc(deps.logger);

  // 1. Source identity (the sources module screens the URL before any connection).
  const source = deps.openSource(job);
  let identity: SourceIdentity;
  let attributes: ObjectAttributes | undefined;
  let serverCopyable = false;
  try {
    identity = await source.stat(deps.signal);
    attributes = source.attributes?.();
    serverCopyable = source.serverCopyable?.() ?? false;
  } catch (err) {
    const gone = await mode.sourceGone?.(job, deps, options, err, started);
    if (gone) return gone;
    throw err;
  } finally {
    await source.close().catch(() => undefined);
  }
  if (job.expectedSize !== undefined && job.expectedSize !== identity.size) {
    throw new InvalidInputError('expectedSize', `is ${job.expectedSize} but the source has ${identity.size} bytes`, 'fix expectedSize or check the source URL');
  }
  if (job.expectedCrc64 !== undefined && identity.crc64 !== undefined && job.expectedCrc64 !== identity.crc64) {
    throw new InvalidInputError('expectedCrc64', `is ${job.expectedCrc64} but the source reports ${identity.crc64}`, 'fix expectedCrc64 or check the source');
  }

  // Delete-after-verify: refused here, before any upload, unless the exact archived version can be deleted.
  if (options.deleteSourceAfterVerify) options = { ...options, deleteVersionId: await sourceVersionToDelete(job, deps, identity, deps.signal) };

  // 2. Job identity.
  const jobId = jobIdOf(job, identity);
  const log = deps.logger.child({ jobId, ...(options.idempotencyKey ? { idempotencyKey: options.idempotencyKey } : {}) });
  // A source without a strong validator got here only because the job said reread or trust; trust is labelled.
  const unpinned = capabilitiesOf(job.source.kind).unpinnedPolicy && job.unpinned === 'trust' && !isPinned(identity);
  const ctx: ModeContext = { job, jobId, identity, ...(attributes ? { attributes } : {}), unpinned, serverCopyable, options, deps, log, source: source.displayUrl, destination: ossUrl(job.destination), started };

  // 3. Ownership: one live owner per job; a later invocation takes over only once the lease expired.
  let lease: JobLease | undefined;
  if (deps.status?.client) {
    const got = await acquireLease(deps.status.client, deps.status.location, jobId, { ...deps.lease, logger: log, ...(deps.signal ? { signal: deps.signal } : {}) });
    if (got.kind === 'held') {
      log.info('job owned by a live invocation; not starting a second run', { epoch: got.epoch, expiresInMs: got.expiresInMs });
      const answer = mode.inProgress?.(ctx);
      if (answer) return answer;
      throw new JobInProgressError(jobId, `lease epoch ${got.epoch}, expires in ${Math.ceil(got.expiresInMs / 1000)} s unless renewed`);
    }
    lease = got.lease;
  }
  try {
    await deps.crashAt?.('afterLease');
    return await cancellable(ctx, lease, (c) => runOwned(c, mode, lease));
  } finally {
    await lease?.release();
  }
}

async function runOwned(ctx: ModeContext, mode: JobMode, lease: JobLease | undefined): Promise<JobReport> {
  const { job, jobId, identity, deps, log } = ctx;
  const now = deps.now ?? Date.now;
  const crash = deps.crashAt ?? (() => undefined);
  const client = deps.destinationClient;
  const signal = lease && deps.signal ? AbortSignal.any([deps.signal, lease.signal]) : (lease?.signal ?? deps.signal);
  const writer = new StatusWriter(deps.status, lease ? () => lease.assertOwner() : undefined);
  const prior = deps.status ? await deps.status.read(jobId) : undefined;
  const attempts = (prior?.attempts ?? 0) + 1;

  // 4. Destination: this job's verified result already there, or an object we may not replace.
  const existing = await headDestination(client, job, signal);
  const ours = existing !== undefined && existing.meta[OBJECT_META.JOB_ID] === jobId;
  if (existing && ours) {
    const done = mode.alreadyDone(ctx, existing, prior);
    if (done) {
      log.info('job already complete at the destination', { destination: ctx.destination });
      lease?.assertOwner();
      if (prior) {
        // An earlier run that stopped between Complete and its last status write: its receipt goes first, as it would have.
        const receipt = prior.state !== 'succeeded' ? await recordReceipt(deps.status, prior, done, log) : undefined;
        const report = receipt ? { ...done, receipt } : done;
        // Written even when it already said succeeded: a client following this submission sees the answer.
        await deps.status?.write({ ...prior, state: 'succeeded', report: jobReportToJson(report), updatedAt: new Date().toISOString() });
        return report;
      }
      return done;
    }
  }
  if (existing && !ours && !job.overwrite) {
    throw new DestinationExistsError(
      `destination: ${ctx.destination} already exists (${existing.size} bytes) and is not this job's result (x-oss-meta-ossferry-job-id differs); nothing was uploaded and the object is untouched. Fix: choose another key, delete the object, or set overwrite: true`,
    );
  }
  const overwrite = job.overwrite || ours;

  // 5. Resume the upload an earlier owner started; ListParts decides what is reused.
  const reused: ReusedWork = { ...NO_REUSE };
  let plan: ModePlan | undefined;
  let sink: OssPartSink | undefined;
  if (prior?.uploadId && RESUMABLE.has(prior.state) && prior.size === identity.size) {
    const s = new OssPartSink({ client, bucket: job.destination.bucket, key: job.destination.key, uploadId: prior.uploadId, logger: log });
    try {
      const listed = await ossRetry(() => s.listParts(), signal);
      plan = mode.plan(ctx, prior);
      Object.assign(reused, await plan.resume(prior, listed), { upload: true });
      sink = s;
      log.info('resuming multipart upload', { uploadId: prior.uploadId, listedParts: listed.length, reused });
    } catch (err) {
      if (!isNoSuchUpload(err)) throw err;
      plan = undefined;
      log.warn('recorded multipart upload is gone; starting afresh', { uploadId: prior.uploadId });
    }
  }
  if (prior?.intentAt && RESUMABLE.has(prior.state)) reused.strayUploadsAborted += await abortStrayUploads(client, job.destination.key, prior.intentAt, sink?.uploadId, log);
  plan ??= mode.plan(ctx, undefined);
  const status: JobStatus = {
    version: 1,
    jobId,
    mode: job.mode,
    state: 'initiating',
    ...(lease ? { leaseEpoch: lease.epoch } : {}),
    source: ctx.source,
    sourceIdentity: { ...identity },
    destination: ctx.destination,
    size: identity.size,
    partSize: plan.partSize,
    partCount: plan.partCount,
    ...plan.journal(),
    rounds: 0,
    startedAt: prior?.startedAt ?? new Date(ctx.started).toISOString(),
    updatedAt: new Date().toISOString(),
    attempts,
  };
  const save = () => {
    Object.assign(status, plan.journal(), { updatedAt: new Date().toISOString() });
    writer.save(status);
  };

  // 6. Intent, then Initiate (metadata goes in at Initiate; OSS takes none at Complete).
  if (!sink) {
    if (deps.status) reused.supersededUploadsAborted = await claimDestination(deps.status, client, { ...job.destination, url: ctx.destination }, jobId, log);
    status.intentAt = new Date().toISOString();
    save();
    await writer.flush(true); // the intent must land: it is how a lost Initiate answer is found again
    await crash('afterIntent');
    await lease?.confirm();
    const s = new OssPartSink({ client, bucket: job.destination.bucket, key: job.destination.key, logger: log });
    try {
      await ossRetry(() => s.initiate({ ...plan.initiate, overwrite }), signal);
    } catch (err) {
      // HEAD of a key in a missing bucket is a bodiless 404 that ali-oss reports as NoSuchKey; Initiate says NoSuchBucket.
      if ((err as { code?: string }).code === 'NoSuchBucket') throw missingBucket(job, err);
      throw err;
    }
    sink = s;
    await crash('afterInitiate');
    reused.strayUploadsAborted += await abortStrayUploads(client, job.destination.key, status.intentAt, s.uploadId, log);
  } else if (prior?.intentAt) status.intentAt = prior.intentAt;
  const uploadId = sink.uploadId!;
  status.uploadId = uploadId;
  status.state = 'running';
  save();
  const fail = async (cause: unknown): Promise<never> => {
    if (lease) await lease.confirm(); // a fenced owner must not abort the new owner's upload (throws LeaseLostError)
    return failJob({ label: `${job.mode} job`, jobId, uploadId, dest: ctx.destination, sink: sink!, log, status, save, writer }, cause);
  };
  await writer.flush(true).catch(fail); // an upload the journal does not name must not outlive this run

  // 7. Dispatch rounds: every task not yet done; failed tasks go to the next round.
  let tasksDispatched = 0;
  let peakWorkers = 0;
  const maxRounds = deps.maxRounds ?? ENGINE_DEFAULTS.maxRounds;
  const roundCtl = new AbortController(); // aborted by a fatal task result, or with the run (lease lost, cancel)
  const roundSignal = signal ? AbortSignal.any([signal, roundCtl.signal]) : roundCtl.signal;
  for (let round = 1; !plan.done(); round++) {
    if (round > maxRounds) await fail(new IntegrityError(`still missing after ${maxRounds} dispatch rounds: ${plan.missing()}`));
    if (round > 1) await sleep(Math.min(250 * 2 ** (round - 2), 4_000), undefined, signal ? { signal } : {});
    if (deps.deadlineMs !== undefined && now() > deps.deadlineMs - 15_000) {
      // Out of time: leave the upload for a re-invocation to resume (the status object says where it is).
      status.state = 'interrupted';
      save();
      await writer.flush();
      throw new JobFailedError({ jobId, uploadId, aborted: false, cause: new OssferryError('Deadline', 'coordinator deadline reached'), message: `job ${jobId} interrupted by the coordinator deadline (${plan.missing()} missing); invoke it again to resume upload ${uploadId}` });
    }
    const tasks = plan.round(uploadId, taskDeadlineMs(now(), deps.workerTimeoutSeconds, deps.deadlineMs));
    status.rounds = round;
    log.info('dispatch round', { round, tasks: tasks.length });
    let fatal: unknown;
    let inFlight = 0;
    await Promise.all(
      tasks.map(async (t) => {
        // Work the coordinator runs itself (server-side copy) invokes no worker.
        const byWorker = t.run === undefined;
        if (byWorker) {
          tasksDispatched++;
          peakWorkers = Math.max(peakWorkers, ++inFlight);
        }
        let outcome: DispatchOutcome;
        try {
          outcome = t.run ? await t.run(roundSignal) : await deps.dispatch(t.wire!, roundSignal);
        } catch (err) {
          outcome = roundSignal.aborted ? { kind: 'fatal', error: roundSignal.reason ?? err } : { kind: 'retry', error: err };
        } finally {
          if (byWorker) inFlight--;
        }
        if (outcome.kind === 'retry') return log.warn('worker task failed; it goes to the next round', { round, ...t.label, error: errorToJson(outcome.error) });
        let problem: string | undefined;
        try {
          if (outcome.kind === 'fatal') throw outcome.error;
          problem = t.accept(outcome.result);
        } catch (err) {
          fatal ??= err;
          return roundCtl.abort(err);
        }
        if (problem) return log.error('worker result does not match its task; it runs again', { ...t.label, problem });
        save();
        if (deps.crashAt) await writer.flush().then(() => crash('midDispatch', roundSignal)); // tests: crash or hold once the journal holds a result
      }),
    );
    if (fatal !== undefined) await fail(fatal);
    if (signal?.aborted) await fail(signal.reason);
  }

  // 8. Verify before Complete what can be verified (sizes, combined CRCs against the source's).
  let checked: ReturnType<ModePlan['verify']>;
  try {
    checked = plan.verify();
  } catch (err) {
    return fail(err);
  }

  // 9. Complete (forbid-overwrite unless replacing is allowed), then compare OSS's whole-object CRC. A cancel now is too late.
  ctx.pastCancel?.();
  status.state = 'completing';
  save();
  await writer.flush(true).catch(fail);
  await crash('beforeComplete');
  await lease?.confirm();
  let completed: { etag: string; crc64?: bigint };
  try {
    completed = await completeOnce(sink, client, checked.receipts, job, jobId, overwrite, signal);
  } catch (err) {
    if (err instanceof DestinationExistsError) {
      // Without a status store nothing serialises duplicate deliveries: a duplicate that completed first wins.
      const there = await headDestination(client, job, signal);
      const done = there && there.meta[OBJECT_META.JOB_ID] === jobId ? mode.alreadyDone(ctx, there, undefined) : undefined;
      if (done) {
        await abortUpload(sink, log);
        log.info('a concurrent run completed this job first; this run wrote nothing to the destination');
        return done;
      }
    }
    return fail(err);
  }
  await crash('afterComplete');
  const failVerified = (err: unknown) => failAfterComplete({ label: `${job.mode} job`, jobId, uploadId, dest: ctx.destination, sink: sink!, log, status, save, writer }, err);
  if (completed.crc64 === undefined || completed.crc64 !== checked.combined) return failVerified(await removeUnverified(client, job.destination.key, completed.crc64, checked.combined));

  // An Initiate can execute after its client gave up and the retry's upload was checked for strays (a slow
  // server, a timeout): look once more now. Only a run that completed does this: a competing job for the key would
  // have superseded this run's upload before its Complete, so what is left here is this job's own.
  if (status.intentAt) reused.strayUploadsAborted += await abortStrayUploads(client, job.destination.key, status.intentAt, uploadId, log);

  // 10. Finalize: what the mode does after a verified Complete, then the report.
  let final: { etag: string };
  try {
    final = await plan.afterComplete({ etag: completed.etag, crc64: completed.crc64 });
  } catch (err) {
    return failVerified(err);
  }
  let report = await plan.report({ uploadId, etag: final.etag, ossCrc64: completed.crc64, combinedCrc64: checked.combined, tasks: tasksDispatched, peakWorkers, rounds: status.rounds, attempts, reused });
  Object.assign(status, plan.journal());
  const receipt = await recordReceipt(deps.status, status, report, log);
  if (receipt) report = { ...report, receipt };
  await crash('beforeSucceeded');
  status.state = 'succeeded';
  status.report = jobReportToJson(report);
  save();
  await writer.flush();
  log.info('job succeeded', { destination: ctx.destination, size: identity.size, seconds: report.seconds, mbPerSecond: report.mbPerSecond, crc64: checked.combined, reused });
  return report;
}
