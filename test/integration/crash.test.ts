/**
 * Crash safety of the job lifecycle over the whole local cloud (fc2 → gateway → coordinator and worker child
 * processes → local OSS): the coordinator process kills itself (SIGKILL) at one exact lifecycle step through
 * the test hook (functions/engine/crash.ts), then the same job is delivered again, as FC's async retry or a
 * user's re-submit would. Every case ends with one correct object, ListMultipartUploads empty, and the
 * second run's report saying what it reused. Two concurrent deliveries of one job make one upload.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateLogLike } from '../../bench/lib/loglike.ts';
import { crc64 } from '../../shared/crc64/index.ts';
import { FUNCTION_ENV } from '../../shared/function-env.ts';
import type { CrashStep } from '../../functions/engine/crash.ts';
import { LOCAL_DEFAULTS, startLocalCloud, type LocalCloud } from '../../local/cloud.ts';
import { parseReceipt } from '../../shared/receipt.ts';
import { uploadsLeft } from '../helpers/local-cloud.ts';

const MiB = 1024 * 1024;

let cloud: LocalCloud;
let client: OSS;
let dir: string;
let crashFile: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ossferry-crash-test-'));
  crashFile = path.join(dir, 'crash-at');
  cloud = await startLocalCloud({
    workers: { maxInstances: 3, instanceConcurrency: 1 },
    coordinator: { maxInstances: 2, instanceConcurrency: 2 },
    coordinatorEnv: { OSSFERRY_TEST_HOOKS: '1', OSSFERRY_TEST_CRASH_FILE: crashFile, [FUNCTION_ENV.LEASE_TTL_SECONDS]: '2' },
  });
  client = cloud.ossClient();
}, 60_000);
afterAll(async () => {
  await cloud?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Submits `spec` with a crash armed at `step`: the first run dies there; returns once it has. */
async function crashOnce(step: CrashStep, submit: () => Promise<unknown>): Promise<void> {
  await writeFile(crashFile, step);
  const outcome = await submit().then(
    () => 'answered',
    () => 'failed',
  );
  expect(outcome).toBe('failed');
  expect(existsSync(crashFile)).toBe(false); // the hook claimed the crash: the coordinator died at `step`
}

describe('copy: the coordinator killed at each lifecycle step, then the job delivered again', () => {
  const steps: CrashStep[] = ['afterLease', 'afterIntent', 'afterInitiate', 'midDispatch', 'beforeComplete', 'afterComplete', 'beforeSucceeded'];
  for (const step of steps) {
    it(`${step}: one correct object, no upload left, the second run says what it reused`, async () => {
      // Prepare: 6 parts in 3 tasks; slow parts so that work is in flight at the crash
      const data = randomBytes(6 * MiB - 77);
      const file = `/crash-copy-${step}.bin`;
      cloud.httpSource.setFile(file, data);
      const key = `crash/copy-${step}.bin`;
      const spec = { source: cloud.httpSource.url(file), destination: `oss://${cloud.bucket}/${key}`, partSize: MiB, workers: 3, streamsPerWorker: 1 };
      cloud.oss.setFaults({ operations: { UploadPart: { latencyMs: 40 } } });
      await crashOnce(step, () => cloud.submitJob(spec));
      cloud.oss.setFaults({});
      // Act
      const report = await cloud.submitJob(spec);
      // Assess
      expect(report.crc64).toBe(crc64(data));
      expect(((await client.get(key)).content as Buffer).equals(data)).toBe(true);
      expect(await uploadsLeft(client)).toBe(0);
      const r = report.reused;
      expect(r.byReceipt + r.byReread).toBe(r.parts);
      if (step === 'afterInitiate') expect(r.strayUploadsAborted).toBe(1);
      else expect(r.strayUploadsAborted).toBe(0);
      if (step === 'midDispatch') {
        expect(r.upload).toBe(true);
        expect(r.byReceipt).toBeGreaterThan(0);
        expect(report.resumedParts).toBe(r.parts);
        expect(report.tasks).toBeLessThan(3 + 1); // only what was missing was dispatched again
      }
      if (step === 'beforeComplete') {
        expect(r).toMatchObject({ upload: true, parts: 6, byReceipt: 6 });
        expect(report.tasks).toBe(0);
      }
      if (step === 'afterComplete' || step === 'beforeSucceeded') {
        expect(report.alreadyDone).toBe(true);
        // The run that finds the object done writes the receipt the crashed run did not get to (or rewrites it).
        const receipt = parseReceipt(((await cloud.ossClient(LOCAL_DEFAULTS.statusBucket).get(`${LOCAL_DEFAULTS.statusPrefix}/${report.jobId}.receipt.json`)).content as Buffer).toString('utf8'));
        expect(report.receipt).toBe(`oss://${LOCAL_DEFAULTS.statusBucket}/${LOCAL_DEFAULTS.statusPrefix}/${report.jobId}.receipt.json`);
        expect(receipt).toMatchObject({ mode: 'copy', jobId: report.jobId, object: { crc64: crc64(data), size: data.length } });
      }
      if (step === 'afterLease' || step === 'afterIntent') expect(r).toMatchObject({ upload: false, parts: 0 });
    }, 120_000);
  }

  it('two concurrent deliveries of one job: one owner, one upload, one object', async () => {
    // Prepare
    const data = randomBytes(4 * MiB + 5);
    cloud.httpSource.setFile('/crash-twice.bin', data);
    const key = 'crash/twice.bin';
    const spec = { source: cloud.httpSource.url('/crash-twice.bin'), destination: `oss://${cloud.bucket}/${key}`, partSize: MiB, workers: 2, streamsPerWorker: 1 };
    cloud.oss.setFaults({ operations: { UploadPart: { latencyMs: 40 } } });
    // Act
    const [a, b] = await Promise.all([cloud.submitJob(spec), cloud.submitJob(spec)]);
    cloud.oss.setFaults({});
    // Assess
    expect(a.jobId).toBe(b.jobId);
    expect([a.alreadyDone === true, b.alreadyDone === true].filter(Boolean)).toHaveLength(1);
    expect(a.uploadId).toBe(b.uploadId);
    expect(a.crc64).toBe(crc64(data));
    expect(((await client.get(key)).content as Buffer).equals(data)).toBe(true);
    expect(await uploadsLeft(client)).toBe(0);
  }, 120_000);
});

