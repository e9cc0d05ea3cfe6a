/**
 * Smaller operations of the local OSS (bucket info/location, response-* overrides, upload listing pages) and
 * the `ossferry local oss` command registration.
 */
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerLocalOssCommand } from '../../../cli/local-oss.ts';
import { startOssServer, type LocalOss } from '../../../local/oss/index.ts';
import { client, type Client } from './helpers.ts';

let oss: LocalOss;
let c: Client;
beforeAll(async () => {
  oss = await startOssServer({ buckets: ['extra-b'], region: 'cn-shanghai' });
  c = client(oss, 'extra-b');
});
afterAll(async () => {
  await oss?.close();
});

describe('extras', () => {
  it('getBucketInfo and getBucketLocation report the configured region', async () => {
    // Act
    const info = await c.getBucketInfo('extra-b');
    const loc = await c.getBucketLocation('extra-b');
    // Assess
    expect(info.bucket.Name).toBe('extra-b');
    expect(info.bucket.Location).toBe('oss-cn-shanghai');
    expect(loc.location).toBe('oss-cn-shanghai');
  });

  it('response-* query parameters override GET response headers', async () => {
    // Prepare
    await c.put('resp.txt', Buffer.from('hi'));
    // Act
    const r = await c.get('resp.txt', { subres: { 'response-content-type': 'text/x-test', 'response-content-disposition': 'attachment' } });
    // Assess
    expect(r.res.headers['content-type']).toBe('text/x-test');
    expect(r.res.headers['content-disposition']).toBe('attachment');
  });

  it('listUploads pages with key and upload-id markers', async () => {
    // Prepare
    const ids: string[] = [];
    for (const k of ['up/a', 'up/a', 'up/b']) ids.push((await c.initMultipartUpload(k)).uploadId);
    // Act
    const first = await c.listUploads({ prefix: 'up/', 'max-uploads': 2 });
    const second = await c.listUploads({ prefix: 'up/', 'max-uploads': 2, 'key-marker': first.nextKeyMarker, 'upload-id-marker': first.nextUploadIdMarker });
    // Assess
    expect(first.isTruncated).toBe(true);
    expect(first.uploads).toHaveLength(2);
    expect(second.isTruncated).toBe(false);
    const seen = [...first.uploads, ...second.uploads].map((u: { uploadId: string }) => u.uploadId);
    expect(seen.sort()).toEqual([...ids].sort());
  });

  it('registerLocalOssCommand adds `local oss` with the documented flags', () => {
    // Prepare
    const program = new Command('ossferry');
    // Act
    registerLocalOssCommand(program);
    const local = program.commands.find((x) => x.name() === 'local');
    const ossCmd = local?.commands.find((x) => x.name() === 'oss');
    // Assess
    expect(ossCmd).toBeDefined();
    expect(ossCmd!.options.map((o) => o.long)).toEqual(
      expect.arrayContaining(['--port', '--data-dir', '--access-key-id', '--access-key-secret', '--bucket', '--faults', '--seed', '--region']),
    );
  });
});
