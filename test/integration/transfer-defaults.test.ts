/**
 * Every tuning key is live: stack config transfer.partSizeMb / streamsPerWorker / gzipLevel reach the
 * coordinator's environment through the one env builder (shared/function-env-build.ts, used by the stack and
 * by this local cloud) and become the job defaults (shared/job-defaults.ts); explicit job options win.
 * Observed in what the jobs did: part size, the auto part size streams produce, the archive's gzip level,
 * also for a job started by an OSS event.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateLogLike } from '../../bench/lib/loglike.ts';
import { startLocalCloud, type LocalCloud } from '../../local/cloud.ts';
import { FUNCTION_ENV } from '../../shared/function-env.ts';
import { putWithEvent } from '../helpers/local-cloud.ts';

const MiB = 1024 * 1024;
const DEFAULTS = { partSizeBytes: 1 * MiB, streamsPerWorker: 1, gzipLevel: 3 } as const;

let cloud: LocalCloud;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ossferry-transfer-defaults-'));
  await writeFile(join(dir, 'three.bin'), randomBytes(3 * MiB));
  await writeFile(join(dir, 'forty.bin'), randomBytes(40 * MiB));
  await writeFile(join(dir, 'app.log'), generateLogLike(2 * MiB, 5));
  cloud = await startLocalCloud({
    sourceRoot: dir,
    buckets: ['ossferry', 'logs-src'],
    workers: { maxInstances: 2, instanceConcurrency: 1 },
    transfer: DEFAULTS,
    coordinatorEnv: {
      [FUNCTION_ENV.ARCHIVE_RULES]: JSON.stringify([{ name: 'logs', sourceBucket: 'logs-src', sourcePrefix: 'incoming/', destinationBucket: 'ossferry', destinationPrefix: 'archived/' }]),
    },
  });
}, 120_000);
afterAll(async () => {
  await cloud?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('transfer.* stack config as job defaults', () => {
  it('writes the defaults into the coordinator environment only', () => {
    // Prepare / Act: the cloud above
    const { coordinator, worker } = cloud.functionEnv;
    // Assess
    expect(coordinator[FUNCTION_ENV.PART_SIZE_BYTES]).toBe(String(MiB));
    expect(coordinator[FUNCTION_ENV.STREAMS_PER_WORKER]).toBe('1');
    expect(coordinator[FUNCTION_ENV.GZIP_LEVEL]).toBe('3');
    expect(worker[FUNCTION_ENV.PART_SIZE_BYTES]).toBeUndefined();
  });

  it('partSizeMb: a job without partSize uses the default; an explicit partSize wins', async () => {
    // Prepare
    const source = cloud.httpSource.url('/three.bin');
    // Act
    const byDefault = await cloud.submitJob({ source, destination: 'oss://ossferry/defaults/three-a.bin' });
    const explicit = await cloud.submitJob({ source, destination: 'oss://ossferry/defaults/three-b.bin', partSize: 2 * MiB });
    // Assess
    expect(byDefault.partSize).toBe(MiB);
    expect(byDefault.parts).toBe(3);
    expect(explicit.partSize).toBe(2 * MiB);
    expect(explicit.parts).toBe(2);
  });

  it('streamsPerWorker: the default sets the streams auto part sizing plans for; an explicit value wins', async () => {
    // Prepare: auto sizing aims at 4 parts per stream (shared/plan.ts), at least 8 MiB, so with one worker
    // 40 MiB is 10 MiB parts at 1 stream and the 8 MiB floor at 2 streams.
    const source = cloud.httpSource.url('/forty.bin');
    // Act
    const byDefault = await cloud.submitJob({ source, destination: 'oss://ossferry/defaults/forty-a.bin', partSize: 'auto', workers: 1 });
    const explicit = await cloud.submitJob({ source, destination: 'oss://ossferry/defaults/forty-b.bin', partSize: 'auto', workers: 1, streamsPerWorker: 2 });
    // Assess
    expect(byDefault.partSize).toBe(10 * MiB);
    expect(explicit.partSize).toBe(8 * MiB);
  });

  it('gzipLevel: an archive job without gzipLevel uses the default; an explicit level wins', async () => {
    // Prepare
    const source = cloud.httpSource.url('/app.log');
    // Act
    const byDefault = await cloud.submitJob({ source, destination: 'oss://ossferry/defaults/app-a.log.gz', mode: 'archive' });
    const explicit = await cloud.submitJob({ source, destination: 'oss://ossferry/defaults/app-b.log.gz', mode: 'archive', gzipLevel: 0 });
    // Assess
    expect(byDefault.gzipLevel).toBe(3);
    expect(explicit.gzipLevel).toBe(0);
    expect(explicit.compressedSize).toBeGreaterThan(byDefault.compressedSize);
  });

  it('gzipLevel: an OSS event matching a rule without gzipLevel is archived at the default level', async () => {
    // Prepare
    const data = generateLogLike(300 * 1024, 9);
    const event = await putWithEvent(cloud.ossClient('logs-src'), 'logs-src', 'incoming/event.log', data, cloud.oss.region);
    // Act
    const result = await cloud.submitOssEvent(event);
    // Assess
    expect(result.failed).toBe(0);
    expect(result.results[0]!.report!.gzipLevel).toBe(3);
  });
});
