/**
 * The job engine in-process (workers run through their wire schemas, no FC) against the real local OSS and
 * HTTP source, for the faults a process kill cannot stage exactly:
 *   - an InitiateMultipartUpload that executed but whose answer was lost (the retry makes a second upload);
 *   - part-level resume: listed parts proven by a surviving receipt or by re-reading the source range
 *     against ListParts' CRC-64, a part that differs from the source uploaded again;
 *   - a fenced owner (a later invocation took the lease over) touches neither the upload nor the status;
 *   - a source changed after a crash: the new job aborts the abandoned job's upload of the same destination.
 */
import { randomBytes } from 'node:crypto';
import OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc64 } from '../../shared/crc64/index.ts';
import { OssferryError } from '../../shared/errors.ts';
import { leaseKey } from '../../shared/lease.ts';
import { jobIdOf, type Job, type JobSpecInput } from '../../shared/job.ts';
import type { CopyReport } from '../../shared/report.ts';
import type { AllowList } from '../../shared/ssrf.ts';
import type { HttpSourceServer } from '../../local/http-source/index.ts';
import { runJob } from '../../functions/engine/lifecycle.ts';
import type { EngineDeps } from '../../functions/engine/types.ts';
import { OssPartSink } from '../../functions/oss/part-sink.ts';
import { openSource } from '../../functions/sources/index.ts';
import type { StatusStore } from '../../functions/status/store.ts';
import { startEngineHarness, type EngineHarness } from '../helpers/engine-dispatch.ts';

const KB100 = 100 * 1024;

let h: EngineHarness;
let http: HttpSourceServer;
let dst: OSS;
let status: StatusStore;
let allow: AllowList;

beforeAll(async () => {
  h = await startEngineHarness();
  ({ http, dst, status, allow } = h);
});
afterAll(async () => {
  await h?.close();
});

/** Engine deps with copy workers in-process: wire → parseCopyTask → runCopyTask → wire → parseWorkerResult. */
const deps = (extra: Partial<EngineDeps> = {}): EngineDeps => h.deps(extra);
const copyJob = (path: string, key: string, extra: Partial<JobSpecInput> = {}): Job => h.copyJob(path, key, extra);
const uploadsOf = (key: string) => h.uploadsOf(key);

async function runCopy(job: Job, d: EngineDeps): Promise<CopyReport> {
  const report = await runJob(job, d);
  if (report.mode !== 'copy') throw new Error(`expected a copy report, got a ${report.mode} report`);
  return report;
}


/** A test crash: thrown from the crash hook, it ends the run where a SIGKILL would (no abort, no status). */
class Crash extends Error {}

type Initiate = (...args: unknown[]) => Promise<unknown>;

/** `dst` with its InitiateMultipartUpload replaced: `wrap` gets the real call (a fault at an exact point). */
function withInitiate(wrap: (real: Initiate) => Initiate): OSS {
  return new Proxy(dst, {
    get(target, prop, receiver) {
      if (prop !== 'initMultipartUpload') return Reflect.get(target, prop, receiver);
      return wrap((...args) => (target.initMultipartUpload as Initiate).apply(target, args));
    },
  });
}

