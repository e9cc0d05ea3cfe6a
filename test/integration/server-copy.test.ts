/**
 * Same-region OSS → OSS copies run as UploadPartCopy through the whole local cloud (fc2 → gateway → coordinator
 * process → ali-oss → local OSS): no worker is invoked and no byte passes through one, each part's CRC-64 comes
 * from OSS (ListParts: the UploadPartCopy answer carries none, as on OSS), and the object's CRC-64 equals the
 * source's. A source rewritten just before the first part copy (a hook in the local OSS at that exact request)
 * fails the job cleanly: 412, upload aborted, nothing at the destination. A source behind another endpoint (the
 * stand-in for another region: a second local OSS, allow-listed) is streamed by workers; a part whose CRC-64 OSS
 * states nowhere fails the job rather than being assumed. Loopback only.
 */
import { randomBytes } from 'node:crypto';
import OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc64 } from '../../shared/crc64/index.ts';
import { startLocalCloud, type LocalCloud } from '../../local/cloud.ts';
import { startOssServer, type LocalOss } from '../../local/oss/index.ts';
import { invocationFailure, uploadsLeft } from '../helpers/local-cloud.ts';

const KiB = 1024;
let cloud: LocalCloud;
let client: OSS;
let otherRegion: LocalOss;
const functionCredentials = { accessKeyId: `STS.${randomBytes(6).toString('hex')}`, accessKeySecret: randomBytes(15).toString('base64url'), securityToken: randomBytes(16).toString('base64url') };

beforeAll(async () => {
  otherRegion = await startOssServer({ buckets: ['elsewhere'], region: 'cn-beijing', sts: functionCredentials, fsync: false });
  cloud = await startLocalCloud({
    workers: { maxInstances: 2, instanceConcurrency: 1 },
    functionCredentials,
    functionEnv: { OSSFERRY_ALLOWED_OSS_ENDPOINTS: `127.0.0.1:${otherRegion.port}` },
  });
  client = cloud.ossClient();
});
afterAll(async () => {
  await cloud?.close();
  await otherRegion?.close();
});

