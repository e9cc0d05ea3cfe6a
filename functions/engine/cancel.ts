/**
 * Cancelling a job (`ossferry cancel` writes a cancel request in the status location: ../status/cancel.ts).
 * The owner checks for a request right after taking the lease — a re-delivered or retried invocation of a
 * cancelled job stops there, it never starts again — and then polls for one every `CANCEL_POLL_MS` while the
 * job runs. A request aborts the run's signal: dispatch stops, the multipart upload is aborted (workers'
 * next UploadPart then fails NoSuchUpload, which they treat as final: functions/worker), and the status
 * object says `cancelled`. Once Complete is about to be sent the request comes too late and is ignored.
 */
import type OSS from 'ali-oss';
import { errorToJson } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import type { JobReport } from '../../shared/report.ts';
import { OssPartSink } from '../oss/part-sink.ts';
import { readCancelRequest } from '../status/cancel.ts';
import { acquireLease, type JobLease } from '../status/lease.ts';
import type { JobStatus, StatusStore } from '../status/store.ts';
import { abortUpload } from './abort.ts';
import { abortStrayUploads } from './destination.ts';
import { JobCancelledError, JobFailedError } from './errors.ts';
import type { ModeContext } from './types.ts';

/** How often a running job looks for a cancel request (one GET on the status bucket). */
export const CANCEL_POLL_MS = 1_000;

/** States in which a cancel request no longer applies: the job is finished, or Complete was sent. */
const TOO_LATE: ReadonlySet<JobStatus['state']> = new Set(['succeeded', 'completing']);

/**
 * Runs `run` (the owned part of the lifecycle) so that a cancel request stops it. `run` gets a context whose
 * deps.signal also aborts on cancel and whose `pastCancel()` ends the window for cancelling.
 */
export async function cancellable(ctx: ModeContext, lease: JobLease | undefined, run: (ctx: ModeContext) => Promise<JobReport>): Promise<JobReport> {
  const { deps, jobId, log } = ctx;
  const client = deps.status?.client;
  if (!deps.status || !client) return run(ctx);
  const loc = deps.status.location;
  const prior = await deps.status.read(jobId);
  const early = prior && TOO_LATE.has(prior.state) ? undefined : await readCancelRequest(client, loc, jobId);
  if (early) {
    log.info('job was cancelled; this invocation does not start it again', { requestedAt: early.requestedAt });
    return settle(ctx, lease, new JobCancelledError(jobId, early.requestedAt));
  }

  const ctl = new AbortController();
  let polling = true;
  const poll = async () => {
    const req = await readCancelRequest(client, loc, jobId).catch((err: unknown) => log.warn('checking for a cancel request failed', { error: errorToJson(err) }));
    if (!polling) return;
    if (req) {
      log.info('cancel requested; stopping the job', { requestedAt: req.requestedAt });
      ctl.abort(new JobCancelledError(jobId, req.requestedAt));
    } else timer = setTimeout(() => void poll(), deps.cancelPollMs ?? CANCEL_POLL_MS);
  };
  let timer: NodeJS.Timeout | undefined = setTimeout(() => void poll(), deps.cancelPollMs ?? CANCEL_POLL_MS);
  const stop = () => {
    polling = false;
    clearTimeout(timer);
  };
  const signal = deps.signal ? AbortSignal.any([deps.signal, ctl.signal]) : ctl.signal;
  try {
    return await run({ ...ctx, deps: { ...deps, signal }, pastCancel: stop });
  } catch (err) {
    if (!ctl.signal.aborted) throw err;
    const cancelled = ctl.signal.reason as JobCancelledError;
    // failJob already aborted the upload and wrote `cancelled`; anything else (an abort inside a step) is settled here.
    if (err instanceof JobFailedError && err.cause === cancelled) throw cancelled;
    return settle(ctx, lease, cancelled);
  } finally {
    stop();
  }
}

/** Aborts whatever upload the job's status names (and strays since its intent), records `cancelled`, throws. */
async function settle(ctx: ModeContext, lease: JobLease | undefined, cancelled: JobCancelledError): Promise<never> {
  const { deps, jobId, job, log } = ctx;
  await settleCancelled({ store: deps.status!, destination: deps.destinationClient, bucket: job.destination.bucket, key: job.destination.key, jobId, log, lease, cancelled });
  throw cancelled;
}

/**
 * Records a cancelled job: aborts the upload its status object names (and strays of the key since its
 * intent), then writes state `cancelled`. Only an owner of the job's lease may call it. False when there
 * was nothing to settle (no status object, or already terminal).
 */
export async function settleCancelled(o: { store: StatusStore; destination: OSS; bucket: string; key: string; jobId: string; log: Logger; lease: JobLease | undefined; cancelled: JobCancelledError }): Promise<boolean> {
  const { store, destination: client, bucket, key, jobId, log, lease } = o;
  const s = await store.read(jobId);
  if (!s || s.state === 'cancelled' || s.state === 'failed' || s.state === 'succeeded') return false;
  lease?.assertOwner(); // a fenced owner must not abort the new owner's upload
  let aborted = true;
  if (s.uploadId) aborted = await abortUpload(new OssPartSink({ client, bucket, key, uploadId: s.uploadId, logger: log }), log);
  if (s.intentAt) await abortStrayUploads(client, key, s.intentAt, undefined, log);
  lease?.assertOwner();
  await store.write({ ...s, state: 'cancelled', error: errorToJson(o.cancelled) as JobStatus['error'], aborted, updatedAt: new Date().toISOString() });
  log.info('job cancelled', { uploadId: s.uploadId, aborted });
  return true;
}

/**
 * Cancels a job no invocation runs (interrupted, or its owner died): takes its lease as an owner would —
 * only once any earlier lease expired — and settles it. `held` when a live owner runs it (that owner stops
 * on the request itself).
 */
export async function cancelUnowned(o: { store: StatusStore; destination: (bucket: string) => OSS; jobId: string; requestedAt: string; log: Logger; lease?: { ttlMs?: number; waitMs?: number } }): Promise<'settled' | 'nothing' | 'held'> {
  const got = await acquireLease(o.store.client!, o.store.location, o.jobId, { logger: o.log, waitMs: o.lease?.waitMs ?? 0, ...(o.lease?.ttlMs ? { ttlMs: o.lease.ttlMs } : {}) });
  if (got.kind === 'held') return 'held';
  try {
    const s = await o.store.read(o.jobId);
    const dest = s ? /^oss:\/\/([^/]+)\/(.+)$/.exec(s.destination) : null;
    if (!s || !dest) return 'nothing';
    const done = await settleCancelled({ store: o.store, destination: o.destination(dest[1]!), bucket: dest[1]!, key: dest[2]!, jobId: o.jobId, log: o.log, lease: got.lease, cancelled: new JobCancelledError(o.jobId, o.requestedAt) });
    return done ? 'settled' : 'nothing';
  } finally {
    await got.lease.release();
  }
}