describe('engine: faults at exact points', () => {
  it('an Initiate whose answer was lost leaves no second upload: the stray one is found and aborted', async () => {
    // Prepare: the first InitiateMultipartUpload executes, then its answer is "lost" (a reset); ossRetry retries.
    const data = randomBytes(3 * KB100 + 9);
    http.setFile('/lost-initiate.bin', data);
    let lost = 0;
    const lossy = withInitiate((real) => async (...args) => {
      const r = await real(...args);
      if (lost++ === 0) throw Object.assign(new Error('socket hang up (answer lost)'), { code: 'ECONNRESET' });
      return r;
    });
    // Act
    const report = await runCopy(copyJob('/lost-initiate.bin', 'lost-initiate.bin'), deps({ destinationClient: lossy }));
    // Assess
    expect(lost).toBe(2);
    expect(report.reused.strayUploadsAborted).toBe(1);
    expect(report.crc64).toBe(crc64(data));
    expect(await uploadsOf('lost-initiate.bin')).toEqual([]);
  });

  it('an Initiate that executes late, after its retry\'s upload was made and checked, is aborted once the job completed', async () => {
    // Prepare: the first InitiateMultipartUpload "times out" at the client but reaches OSS only later, while the
    // job is dispatching (a hook at the first dispatch runs it): the upload it makes is nobody's.
    const data = randomBytes(3 * KB100 + 17);
    http.setFile('/late-initiate.bin', data);
    let late: (() => Promise<unknown>) | undefined;
    const slow = withInitiate((real) => async (...args) => {
      if (late) return real(...args);
      late = () => real(...args);
      throw Object.assign(new Error('ResponseTimeoutError: Response timeout for 60000ms'), { code: 'ResponseTimeoutError' });
    });
    const base = deps({ destinationClient: slow });
    let uploadsDuringJob: string[] = [];
    const dispatch: EngineDeps['dispatch'] = async (wire, signal) => {
      if (late) {
        const run = late;
        late = async () => undefined;
        await run();
        uploadsDuringJob = await uploadsOf('late-initiate.bin');
      }
      return base.dispatch(wire, signal);
    };
    // Act
    const report = await runCopy(copyJob('/late-initiate.bin', 'late-initiate.bin'), { ...base, dispatch });
    // Assess: two uploads existed mid-job; the late one was aborted after Complete, the object is right
    expect(uploadsDuringJob).toHaveLength(2);
    expect(uploadsDuringJob).toContain(report.uploadId);
    expect(report.reused.strayUploadsAborted).toBe(1);
    expect(report.crc64).toBe(crc64(data));
    expect(await uploadsOf('late-initiate.bin')).toEqual([]);
  });

  it('part-level resume: receipts prove some parts, re-reading the source proves the rest, a differing part is uploaded again', async () => {
    // Prepare: run until two tasks have been journalled, then "crash" (the hook throws: no abort, no status write).
    const data = randomBytes(8 * KB100);
    http.setFile('/parts.bin', data);
    const job = copyJob('/parts.bin', 'parts.bin', { workers: 4, streamsPerWorker: 1 });
    let results = 0;
    const first = runCopy(job, deps({ crashAt: (step) => {
      if (step === 'midDispatch' && ++results === 2) throw new Crash('killed');
    } }));
    await expect(first).rejects.toBeInstanceOf(Crash);
    await new Promise((r) => setTimeout(r, 300)); // let the other in-flight tasks land their parts
    const journal = (await status.read(await firstJobId(job)))!;
    const uploadId = journal.uploadId!;
    const listed = await new OssPartSink({ client: dst, bucket: 'dst', key: 'parts.bin', uploadId }).listParts();
    // The journal keeps only the first two receipts: the other listed parts have no receipt (lost with the process).
    const kept = journal.parts.slice(0, 2);
    await status.write({ ...journal, parts: kept });
    // One listed part without a receipt no longer matches the source: overwrite it with other bytes of the same size.
    const victim = listed.find((l) => !kept.some((k) => k.partNumber === l.partNumber))!;
    await new OssPartSink({ client: dst, bucket: 'dst', key: 'parts.bin', uploadId }).uploadPart(victim.partNumber, randomBytes(victim.size), victim.size);
    // Act (the crashed owner's lease expires first)
    const report = await runCopy(job, deps());
    // Assess
    expect(listed.length).toBeGreaterThan(kept.length);
    expect(report.uploadId).toBe(uploadId);
    expect(report.reused).toMatchObject({ upload: true, byReceipt: 2, byReread: listed.length - kept.length - 1 });
    expect(report.reused.byReread).toBeGreaterThan(0);
    expect(report.reused.parts).toBe(listed.length - 1);
    expect(report.resumedParts).toBe(listed.length - 1);
    expect(report.attempts).toBe(2);
    expect(report.crc64).toBe(crc64(data));
    expect(((await dst.get('parts.bin')).content as Buffer).equals(data)).toBe(true);
    expect(await uploadsOf('parts.bin')).toEqual([]);
  });

  it('part-level resume survives a source read that fails transiently while re-reading (found by the soak: a 503 there failed every retry of a 256 MiB job)', async () => {
    // Prepare: as above, a crash after two journalled results, then the journal keeps no receipt at all, so every
    // listed part must be proven by re-reading; the re-read source fails its first two reads with a 503.
    const data = randomBytes(8 * KB100);
    http.setFile('/reread-503.bin', data);
    const job = copyJob('/reread-503.bin', 'reread-503.bin', { workers: 4, streamsPerWorker: 1 });
    let results = 0;
    const first = runCopy(job, deps({ crashAt: (step) => {
      if (step === 'midDispatch' && ++results === 2) throw new Crash('killed');
    } }));
    await expect(first).rejects.toBeInstanceOf(Crash);
    await new Promise((r) => setTimeout(r, 300));
    const journal = (await status.read(await firstJobId(job)))!;
    await status.write({ ...journal, parts: [] });
    const listed = await new OssPartSink({ client: dst, bucket: 'dst', key: 'reread-503.bin', uploadId: journal.uploadId! }).listParts();
    let failures = 0;
    const flaky: EngineDeps['openSource'] = (j) => {
      const source = openSource(j.source.url, { allow });
      const read: typeof source.read = async (...args) => {
        if (failures++ < 2) throw Object.assign(new OssferryError('SourceUnavailable', 'GET: Unknow error, status: 503'), { status: 503 });
        return source.read(...args);
      };
      return new Proxy(source, { get: (t, p) => (p === 'read' ? read : Reflect.get(t, p)) });
    };
    // Act
    const report = await runCopy(job, deps({ openSource: flaky }));
    // Assess
    expect(failures).toBeGreaterThan(2);
    expect(report.uploadId).toBe(journal.uploadId);
    expect(report.reused).toMatchObject({ upload: true, byReceipt: 0, byReread: listed.length });
    expect(report.crc64).toBe(crc64(data));
    expect(await uploadsOf('reread-503.bin')).toEqual([]);
  });

  it('a fenced owner stops without aborting the upload, completing or writing status', async () => {
    // Prepare: once the first result is journalled, a later invocation "takes over" (creates the next lease epoch).
    const data = randomBytes(6 * KB100);
    http.setFile('/fenced.bin', data);
    const job = copyJob('/fenced.bin', 'fenced.bin', { workers: 3, streamsPerWorker: 1 });
    const jobId = await firstJobId(job);
    let takenOver = false;
    let statusWrites = 0;
    const counting: StatusStore = { ...status, write: async (s) => (statusWrites++, status.write(s)) };
    const d = deps({
      status: counting,
      dispatch: async (wire, signal) => {
        const out = await deps().dispatch(wire, signal);
        if (!takenOver) {
          takenOver = true;
          await status.client!.put(leaseKey('jobs', jobId, 2), Buffer.from('{"token":"successor"}'), { headers: { 'x-oss-forbid-overwrite': 'true' } } as OSS.PutObjectOptions);
          await new Promise((r) => setTimeout(r, 800)); // a few heartbeats: the owner sees epoch 2
        }
        return out;
      },
    });
    // Act
    const err = await runCopy(job, d).then(() => undefined, (e: unknown) => e);
    const writesAtFence = statusWrites;
    await new Promise((r) => setTimeout(r, 500));
    // Assess
    expect(err).toBeInstanceOf(OssferryError);
    expect((err as OssferryError).code).toBe('LeaseLost');
    const s = await status.read(jobId);
    expect(s?.state).toBe('running'); // never marked failed by the fenced owner
    expect(await uploadsOf('fenced.bin')).toEqual([s!.uploadId]); // the upload is the successor's to finish
    await expect(dst.head('fenced.bin')).rejects.toMatchObject({ status: 404 });
    expect(statusWrites).toBe(writesAtFence);
    await new OssPartSink({ client: dst, bucket: 'dst', key: 'fenced.bin', uploadId: s!.uploadId }).abort();
  });
});

