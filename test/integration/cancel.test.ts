/**
 * Cancelling a job, in the engine (in-process workers through their wire schemas, the real local OSS and HTTP
 * source): a cancel request mid-dispatch stops the run, aborts the upload and records `cancelled`; a worker
 * still in flight gets NoSuchUpload on its next UploadPart and stops without retrying; a re-delivered
 * invocation of the cancelled job never starts it again; withdrawing the request (a re-submit) runs it; a
 * request that comes once Complete is due is too late and the job succeeds; a job whose owner died is settled
 * by the cancelling side once its lease is free.
 */
import { randomBytes } from 'node:crypto';
import OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc64 } from '../../shared/crc64/index.ts';
import { jobIdOf, type Job } from '../../shared/job.ts';
import { silentLogger } from '../../shared/log.ts';
import type { AllowList } from '../../shared/ssrf.ts';
import type { WorkerTaskWire } from '../../shared/task.ts';
import type { HttpSourceServer } from '../../local/http-source/index.ts';
import { cancelUnowned } from '../../functions/engine/cancel.ts';
import { JobCancelledError } from '../../functions/engine/errors.ts';
import { runJob } from '../../functions/engine/lifecycle.ts';
import type { EngineDeps } from '../../functions/engine/types.ts';
import { OssPartSink } from '../../functions/oss/part-sink.ts';
import type { PartSink } from '../../functions/oss/types.ts';
import { openSource } from '../../functions/sources/index.ts';
import { readCancelRequest, requestCancel, withdrawCancel } from '../../functions/status/cancel.ts';
import { acquireLease } from '../../functions/status/lease.ts';
import type { StatusStore } from '../../functions/status/store.ts';
import { inProcessCopyDispatch, startEngineHarness, type EngineHarness } from '../helpers/engine-dispatch.ts';

const KB100 = 100 * 1024;

let h: EngineHarness;
let http: HttpSourceServer;
let dst: OSS;
let statusClient: OSS;
let status: StatusStore;
let allow: AllowList;

beforeAll(async () => {
  h = await startEngineHarness();
  ({ http, dst, statusClient, status, allow } = h);
});
afterAll(async () => {
  await h?.close();
});

const deps = (extra: Partial<EngineDeps> = {}): EngineDeps => h.deps({ cancelPollMs: 50, ...extra });
const copyJob = (path: string, key: string): Job => h.copyJob(path, key);
const uploadsOf = (key: string) => h.uploadsOf(key);

const exists = (key: string) => dst.head(key).then(() => true, (e: { status?: number }) => (e.status === 404 ? false : Promise.reject(e)));

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** UploadPart attempts of a worker: how many got NoSuchUpload, and how many started after the first did. */
interface Attempts {
  gone: number;
  startedAfterGone: number;
}

/** A part sink that records UploadPart attempts (a worker that retried NoSuchUpload would start another). */
function recordingSink(a: Attempts) {
  return (t: { destination: { bucket: string; key: string }; uploadId: string }): PartSink => {
    const sink = new OssPartSink({ client: dst, bucket: t.destination.bucket, key: t.destination.key, uploadId: t.uploadId });
    return new Proxy(sink, {
      get(target, prop, receiver) {
        if (prop !== 'uploadPart') return Reflect.get(target, prop, receiver) as unknown;
        return async (...args: Parameters<OssPartSink['uploadPart']>) => {
          if (a.gone > 0) a.startedAfterGone++;
          try {
            return await target.uploadPart(...args);
          } catch (err) {
            if ((err as { code?: string }).code === 'NoSuchUpload') a.gone++;
            throw err;
          }
        };
      },
    });
  };
}

