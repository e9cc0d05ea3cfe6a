/**
 * Which HTTP sources a job trusts. Unpinned sources (no strong ETag, no CRC-64) are refused before any upload
 * unless the job says `unpinned: trust`. Sources that publish a CRC-64 (an OSS signed URL answers with
 * x-oss-hash-crc64ecma) are verified end to end without being asked: the job proves the copy against the
 * source's own CRC, and a source whose stated CRC does not match its bytes fails with nothing written.
 */
import { randomBytes } from 'node:crypto';
import OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc64 } from '../../shared/crc64/index.ts';
import { startLocalCloud, type LocalCloud } from '../../local/cloud.ts';
import { invocationFailure, uploadsLeft } from '../helpers/local-cloud.ts';
import { startOrigin } from '../helpers/origin.ts';

let cloud: LocalCloud;
let client: OSS;
beforeAll(async () => {
  cloud = await startLocalCloud({ workers: { maxInstances: 2, instanceConcurrency: 1 } });
  client = cloud.ossClient();
});
afterAll(async () => {
  await cloud?.close();
});

describe('a source that publishes its CRC-64 is verified against it', () => {
  it('a copy from an HTTP origin stating the right CRC-64 reports it as the source CRC, proven', async () => {
    // Prepare
    const data = randomBytes(450_000);
    const origin = await startOrigin(data, { etag: '"v1"', crc64: crc64(data) });
    // Act
    const report = await cloud.submitJob({ source: origin.url, destination: `oss://${cloud.bucket}/crc/right.bin`, partSize: 100 * 1024 });
    await origin.close();
    // Assess
    expect(report.verified.sourceCrc64).toBe(crc64(data));
    expect(report.crc64).toBe(crc64(data));
  });

  it('an origin whose stated CRC-64 does not match its bytes fails the job, upload aborted, nothing written', async () => {
    // Prepare
    const data = randomBytes(450_000);
    const origin = await startOrigin(data, { etag: '"v1"', crc64: crc64(data) ^ 1n });
    // Act
    const body = await invocationFailure(cloud.submitJob({ source: origin.url, destination: `oss://${cloud.bucket}/crc/lying.bin`, partSize: 100 * 1024 }));
    await origin.close();
    // Assess
    expect(body.errorMessage).toMatch(/differs from the source's CRC-64/);
    await expect(client.head('crc/lying.bin')).rejects.toMatchObject({ status: 404 });
    expect(await uploadsLeft(client)).toBe(0);
  });
});

describe('unpinned HTTP sources', () => {
  const cases: Array<[string, { etag?: string; lastModified?: string }]> = [
    ['no ETag and no Last-Modified', {}],
    ['a weak ETag only', { etag: 'W/"v1"' }],
    ['Last-Modified only', { lastModified: new Date(Date.now() - 60_000).toUTCString() }],
  ];
  for (const [name, headers] of cases) {
    it(`a source with ${name} is refused by default before any ranged read or upload`, async () => {
      // Prepare
      const origin = await startOrigin(randomBytes(300_000), headers);
      const key = `unpinned/${randomBytes(4).toString('hex')}.bin`;
      // Act
      const body = await invocationFailure(cloud.submitJob({ source: origin.url, destination: `oss://${cloud.bucket}/${key}`, partSize: 100 * 1024 }));
      await origin.close();
      // Assess
      expect(body.code).toBe('InvalidInput');
      expect(body.errorMessage).toMatch(/^unpinned: .* could mix two versions; nothing was uploaded\. Fix: .*strong ETag.*--unpinned trust/);
      expect(origin.gets).toBe(0);
      await expect(client.head(key)).rejects.toMatchObject({ status: 404 });
      expect(await uploadsLeft(client)).toBe(0);
    });
  }

  it('under unpinned: trust the same source is copied', async () => {
    // Prepare
    const data = randomBytes(300_000);
    const origin = await startOrigin(data, { lastModified: new Date(Date.now() - 60_000).toUTCString() });
    // Act
    const report = await cloud.submitJob({ source: origin.url, destination: `oss://${cloud.bucket}/unpinned/trusted.bin`, partSize: 100 * 1024, unpinned: 'trust' });
    await origin.close();
    // Assess
    expect(report.crc64).toBe(crc64(data));
    expect(((await client.get('unpinned/trusted.bin')).content as Buffer).equals(data)).toBe(true);
  });
});

describe('a completed object that does not verify', () => {
  it('is deleted and the job fails naming why, when OSS answers Complete with another CRC-64', async () => {
    // Prepare
    const data = randomBytes(300_000);
    const origin = await startOrigin(data, { etag: '"v1"' });
    cloud.oss.setFaults({ operations: { CompleteMultipartUpload: { misreportCrc64: true } } });
    // Act
    const body = await invocationFailure(cloud.submitJob({ source: origin.url, destination: `oss://${cloud.bucket}/verify/bad.bin`, partSize: 100 * 1024 }));
    cloud.oss.setFaults({});
    await origin.close();
    // Assess
    expect(body.errorMessage).toMatch(/OSS's CRC-64 \d+ differs from the combined part CRC-64 \d+; the completed object was deleted/);
    await expect(client.head('verify/bad.bin')).rejects.toMatchObject({ status: 404 });
    expect(await uploadsLeft(client)).toBe(0);
  });
});

describe('unpinned: reread proves every part by reading it again', () => {
  const lastModifiedOnly = () => ({ lastModified: new Date(Date.now() - 60_000).toUTCString() });

  it('an unchanged source is copied, each part read twice, and the report says reread', async () => {
    // Prepare
    const data = randomBytes(350_000);
    const origin = await startOrigin(data, lastModifiedOnly());
    // Act
    const report = await cloud.submitJob({ source: origin.url, destination: `oss://${cloud.bucket}/reread/same.bin`, partSize: 100 * 1024, unpinned: 'reread' });
    await origin.close();
    // Assess
    expect(report).toMatchObject({ parts: 4, reread: true, crc64: crc64(data) });
    expect(report.unpinned).toBeUndefined();
    expect(origin.gets).toBe(2 * report.parts);
    expect(((await client.get('reread/same.bin')).content as Buffer).equals(data)).toBe(true);
  });

  it('a source rewritten at the same size during the copy is caught: the job fails, nothing written, no upload left', async () => {
    // Prepare: after the first ranged read the origin serves another version of the same size (no validator changes).
    const data = randomBytes(350_000);
    const origin = await startOrigin(data, lastModifiedOnly());
    origin.beforeGet = (n) => {
      if (n === 2) origin.data = randomBytes(data.length);
    };
    // Act
    const body = await invocationFailure(cloud.submitJob({ source: origin.url, destination: `oss://${cloud.bucket}/reread/changed.bin`, partSize: 100 * 1024, streamsPerWorker: 1, workers: 1, unpinned: 'reread' }));
    await origin.close();
    // Assess
    expect(body.code).toBe('SourceChanged');
    expect(body.errorMessage).toMatch(/read again has CRC-64 \d+, uploaded \d+: the source changed during the copy \(unpinned: reread\)/);
    await expect(client.head('reread/changed.bin')).rejects.toMatchObject({ status: 404 });
    expect(await uploadsLeft(client)).toBe(0);
  });

  it('an archive task re-reads its input range and matches it', async () => {
    // Prepare
    const data = randomBytes(300_000);
    const origin = await startOrigin(data, lastModifiedOnly());
    // Act
    const report = await cloud.submitJob({ source: origin.url, destination: `oss://${cloud.bucket}/reread/archive.gz`, mode: 'archive', unpinned: 'reread' });
    await origin.close();
    // Assess
    expect(report).toMatchObject({ reread: true, uncompressedCrc64: crc64(data) });
    expect(origin.gets).toBeGreaterThanOrEqual(2);
  });
});
