/**
 * Object attributes through the local cloud: what the source says about its object (Content-Type,
 * Cache-Control, Content-Disposition, x-oss-meta-*) arrives on the destination, with the storage class,
 * encryption and tags the job asks for; archives are application/gzip and keep the source's type in metadata;
 * --no-preserve (object.preserve false) drops the source's attributes; a destination ending in "/" takes the
 * source's name. The trusted unpinned source is labelled on the object and in the report.
 */
import { randomBytes } from 'node:crypto';
import type OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyObject } from '../../cli/verify.ts';
import { startLocalCloud, type LocalCloud } from '../../local/cloud.ts';
import { startOrigin, type Origin } from '../helpers/origin.ts';

let cloud: LocalCloud;
let client: OSS;
let origin: Origin;

beforeAll(async () => {
  cloud = await startLocalCloud({ workers: { maxInstances: 2, instanceConcurrency: 1 } });
  client = cloud.ossClient();
  origin = await startOrigin(randomBytes(250_000), {
    etag: '"v1"',
    extra: { 'content-type': 'text/csv', 'cache-control': 'max-age=600', 'content-disposition': 'attachment; filename="obj.csv"', 'x-oss-meta-owner': 'ops' },
  });
});
afterAll(async () => {
  await origin?.close();
  await cloud?.close();
});

const headersOf = async (key: string) => (await client.head(key)).res.headers as Record<string, string>;

describe('object attributes', () => {
  it('a copy keeps the source attributes and gets the storage class, encryption and tags asked for; "dir/" takes the source name', async () => {
    // Act
    const report = await cloud.submitJob({
      source: origin.url,
      destination: `oss://${cloud.bucket}/attrs/`,
      partSize: 100 * 1024,
      object: { storageClass: 'IA', serverSideEncryption: 'AES256', tags: { project: 'alpha', team: 'ops' } },
    });
    // Assess
    expect(report.destination).toBe(`oss://${cloud.bucket}/attrs/obj.bin`);
    const h = await headersOf('attrs/obj.bin');
    expect(h).toMatchObject({
      'content-type': 'text/csv',
      'cache-control': 'max-age=600',
      'content-disposition': 'attachment; filename="obj.csv"',
      'x-oss-meta-owner': 'ops',
      'x-oss-storage-class': 'IA',
      'x-oss-server-side-encryption': 'AES256',
      'x-oss-tagging-count': '2',
    });
    expect(h['x-oss-meta-ossferry-job-id']).toBe(report.jobId);
  });

  it('an OSS source keeps its attributes; preserve off drops them and the type comes from the key', async () => {
    // Prepare
    await client.put('attrs-src/report.json', randomBytes(120_000), { headers: { 'Content-Type': 'application/x-custom', 'Cache-Control': 'no-store' }, meta: { origin: 'batch', uid: 0, pid: 0 } } as never);
    // Act
    await cloud.submitJob({ source: `oss://${cloud.bucket}/attrs-src/report.json`, destination: `oss://${cloud.bucket}/attrs/kept.json` });
    await cloud.submitJob({ source: `oss://${cloud.bucket}/attrs-src/report.json`, destination: `oss://${cloud.bucket}/attrs/dropped.json`, object: { preserve: false } });
    // Assess
    const kept = await headersOf('attrs/kept.json');
    const dropped = await headersOf('attrs/dropped.json');
    expect(kept).toMatchObject({ 'content-type': 'application/x-custom', 'cache-control': 'no-store', 'x-oss-meta-origin': 'batch' });
    expect(dropped['content-type']).toBe('application/json');
    expect(dropped['cache-control']).toBeUndefined();
    expect(dropped['x-oss-meta-origin']).toBeUndefined();
  });

  it('an archive is application/gzip, keeps the source type in metadata and its headers through the metadata stamp', async () => {
    // Act
    await cloud.submitJob({ source: origin.url, destination: `oss://${cloud.bucket}/attrs/archive/`, mode: 'archive', object: { storageClass: 'IA' } });
    // Assess
    const h = await headersOf('attrs/archive/obj.bin.gz');
    expect(h['content-type']).toBe('application/gzip');
    expect(h['content-encoding']).toBeUndefined();
    expect(h['x-oss-meta-source-content-type']).toBe('text/csv');
    expect(h['x-oss-meta-owner']).toBe('ops');
    // The uncompressed CRC is stamped after Complete by a metadata-replacing copy: the headers survive it.
    expect(h['x-oss-meta-uncompressed-crc64']).toBeDefined();
    expect(h['x-oss-storage-class']).toBe('IA');
    expect(h['cache-control']).toBe('max-age=600');
  });

  it('a trusted unpinned source is labelled on the object, in the report and by verify', async () => {
    // Prepare
    const weak = await startOrigin(randomBytes(150_000), { lastModified: new Date(Date.now() - 60_000).toUTCString() });
    // Act
    const report = await cloud.submitJob({ source: weak.url, destination: `oss://${cloud.bucket}/attrs/trusted.bin`, unpinned: 'trust' });
    await weak.close();
    const checked = await verifyObject(client, `oss://${cloud.bucket}/attrs/trusted.bin`, 'attrs/trusted.bin', { read: true });
    // Assess
    expect(report.unpinned).toBe(true);
    expect((await headersOf('attrs/trusted.bin'))['x-oss-meta-ossferry-unpinned']).toBe('true');
    expect(checked).toMatchObject({ verified: true, unpinned: true });
  });
});
