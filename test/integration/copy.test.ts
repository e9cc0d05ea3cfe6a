/**
 * Acceptance of the copy path under faults and at size, over the whole local cloud (fc2 → gateway → child
 * processes running functions/main.ts → ali-oss → local OSS; sources from the local HTTP server):
 *   - 5 % 503 and 5 % connection resets on every OSS operation, plus a worker process killed mid-part;
 *   - the coordinator process killed mid-job and the job submitted again (resumes the same upload);
 *   - 3 GiB in exactly 10,000 parts through ≥ 4 worker processes, per-worker peak RSS reported and bounded.
 * Every case ends with the right bytes (CRC-64 of what was generated) and ListMultipartUploads empty.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc64 } from '../../shared/crc64/index.ts';
import { crc64FromWire } from '../../shared/crc64/wire.ts';
import { startLocalCloud, type LocalCloud } from '../../local/cloud.ts';
import { functionProcesses, sampleFunctionRss } from '../../local/procs.ts';
import { writeRandomFile } from '../../local/http-source/sample-file.ts';
import { uploadsLeft } from '../helpers/local-cloud.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

async function storedCrc(client: OSS, key: string): Promise<bigint> {
  const h = await client.head(key);
  return crc64FromWire(String((h.res.headers as Record<string, string>)['x-oss-hash-crc64ecma']));
}

async function until(probe: () => boolean | Promise<boolean>, timeoutMs = 60_000, stepMs = 20): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

describe('copy under faults', () => {
  let cloud: LocalCloud;
  let client: OSS;
  beforeAll(async () => {
    cloud = await startLocalCloud({ workers: { maxInstances: 3, instanceConcurrency: 1 }, coordinator: { maxInstances: 1, instanceConcurrency: 2 } });
    client = cloud.ossClient();
  });
  afterAll(async () => {
    await cloud?.close();
  });

  it('survives 5% 503s and 5% connection resets on OSS plus a worker process killed mid-part', async () => {
    // Prepare
    const data = randomBytes(40 * MiB);
    cloud.httpSource.setFile('/faulty.bin', data);
    const key = 'faults/out.bin';
    cloud.oss.setFaults({ seed: 7, all: { slowDownRate: 0.05, resetRate: 0.05 }, operations: { UploadPart: { slowDownRate: 0.05, resetRate: 0.05, latencyMs: 40 } } });
    // Act
    const job = cloud.submitJob({ source: cloud.httpSource.url('/faulty.bin'), destination: `oss://${cloud.bucket}/${key}`, partSize: MiB, workers: 3, streamsPerWorker: 2 });
    job.catch(() => undefined);
    await until(() => cloud.httpSource.requests.filter((r) => r.path === '/faulty.bin' && r.method === 'GET').length >= 4);
    const victim = functionProcesses('worker')[0];
    expect(victim).toBeDefined();
    process.kill(victim!.pid, 'SIGKILL');
    const report = await job;
    cloud.oss.setFaults({});
    // Assess
    expect(report.crc64).toBe(crc64(data));
    expect(report.rounds).toBeGreaterThanOrEqual(2);
    expect(await storedCrc(client, key)).toBe(crc64(data));
    expect(((await client.get(key)).content as Buffer).equals(data)).toBe(true);
    expect(await uploadsLeft(client)).toBe(0);
  });

  it('resumes the same upload when the coordinator process is killed mid-job and the job is submitted again', async () => {
    // Prepare: 4 tasks but room for 2 workers at a time, so some tasks finish (and are recorded) before others start.
    const data = randomBytes(32 * MiB);
    cloud.httpSource.setFile('/resume.bin', data);
    const key = 'resume/out.bin';
    const spec = { source: cloud.httpSource.url('/resume.bin'), destination: `oss://${cloud.bucket}/${key}`, partSize: MiB, workers: 6, streamsPerWorker: 1 };
    cloud.oss.setFaults({ operations: { UploadPart: { latencyMs: 60 } } });
    const first = cloud.submitJob(spec);
    first.catch(() => undefined);
    let jobId = '';
    await until(async () => {
      const mine = (await Promise.all((await listStatusIds(cloud)).map((id) => cloud.statusOf(id)))).find((s) => s?.destination === `oss://${cloud.bucket}/${key}`);
      if (mine) jobId = mine.jobId;
      return (mine?.parts.length ?? 0) > 0;
    }, 60_000, 10);
    const before = await cloud.statusOf(jobId);
    // Act
    for (const p of functionProcesses('coordinator')) process.kill(p.pid, 'SIGKILL');
    await expect(first).rejects.toThrow();
    cloud.oss.setFaults({});
    const report = await cloud.submitJob(spec);
    // Assess
    expect(report.jobId).toBe(jobId);
    expect(report.attempts).toBe(2);
    expect(report.uploadId).toBe(before!.uploadId);
    expect(report.resumedParts).toBeGreaterThan(0);
    expect(report.crc64).toBe(crc64(data));
    expect(await storedCrc(client, key)).toBe(crc64(data));
    expect(await uploadsLeft(client)).toBe(0);
  });
});

async function listStatusIds(cloud: LocalCloud): Promise<string[]> {
  const loc = cloud.statusLocation.replace('oss://', '').split('/');
  const c = cloud.ossClient(loc[0]);
  const r = await c.list({ prefix: `${loc.slice(1).join('/')}/`, 'max-keys': 1000 }, {}).catch(() => ({ objects: [] }));
  // Status objects only (`<jobId>.json`), not the receipts (`<jobId>.receipt.json`) beside them.
  return (r.objects ?? []).map((o) => path.basename(o.name)).filter((n) => /^j[0-9a-f]{32}\.json$/.test(n)).map((n) => n.slice(0, -'.json'.length));
}

describe('copy at size', () => {
  let cloud: LocalCloud;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ossferry-copy-test-'));
    cloud = await startLocalCloud({ sourceRoot: dir, workers: { maxInstances: 4, instanceConcurrency: 1, memoryMb: 1024 } });
  });
  afterAll(async () => {
    await cloud?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('copies 3 GiB in exactly 10,000 parts through 4 worker processes with bounded per-worker RSS', { timeout: 900_000 }, async () => {
    // Prepare
    const size = 3 * GiB;
    const partSize = Math.ceil(size / 10_000);
    const expected = await writeRandomFile(path.join(dir, 'big.bin'), size);
    const rss = sampleFunctionRss('worker');
    // Act
    const report = await cloud.submitJob({ source: cloud.httpSource.url('/big.bin'), destination: `oss://${cloud.bucket}/big.bin`, partSize, workers: 4, streamsPerWorker: 8 });
    const peaks = rss.stop();
    // Assess
    expect(report.parts).toBe(10_000);
    expect(report.size).toBe(size);
    expect(report.crc64).toBe(expected);
    expect(report.workers).toBeGreaterThanOrEqual(4);
    expect(await storedCrc(cloud.ossClient(), 'big.bin')).toBe(expected);
    expect(await uploadsLeft(cloud.ossClient())).toBe(0);
    const perWorker = [...peaks.values()];
    console.info(`3 GiB copy: ${report.seconds} s, ${report.mbPerSecond} MB/s; worker peak RSS MiB: ${perWorker.map((b) => (b / MiB).toFixed(0)).join(', ')}`);
    expect(perWorker.length).toBeGreaterThanOrEqual(4);
    // Bounded by the worker's function memory (1024 MB), far below the 3 GiB that moved through each.
    for (const b of perWorker) expect(b).toBeLessThan(1024 * MiB);
  });
});
