/**
 * Every tuning key is live: stack config transfer.partSizeMb / streamsPerWorker / gzipLevel and object.* reach the
 * coordinator's environment through the one env builder (shared/function-env-build.ts, used by the stack and
 * by this local cloud) and become the job defaults (shared/job-defaults.ts); explicit job options win.
 * Observed in what the jobs did: part size, the auto part size streams produce, the archive's gzip level, the
 * storage class, encryption, tags and ACL of the written object, also for a job started by an OSS event.
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
const OBJECT_DEFAULTS = { storageClass: 'IA', serverSideEncryption: 'KMS', kmsKeyId: 'stack-key', tags: { team: 'data', env: 'prod' }, acl: 'private' } as const;

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
    objectDefaults: OBJECT_DEFAULTS,
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

describe('object.* stack config as job defaults', () => {
  const headersOf = async (bucket: string, key: string) => (await cloud.ossClient(bucket).head(key)).res.headers as Record<string, string>;

  it('a job without object options writes the object with the defaults; its own options win field by field', async () => {
    // Prepare
    const source = cloud.httpSource.url('/three.bin');
    // Act
    await cloud.submitJob({ source, destination: 'oss://ossferry/objdefaults/a.bin' });
    await cloud.submitJob({ source, destination: 'oss://ossferry/objdefaults/b.bin', object: { storageClass: 'Standard', serverSideEncryption: 'AES256', tags: { owner: 'me' } } });
    // Assess
    expect(cloud.functionEnv.coordinator[FUNCTION_ENV.OBJECT_DEFAULTS]).toBe(JSON.stringify(OBJECT_DEFAULTS));
    expect(await headersOf('ossferry', 'objdefaults/a.bin')).toMatchObject({
      'x-oss-storage-class': 'IA',
      'x-oss-server-side-encryption': 'KMS',
      'x-oss-server-side-encryption-key-id': 'stack-key',
      'x-oss-tagging-count': '2',
    });
    const own = await headersOf('ossferry', 'objdefaults/b.bin');
    expect(own).toMatchObject({ 'x-oss-storage-class': 'Standard', 'x-oss-server-side-encryption': 'AES256', 'x-oss-tagging-count': '1' });
    // The job chose its own encryption: the stack's KMS key id is not carried over to it.
    expect(own['x-oss-server-side-encryption-key-id']).toBeUndefined();
  });

  it('an OSS event archived by a rule gets the defaults too', async () => {
    // Prepare
    const event = await putWithEvent(cloud.ossClient('logs-src'), 'logs-src', 'incoming/objdefaults.log', generateLogLike(200 * 1024, 11), cloud.oss.region);
    // Act
    const result = await cloud.submitOssEvent(event);
    // Assess
    expect(result.failed).toBe(0);
    expect(await headersOf('ossferry', 'archived/objdefaults.log.gz')).toMatchObject({ 'x-oss-storage-class': 'IA', 'x-oss-server-side-encryption': 'KMS', 'x-oss-tagging-count': '2' });
  });
});
