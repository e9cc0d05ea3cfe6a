/**
 * Local OSS versioning, contract-checked with the unmodified ali-oss client: PutBucketVersioning /
 * GetBucketVersioning, version ids on Put, Complete and Copy, reads and deletes by `versionId`, delete markers,
 * ListObjectVersions, Suspended writes taking the "null" version, and versions surviving a restart.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startOssServer, type LocalOss } from '../../../local/oss/index.ts';
import { client, errorOf, type Client } from './helpers.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function start(o: Parameters<typeof startOssServer>[0] = {}): Promise<{ s: LocalOss; c: Client }> {
  const s = await startOssServer({ buckets: ['ver-b'], fsync: false, ...o });
  cleanups.push(() => s.close());
  return { s, c: client(s, 'ver-b') };
}

const versionOf = (r: { res: { headers: Record<string, string> } }) => r.res.headers['x-oss-version-id'];
const text = async (c: Client, key: string, versionId?: string) => String((await c.get(key, versionId ? { versionId } : {})).content);

describe('local OSS versioning (ali-oss)', () => {
  it('a new bucket has no versioning status; Enabled and Suspended are stored and read back', async () => {
    // Prepare
    const { c } = await start();
    // Act
    const before = await c.getBucketVersioning('ver-b');
    await c.putBucketVersioning('ver-b', 'Enabled');
    const enabled = await c.getBucketVersioning('ver-b');
    await c.putBucketVersioning('ver-b', 'Suspended');
    const suspended = await c.getBucketVersioning('ver-b');
    // Assess
    expect(before.versionStatus).toBeUndefined();
    expect(enabled.versionStatus).toBe('Enabled');
    expect(suspended.versionStatus).toBe('Suspended');
  });

  it('without versioning no version id is answered and a DELETE removes the object', async () => {
    // Prepare
    const { c } = await start();
    // Act
    const put = await c.put('plain.txt', Buffer.from('one'));
    await c.delete('plain.txt');
    const listed = await c.getBucketVersions({ prefix: 'plain' });
    // Assess
    expect(versionOf(put)).toBeUndefined();
    expect(listed.objects).toEqual([]);
    expect(listed.deleteMarker).toEqual([]);
  });

  it('Enabled: each Put is a version, readable by id; DELETE adds a delete marker; deleting by id removes only that version', async () => {
    // Prepare
    const { c } = await start();
    await c.putBucketVersioning('ver-b', 'Enabled');
    const v1 = versionOf(await c.put('doc.txt', Buffer.from('first')));
    const v2 = versionOf(await c.put('doc.txt', Buffer.from('second')));
    // Act
    const head1 = await c.head('doc.txt', { versionId: v1 });
    const del = await c.delete('doc.txt');
    const afterMarker = await errorOf(() => c.get('doc.txt'));
    const listed = await c.getBucketVersions({ prefix: 'doc' });
    const markerId = del.res.headers['x-oss-version-id'];
    await c.delete('doc.txt', { versionId: markerId });
    const restored = await text(c, 'doc.txt');
    await c.delete('doc.txt', { versionId: v2 });
    const previous = await text(c, 'doc.txt');
    const missing = await errorOf(() => c.get('doc.txt', { versionId: v2 }));
    // Assess
    expect(v1).toMatch(/^CAEQ/);
    expect(v2).not.toBe(v1);
    expect(versionOf(head1)).toBe(v1);
    expect(del.res.headers['x-oss-delete-marker']).toBe('true');
    expect(afterMarker.status).toBe(404);
    expect(afterMarker.code).toBe('NoSuchKey');
    expect(listed.deleteMarker).toMatchObject([{ name: 'doc.txt', versionId: markerId }]);
    expect(listed.objects.map((o: { versionId: string; isLatest: boolean }) => [o.versionId, o.isLatest])).toEqual([
      [v2, false],
      [v1, false],
    ]);
    expect(restored).toBe('second');
    expect(previous).toBe('first');
    expect(missing).toMatchObject({ status: 404, code: 'NoSuchVersion' });
  });

  it('Complete and Copy answer the new version id; Copy can name its source version', async () => {
    // Prepare
    const { c } = await start();
    await c.putBucketVersioning('ver-b', 'Enabled');
    const old = versionOf(await c.put('src.txt', Buffer.from('old source')));
    await c.put('src.txt', Buffer.from('new source'));
    const init = await c.initMultipartUpload('mp.bin');
    const part = await c.uploadPart('mp.bin', init.uploadId, 1, Buffer.from('only part'), 0, 9);
    // Act
    const done = await c.completeMultipartUpload('mp.bin', init.uploadId, [{ number: 1, etag: part.etag }]);
    const copied = await c.copy('copy.txt', 'src.txt', { versionId: old });
    // Assess
    expect(versionOf(done)).toMatch(/^CAEQ/);
    expect((await c.head('mp.bin')).res.headers['x-oss-version-id']).toBe(versionOf(done));
    expect(versionOf(copied)).toMatch(/^CAEQ/);
    expect(copied.res.headers['x-oss-copy-source-version-id']).toBe(old);
    expect(await text(c, 'copy.txt')).toBe('old source');
  });

  it('Suspended: writes take the "null" version, replacing the previous "null" one; Enabled versions stay', async () => {
    // Prepare
    const { c } = await start();
    await c.put('s.txt', Buffer.from('before versioning'));
    await c.putBucketVersioning('ver-b', 'Enabled');
    const kept = versionOf(await c.put('s.txt', Buffer.from('enabled version')));
    await c.putBucketVersioning('ver-b', 'Suspended');
    // Act
    const n1 = versionOf(await c.put('s.txt', Buffer.from('suspended 1')));
    const n2 = versionOf(await c.put('s.txt', Buffer.from('suspended 2')));
    const listed = await c.getBucketVersions({ prefix: 's.txt' });
    // Assess
    expect([n1, n2]).toEqual(['null', 'null']);
    expect(listed.objects.map((o: { versionId: string }) => o.versionId)).toEqual(['null', kept]);
    expect(await text(c, 's.txt')).toBe('suspended 2');
    expect(await text(c, 's.txt', kept)).toBe('enabled version');
  });

  it('versions, delete markers and the versioning status survive a restart; a bucket holding old versions is not empty', async () => {
    // Prepare
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ossferry-ver-test-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const creds = { accessKeyId: 'LTAIversions', accessKeySecret: 'versions-secret', dataDir: dir };
    const first = await startOssServer({ buckets: ['ver-b'], ...creds });
    const c1 = client(first, 'ver-b');
    await c1.putBucketVersioning('ver-b', 'Enabled');
    const v1 = versionOf(await c1.put('r.txt', Buffer.from('kept across restarts')));
    await c1.put('r.txt', Buffer.from('latest'));
    await c1.delete('r.txt');
    await first.close();
    // Act
    const { c } = await start(creds);
    const status = await c.getBucketVersioning('ver-b');
    const listed = await c.getBucketVersions({});
    const old = await text(c, 'r.txt', v1);
    const notEmpty = await errorOf(() => c.deleteBucket('ver-b'));
    // Assess
    expect(status.versionStatus).toBe('Enabled');
    expect(listed.objects).toHaveLength(2);
    expect(listed.deleteMarker).toHaveLength(1);
    expect(old).toBe('kept across restarts');
    expect(notEmpty).toMatchObject({ status: 409, code: 'BucketNotEmpty' });
  });
});