describe('same-region OSS → OSS by UploadPartCopy', () => {
  it('copies server-side: no worker invoked, zero worker bytes, the CRC-64 of every part from OSS, the object equal to the source', async () => {
    // Prepare: 10 parts of 100 KiB (the last shorter)
    const data = randomBytes(1_000_000);
    await client.put('pc-src/big.bin', data);
    // Act
    const report = await cloud.submitJob({ source: `oss://${cloud.bucket}/pc-src/big.bin`, destination: `oss://${cloud.bucket}/pc-dst/big.bin`, partSize: 100 * KiB });
    // Assess
    expect(report.path).toBe('server-copy');
    expect(report.workerBytes).toBe(0);
    expect(report.tasks).toBe(0);
    expect(report.parts).toBe(10);
    expect(report.crc64).toBe(crc64(data));
    expect(report.verified).toMatchObject({ combinedCrc64: crc64(data), ossCrc64: crc64(data), sourceCrc64: crc64(data) });
    expect(((await client.get('pc-dst/big.bin')).content as Buffer).equals(data)).toBe(true);
    expect(await uploadsLeft(client)).toBe(0);
    const status = await cloud.statusOf(report.jobId);
    expect(status?.parts.map((p) => p.crc64)).toEqual(Array.from({ length: 10 }, (_, i) => crc64(data.subarray(i * 100 * KiB, Math.min(data.length, (i + 1) * 100 * KiB)))));
  });

  it('a source rewritten between plan and part copy fails the job cleanly: 412, the upload aborted, nothing at the destination', async () => {
    // Prepare: the source is rewritten (same size) just before the first UploadPartCopy is handled
    const data = randomBytes(500_000);
    await client.put('pc-src/changing.bin', data);
    cloud.oss.onceBefore('UploadPartCopy', async () => {
      await client.put('pc-src/changing.bin', randomBytes(data.length));
    });
    // Act
    const body = await invocationFailure(cloud.submitJob({ source: `oss://${cloud.bucket}/pc-src/changing.bin`, destination: `oss://${cloud.bucket}/pc-dst/changing.bin`, partSize: 100 * KiB }));
    // Assess
    expect(body.code).toBe('SourceChanged');
    expect(body.errorMessage).toMatch(/changed since the job was planned .*412 PreconditionFailed on x-oss-copy-source-if-match/);
    expect(body.errorMessage).toMatch(/multipart upload \S+ aborted, nothing written to oss:\/\/\S+\/pc-dst\/changing\.bin/);
    expect(body.details).toMatchObject({ aborted: true });
    await expect(client.head('pc-dst/changing.bin')).rejects.toMatchObject({ status: 404 });
    expect(await uploadsLeft(client)).toBe(0);
  });

  it('a copied part whose CRC-64 OSS states nowhere fails the job, naming the fix: never assumed, upload aborted, nothing written', async () => {
    // Prepare: ListParts answers without HashCrc64ecma (and the UploadPartCopy answer carries none)
    const data = randomBytes(300_000);
    await client.put('pc-src/nocrc.bin', data);
    cloud.oss.setFaults({ operations: { ListParts: { omitCrc64: true } } });
    // Act
    const body = await invocationFailure(cloud.submitJob({ source: `oss://${cloud.bucket}/pc-src/nocrc.bin`, destination: `oss://${cloud.bucket}/pc-dst/nocrc.bin`, partSize: 100 * KiB }));
    cloud.oss.setFaults({});
    // Assess
    expect(body.code).toBe('Integrity');
    expect(body.errorMessage).toMatch(/OSS stated no CRC-64 for the server-copied part .*Fix: pass the source's endpoint \(--source-endpoint https:\/\/oss-<region>-internal\.aliyuncs\.com\)/);
    expect(body.details).toMatchObject({ aborted: true });
    await expect(client.head('pc-dst/nocrc.bin')).rejects.toMatchObject({ status: 404 });
    expect(await uploadsLeft(client)).toBe(0);
  });

  it('a source in another region (its own endpoint) is streamed by workers', async () => {
    // Prepare
    const data = randomBytes(300_000);
    await new OSS(otherRegion.clientOptions('elsewhere')).put('data/far.bin', data);
    // Act
    const report = await cloud.submitJob({ source: 'oss://elsewhere/data/far.bin', sourceEndpoint: otherRegion.endpoint, destination: `oss://${cloud.bucket}/pc-dst/far.bin`, partSize: 100 * KiB });
    // Assess
    expect(report.path).toBe('stream');
    expect(report.workerBytes).toBe(data.length);
    expect(report.tasks).toBeGreaterThanOrEqual(1);
    expect(report.crc64).toBe(crc64(data));
    expect(((await client.get('pc-dst/far.bin')).content as Buffer).equals(data)).toBe(true);
    expect(await uploadsLeft(client)).toBe(0);
  });

  it('an Appendable source (which UploadPartCopy refuses) in the same region is streamed', async () => {
    // Prepare
    const data = randomBytes(250_000);
    const first = await client.append('pc-src/appended.bin', data.subarray(0, 100_000));
    await client.append('pc-src/appended.bin', data.subarray(100_000), { position: String(first.nextAppendPosition) } as never);
    // Act
    const report = await cloud.submitJob({ source: `oss://${cloud.bucket}/pc-src/appended.bin`, destination: `oss://${cloud.bucket}/pc-dst/appended.bin`, partSize: 100 * KiB });
    // Assess
    expect(report.path).toBe('stream');
    expect(report.workerBytes).toBe(data.length);
    expect(report.crc64).toBe(crc64(data));
    expect(((await client.get('pc-dst/appended.bin')).content as Buffer).equals(data)).toBe(true);
  });

  it('an archive of a same-region OSS source is streamed (compression needs the bytes)', async () => {
    // Prepare
    const data = Buffer.from('line of a log\n'.repeat(20_000));
    await client.put('pc-src/app.log', data);
    // Act
    const report = await cloud.submitJob({ source: `oss://${cloud.bucket}/pc-src/app.log`, destination: `oss://${cloud.bucket}/pc-dst/app.log.gz`, mode: 'archive' });
    // Assess
    expect(report.mode).toBe('archive');
    expect(report.tasks).toBeGreaterThanOrEqual(1);
    expect(report.uncompressedCrc64).toBe(crc64(data));
    expect(await uploadsLeft(client)).toBe(0);
  });
});
