/**
 * Delete-after-verify end to end on a versioned source bucket (local cloud: OSS event → FC gateway →
 * coordinator → worker → local OSS with versioning Enabled): the archived version is deleted by its version id
 * and nothing else; a version written while the job runs (after its source was read, before the delete) is
 * never deleted — the race a plain DELETE after an ETag check would lose.
 */
import { gunzipSync } from 'node:zlib';
import OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateLogLike } from '../../bench/lib/loglike.ts';
import type { LocalCloud } from '../../local/cloud.ts';
import { putWithEvent, startMoveRuleCloud, until, uploadsLeft } from '../helpers/local-cloud.ts';

let cloud: LocalCloud;
let src: OSS;
let dest: OSS;

/** ali-oss has these; its type declarations do not. */
interface VersionedClient {
  putBucketVersioning(bucket: string, status: 'Enabled' | 'Suspended'): Promise<unknown>;
  getBucketVersions(query: Record<string, unknown>): Promise<{ objects: Array<{ versionId: string; isLatest: boolean }>; deleteMarker: unknown[] }>;
}
const versioned = (c: OSS) => c as unknown as VersionedClient;
const versionsOf = async (key: string) => (await versioned(src).getBucketVersions({ prefix: key })).objects.map((o) => o.versionId);

beforeAll(async () => {
  cloud = await startMoveRuleCloud();
  src = cloud.ossClient('logs-src');
  dest = cloud.ossClient('ossferry');
  await versioned(src).putBucketVersioning('logs-src', 'Enabled');
}, 120_000);
afterAll(async () => {
  await cloud?.close();
});

describe('deleteSourceAfterVerify on a versioned source bucket', () => {
  it('deletes exactly the archived version: the key has no version left and no delete marker', async () => {
    // Prepare
    const data = generateLogLike(300 * 1024, 41);
    const event = await putWithEvent(src, 'logs-src', 'move/one.log', data, cloud.oss.region);
    const [archivedVersion] = await versionsOf('move/one.log');
    // Act
    const r = await cloud.submitOssEvent(event);
    // Assess
    expect(r).toMatchObject({ archived: 1, failed: 0 });
    expect(r.results[0]!.report).toMatchObject({ sourceDeleted: true });
    expect(archivedVersion).toMatch(/^CAEQ/);
    expect(await versioned(src).getBucketVersions({ prefix: 'move/one.log' })).toMatchObject({ objects: [], deleteMarker: [] });
    expect(gunzipSync((await dest.get('moved/one.log.gz')).content as Buffer).equals(data)).toBe(true);
    expect(await uploadsLeft(dest)).toBe(0);
  });

  it('a version written after the source was read and before the delete survives; only the archived one is deleted', async () => {
    // Prepare: one task, one part — once the part is in OSS the worker has read the whole source. Complete is
    // held 1.5 s by injected latency, so the job is still before its delete when the new version lands.
    const first = generateLogLike(400 * 1024, 42);
    const second = Buffer.from('written while the archive job ran\n');
    const event = await putWithEvent(src, 'logs-src', 'move/race.log', first, cloud.oss.region);
    const [archivedVersion] = await versionsOf('move/race.log');
    cloud.oss.setFaults({ operations: { CompleteMultipartUpload: { latencyMs: 1500 } } });
    // Act
    const job = cloud.submitOssEvent(event);
    job.catch(() => undefined);
    await until(async () => {
      const uploads = (await dest.listUploads({ prefix: 'moved/race.log.gz' } as never)) as unknown as { uploads?: Array<{ name: string; uploadId: string }> };
      const u = uploads.uploads?.[0];
      // ali-oss answers a single part as an object, several as an array.
      return u !== undefined && [((await dest.listParts(u.name, u.uploadId, {} as never)) as unknown as { parts: unknown }).parts].flat().length === 1;
    });
    const put = await src.put('move/race.log', second);
    const newVersion = (put.res.headers as Record<string, string>)['x-oss-version-id'];
    const bothBeforeDelete = await versionsOf('move/race.log');
    const r = await job;
    cloud.oss.setFaults({});
    // Assess: the new version was written before the job's delete (both versions existed then) …
    expect(bothBeforeDelete).toEqual([newVersion, archivedVersion]);
    // … the job archived the first version and deleted exactly it; the new version is current and intact
    expect(r).toMatchObject({ archived: 1, failed: 0 });
    expect(r.results[0]!.report).toMatchObject({ sourceDeleted: true });
    expect(await versionsOf('move/race.log')).toEqual([newVersion]);
    expect(((await src.get('move/race.log')).content as Buffer).equals(second)).toBe(true);
    expect(gunzipSync((await dest.get('moved/race.log.gz')).content as Buffer).equals(first)).toBe(true);
    expect(await uploadsLeft(dest)).toBe(0);
  });
});

