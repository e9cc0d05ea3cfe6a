/**
 * Delete-after-verify end to end on the local cloud: an OSS event for a rule with deleteSourceAfterVerify,
 * delivered to the coordinator over the local FC gateway. The local OSS answers GetBucketVersioning as OSS does
 * for a bucket that never had versioning, so the job is refused at start: the record fails naming the field,
 * the reason and the fix; the source is untouched, nothing is at the destination, no upload is left.
 */
import OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateLogLike } from '../../bench/lib/loglike.ts';
import type { LocalCloud } from '../../local/cloud.ts';
import { putWithEvent, startMoveRuleCloud, uploadsLeft } from '../helpers/local-cloud.ts';

let cloud: LocalCloud;

beforeAll(async () => {
  cloud = await startMoveRuleCloud();
}, 120_000);
afterAll(async () => {
  await cloud?.close();
});

describe('deleteSourceAfterVerify through the local cloud', () => {
  it('the local OSS reports a bucket without versioning as OSS does (no Status)', async () => {
    // Act
    const r = await (cloud.ossClient('logs-src') as unknown as { getBucketVersioning(b: string): Promise<{ status: number; versionStatus?: string }> }).getBucketVersioning('logs-src');
    // Assess
    expect(r.status).toBe(200);
    expect(r.versionStatus).toBeUndefined();
  });

  it('an OSS event on the rule is refused at job start: source untouched, nothing archived, no upload left', async () => {
    // Prepare
    const src: OSS = cloud.ossClient('logs-src');
    const data = generateLogLike(512 * 1024, 31);
    const event = await putWithEvent(src, 'logs-src', 'move/app.log', data, cloud.oss.region);
    // Act
    const r = await cloud.submitOssEvent(event);
    // Assess
    expect(r).toMatchObject({ archived: 0, alreadyArchived: 0, failed: 1 });
    expect(r.results[0]!.error).toMatchObject({
      code: 'InvalidInput',
      message: expect.stringMatching(/^deleteSourceAfterVerify: refused for oss:\/\/logs-src\/move\/app\.log: versioning is not enabled on source bucket logs-src.*nothing was uploaded and the source is untouched\. Fix: enable versioning on the source bucket/),
    });
    expect(Buffer.compare((await src.get('move/app.log')).content as Buffer, data)).toBe(0);
    await expect(cloud.ossClient('ossferry').head('moved/app.log.gz')).rejects.toMatchObject({ status: 404 });
    expect(await uploadsLeft(cloud.ossClient('ossferry'))).toBe(0);
  });
});