describe('engine: cancel', () => {
  it('a cancel request mid-dispatch aborts the upload and records cancelled; a worker still in flight stops at NoSuchUpload without retrying; a re-delivery does not restart it; a re-submit runs it', async () => {
    // Prepare: the first task's worker is held "in flight" until the job is cancelled and its upload aborted, then runs
    // as a late worker would; the coordinator stops waiting for it when the round aborts, as fc2 does.
    const data = randomBytes(8 * KB100 + 5);
    http.setFile('/cancel.bin', data);
    const job = copyJob('/cancel.bin', 'cancel.bin');
    const attempts: Attempts = { gone: 0, startedAfterGone: 0 };
    const late = inProcessCopyDispatch(dst, allow, { partSinkFor: recordingSink(attempts) });
    let jobId = '';
    let lateOutcome: Awaited<ReturnType<typeof late>> | undefined;
    let held: Promise<void> | undefined;
    let first = true;
    const dispatch: EngineDeps['dispatch'] = async (wire: WorkerTaskWire, signal) => {
      if (!first) return inProcessCopyDispatch(dst, allow)(wire);
      first = false;
      jobId = wire.jobId;
      await requestCancel(statusClient, status.location, jobId);
      await until('the coordinator to stop the round', async () => signal.aborted);
      held = (async () => {
        await until('the upload to be aborted', async () => (await uploadsOf('cancel.bin')).length === 0);
        lateOutcome = await late(wire);
      })();
      throw signal.reason;
    };

    // Act
    const run = runJob(job, deps({ dispatch }));

    // Assess
    await expect(run).rejects.toBeInstanceOf(JobCancelledError);
    await held;
    expect(lateOutcome).toMatchObject({ kind: 'fatal', error: expect.objectContaining({ code: 'NoSuchUpload' }) });
    expect(attempts.gone).toBeGreaterThanOrEqual(1);
    expect(attempts.startedAfterGone).toBe(0); // the first NoSuchUpload stops the task: nothing retried, no next part
    const s = (await status.read(jobId))!;
    expect(s).toMatchObject({ state: 'cancelled', aborted: true, error: expect.objectContaining({ code: 'JobCancelled' }) });
    expect(await uploadsOf('cancel.bin')).toEqual([]);
    expect(await exists('cancel.bin')).toBe(false);

    // Act: FC re-delivers the same invocation (an async retry, a duplicate event)
    let dispatched = 0;
    const again = runJob(job, deps({ dispatch: async (w) => (dispatched++, inProcessCopyDispatch(dst, allow)(w)) }));

    // Assess: stopped before anything started
    await expect(again).rejects.toBeInstanceOf(JobCancelledError);
    expect(dispatched).toBe(0);
    expect(await uploadsOf('cancel.bin')).toEqual([]);
    expect((await status.read(jobId))!.state).toBe('cancelled');

    // Act: the user re-submits (the CLI withdraws the cancel request first)
    await withdrawCancel(statusClient, status.location, jobId);
    const report = await runJob(job, deps());

    // Assess
    expect(report.crc64).toBe(crc64(data));
    expect(await exists('cancel.bin')).toBe(true);
    expect((await status.read(jobId))!.state).toBe('succeeded');
  });

  it('a cancel request written before the job starts: no upload is ever initiated', async () => {
    // Prepare
    const data = randomBytes(3 * KB100);
    http.setFile('/early.bin', data);
    const job = copyJob('/early.bin', 'early.bin');
    const src = openSource(job.source.url, { allow });
    const jobId = jobIdOf(job, await src.stat());
    await src.close();
    await requestCancel(statusClient, status.location, jobId);
    let dispatched = 0;

    // Act
    const run = runJob(job, deps({ dispatch: async (w) => (dispatched++, inProcessCopyDispatch(dst, allow)(w)) }));

    // Assess
    await expect(run).rejects.toBeInstanceOf(JobCancelledError);
    expect(dispatched).toBe(0);
    expect(await uploadsOf('early.bin')).toEqual([]);
    expect(await exists('early.bin')).toBe(false);
    expect(await readCancelRequest(statusClient, status.location, jobId)).toMatchObject({ jobId });
  });

  it('a cancel request that arrives once Complete is due comes too late: the job succeeds', async () => {
    // Prepare
    const data = randomBytes(4 * KB100 + 1);
    http.setFile('/late.bin', data);
    const job = copyJob('/late.bin', 'late.bin');
    const d = deps();
    d.crashAt = async (step) => {
      if (step !== 'beforeComplete') return;
      const ids = await statusClient.list({ prefix: 'jobs/', delimiter: '/', 'max-keys': 1000 }, {});
      // Status objects only (<jobId>.json): receipts sit beside them.
      const jobIds = (ids.objects ?? []).flatMap((o) => /\/(j[0-9a-f]{32})\.json$/.exec(o.name)?.[1] ?? []);
      const s = await Promise.all(jobIds.map((id) => status.read(id)));
      const mine = s.find((x) => x?.destination === 'oss://dst/late.bin')!;
      await requestCancel(statusClient, status.location, mine.jobId);
      await new Promise((r) => setTimeout(r, 300)); // several cancel polls
    };

    // Act
    const report = await runJob(job, d);

    // Assess
    expect(report.crc64).toBe(crc64(data));
    expect(await exists('late.bin')).toBe(true);
    expect(await uploadsOf('late.bin')).toEqual([]);
  });

  it('a job no invocation runs (its owner died): cancel settles it itself once the lease is free — upload aborted, state cancelled; a live owner is left to stop on its own', async () => {
    // Prepare: the owner "dies" once a worker result is journalled (the hook throws: no abort, no status write)
    const data = randomBytes(6 * KB100);
    http.setFile('/orphan.bin', data);
    const job = copyJob('/orphan.bin', 'orphan.bin');
    const src = openSource(job.source.url, { allow });
    const jobId = jobIdOf(job, await src.stat());
    await src.close();
    await runJob(job, deps({ crashAt: (step) => { if (step === 'midDispatch') throw new Error('owner died'); } })).catch(() => undefined);
    expect((await status.read(jobId))!.state).toBe('running');
    expect(await uploadsOf('orphan.bin')).toHaveLength(1);
    const { request } = await requestCancel(statusClient, status.location, jobId);
    const live = await acquireLease(statusClient, status.location, jobId, { logger: silentLogger, ttlMs: 3_000, waitMs: 0 });

    // Act: while someone holds the lease, then once it is free
    const whileHeld = await cancelUnowned({ store: status, destination: () => dst, jobId, requestedAt: request.requestedAt, log: silentLogger });
    if (live.kind === 'owner') await live.lease.release();
    const settled = await cancelUnowned({ store: status, destination: () => dst, jobId, requestedAt: request.requestedAt, log: silentLogger });
    const again = await cancelUnowned({ store: status, destination: () => dst, jobId, requestedAt: request.requestedAt, log: silentLogger });

    // Assess
    expect(live.kind).toBe('owner');
    expect(whileHeld).toBe('held');
    expect(settled).toBe('settled');
    expect(again).toBe('nothing');
    expect(await status.read(jobId)).toMatchObject({ state: 'cancelled', aborted: true });
    expect(await uploadsOf('orphan.bin')).toEqual([]);
    expect(await exists('orphan.bin')).toBe(false);
  });
});