describe('engine: superseded jobs', () => {
  it('a job whose source changed after a crash aborts the abandoned upload of the same destination', async () => {
    // Prepare: the first version's job crashes mid-dispatch, leaving its upload open.
    const v1 = randomBytes(6 * KB100);
    http.setFile('/changing.bin', v1);
    const job = copyJob('/changing.bin', 'changing.bin', { workers: 3, streamsPerWorker: 1 });
    const oldId = await firstJobId(job);
    const crashed = runCopy(job, deps({ crashAt: (step) => {
      if (step === 'midDispatch') throw new Crash('killed');
    } }));
    await expect(crashed).rejects.toBeInstanceOf(Crash);
    await new Promise((r) => setTimeout(r, 300));
    const abandoned = (await status.read(oldId))!;
    expect(await uploadsOf('changing.bin')).toEqual([abandoned.uploadId]);
    const v2 = randomBytes(7 * KB100);
    http.setFile('/changing.bin', v2);
    // Act
    const report = await runCopy(job, deps());
    // Assess
    expect(report.jobId).not.toBe(oldId);
    expect(report.reused.supersededUploadsAborted).toBe(1);
    expect(report.crc64).toBe(crc64(v2));
    expect(await uploadsOf('changing.bin')).toEqual([]);
    const old = await status.read(oldId);
    expect(old).toMatchObject({ state: 'failed', aborted: true, error: { code: 'Superseded' } });
  });
});

/** The job id of `job` (the engine's own computation over the source's stat). */
async function firstJobId(job: Job): Promise<string> {
  const src = openSource(job.source.url, { allow });
  try {
    return jobIdOf(job, await src.stat());
  } finally {
    await src.close();
  }
}

describe('engine: default fan-out (workers "auto")', () => {
  it('an auto job up to 2 GiB gets 16 workers at most, bounded by the deployment\'s capacity', async () => {
    // Prepare: 20 parts of 100 KiB, one stream each: 16 tasks when nothing else bounds them, 3 with a capacity of 3.
    const data = randomBytes(20 * KB100);
    http.setFile('/auto.bin', data);
    const unbounded = copyJob('/auto.bin', 'auto-16.bin', { workers: 'auto', streamsPerWorker: 1 });
    const bounded = copyJob('/auto.bin', 'auto-3.bin', { workers: 'auto', streamsPerWorker: 1 });
    // Act
    const a = await runCopy(unbounded, deps());
    const b = await runCopy(bounded, deps({ maxWorkers: 3 }));
    // Assess
    expect(a).toMatchObject({ parts: 20, tasks: 16, crc64: crc64(data) });
    expect(b).toMatchObject({ parts: 20, tasks: 3, crc64: crc64(data) });
  });
});