describe('server copy (UploadPartCopy): the coordinator killed mid-copy, then the job delivered again', () => {
  for (const step of ['midDispatch', 'beforeComplete'] as const) {
    it(`${step}: the same upload is resumed from its receipts, one correct object, still no worker bytes`, async () => {
      // Prepare: 6 parts copied server-side from a same-region OSS source
      const data = randomBytes(600_000);
      await client.put(`crash-src/pc-${step}.bin`, data);
      const spec = { source: `oss://${cloud.bucket}/crash-src/pc-${step}.bin`, destination: `oss://${cloud.bucket}/crash/pc-${step}.bin`, partSize: 100 * 1024 };
      await crashOnce(step, () => cloud.submitJob(spec));
      // Act
      const report = await cloud.submitJob(spec);
      // Assess
      expect(report.path).toBe('server-copy');
      expect(report.workerBytes).toBe(0);
      expect(report.crc64).toBe(crc64(data));
      expect(report.reused.upload).toBe(true);
      expect(report.reused.byReceipt).toBeGreaterThan(0);
      if (step === 'beforeComplete') expect(report.reused).toMatchObject({ parts: 6, byReceipt: 6 });
      expect(((await client.get(`crash/pc-${step}.bin`)).content as Buffer).equals(data)).toBe(true);
      expect(await uploadsLeft(client)).toBe(0);
    }, 120_000);
  }
});

describe('archive: the coordinator killed at each lifecycle step, then the job delivered again', () => {
  const steps: CrashStep[] = ['afterIntent', 'afterInitiate', 'midDispatch', 'beforeComplete', 'afterComplete', 'beforeSucceeded'];
  for (const step of steps) {
    it(`${step}: one archive that decodes to the input, no upload left, the second run says what it reused`, async () => {
      // Prepare
      const data = generateLogLike(2 * MiB, 40 + steps.indexOf(step));
      const file = `/crash-archive-${step}.log`;
      cloud.httpSource.setFile(file, data);
      const key = `crash/archive-${step}.log.gz`;
      const spec = { source: cloud.httpSource.url(file), destination: `oss://${cloud.bucket}/${key}`, mode: 'archive' as const, workers: 2 };
      await crashOnce(step, () => cloud.submitJob(spec));
      // Act
      const report = await cloud.submitJob(spec);
      // Assess
      expect(report.uncompressedCrc64).toBe(crc64(data));
      expect(gunzipSync((await client.get(key)).content as Buffer).equals(data)).toBe(true);
      expect(await uploadsLeft(client)).toBe(0);
      const r = report.reused;
      if (step === 'afterInitiate') expect(r.strayUploadsAborted).toBe(1);
      if (step === 'midDispatch' || step === 'beforeComplete') {
        // The only task finished before the crash: its journalled result is reused, nothing compressed again.
        expect(r).toMatchObject({ upload: true, tasks: 1 });
        expect(r.parts).toBeGreaterThan(0);
        expect(report.tasks).toBe(0);
      }
      if (step === 'beforeSucceeded') expect(report.alreadyArchived).toBe(true);
    }, 120_000);
  }
});
