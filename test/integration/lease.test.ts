/**
 * The job lease over the real local OSS (functions/status/lease.ts): create-only writes make exactly one
 * owner among concurrent contenders; a later invocation takes over only once the owner's lease expired, with
 * the next epoch; the former owner is then fenced; a released lease is taken over at once.
 */
import OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../shared/log.ts';
import { startOssServer, type LocalOss } from '../../local/oss/index.ts';
import { acquireLease, type LeaseOutcome } from '../../functions/status/lease.ts';

let oss: LocalOss;
let client: OSS;
const loc = { bucket: 'ossferry-status', prefix: 'jobs' };

beforeAll(async () => {
  oss = await startOssServer({ buckets: ['ossferry-status'], fsync: false });
  client = new OSS({ ...oss.clientOptions('ossferry-status'), retryMax: 0 } as OSS.Options);
});
afterAll(async () => {
  await oss?.close();
});

const owned = (o: LeaseOutcome) => (o.kind === 'owner' ? o.lease : undefined);

describe('job lease', () => {
  it('eight concurrent contenders: exactly one owner, the others see its epoch held', async () => {
    // Act
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => acquireLease(client, loc, 'jconcurrent', { ttlMs: 10_000, waitMs: 0, logger: silentLogger })));
    // Assess
    const owners = outcomes.flatMap((o) => (o.kind === 'owner' ? [o.lease] : []));
    expect(owners).toHaveLength(1);
    expect(owners[0]!.epoch).toBe(1);
    expect(outcomes.filter((o) => o.kind === 'held').every((o) => o.kind === 'held' && o.epoch === 1)).toBe(true);
    await owners[0]!.release();
  });

  it('takes over only after the lease expired, with the next epoch; the former owner is fenced', async () => {
    // Prepare: an owner that stops heartbeating (a crashed or frozen instance)
    const first = owned(await acquireLease(client, loc, 'jtakeover', { ttlMs: 2_000, heartbeatMs: 200, logger: silentLogger }))!;
    first.abandon();
    // Act
    const early = await acquireLease(client, loc, 'jtakeover', { ttlMs: 2_000, waitMs: 0, logger: silentLogger });
    const started = Date.now();
    const later = owned(await acquireLease(client, loc, 'jtakeover', { ttlMs: 2_000, waitMs: 10_000, logger: silentLogger }))!;
    const waited = Date.now() - started;
    // Assess
    expect(early.kind).toBe('held');
    expect(later.epoch).toBe(2);
    expect(waited).toBeGreaterThan(500);
    await expect(first.confirm()).rejects.toMatchObject({ code: 'LeaseLost' });
    expect(first.signal.aborted).toBe(true);
    expect(() => later.assertOwner()).not.toThrow();
    await later.release();
  });

  it('a live owner keeps the job through its heartbeats; once released, the next invocation takes it at once', async () => {
    // Prepare
    const owner = owned(await acquireLease(client, loc, 'jrelease', { ttlMs: 1_500, heartbeatMs: 200, logger: silentLogger }))!;
    await new Promise((r) => setTimeout(r, 2_500)); // longer than the TTL: only heartbeats keep it
    // Act
    const whileLive = await acquireLease(client, loc, 'jrelease', { ttlMs: 1_500, waitMs: 0, logger: silentLogger });
    await owner.release();
    const started = Date.now();
    const next = owned(await acquireLease(client, loc, 'jrelease', { ttlMs: 1_500, waitMs: 0, logger: silentLogger }));
    // Assess
    expect(whileLive.kind).toBe('held');
    expect(() => owner.assertOwner()).toThrow(/no longer owns/);
    expect(next?.epoch).toBe(2);
    expect(Date.now() - started).toBeLessThan(1_500);
    await next?.release();
  });
});
