/**
 * The sweep over the real local OSS (functions/sweep/sweep.ts): status objects in the status location say
 * which job started which upload; a dry run lists what would go, a real run aborts exactly the uploads no job
 * will complete (unknown or terminal job) and keeps young ones and those of resumable jobs.
 */
import OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../shared/log.ts';
import { startOssServer, type LocalOss } from '../../local/oss/index.ts';
import { ossStatusStore, type JobStatus, type StatusStore } from '../../functions/status/store.ts';
import { sweepUploads } from '../../functions/sweep/sweep.ts';

let oss: LocalOss;
let dst: OSS;
let status: StatusStore;

beforeAll(async () => {
  oss = await startOssServer({ buckets: ['dst', 'ossferry-status'], fsync: false });
  dst = new OSS({ ...oss.clientOptions('dst'), retryMax: 0 } as OSS.Options);
  status = ossStatusStore(new OSS({ ...oss.clientOptions('ossferry-status'), retryMax: 0 } as OSS.Options), { bucket: 'ossferry-status', prefix: 'jobs' });
});
afterAll(async () => {
  await oss?.close();
});

function statusOf(jobId: string, uploadId: string, state: JobStatus['state']): JobStatus {
  const at = new Date().toISOString();
  return { version: 1, jobId, state, source: 'http://h/f', sourceIdentity: { size: 1 }, destination: 'oss://dst/k', uploadId, size: 1, partSize: 102400, partCount: 1, parts: [], bytesDone: 0, rounds: 0, startedAt: at, updatedAt: at, attempts: 1 };
}

async function openUploads(): Promise<string[]> {
  const r = (await dst.listUploads({} as never)) as unknown as { uploads?: Array<{ name: string }> };
  return (r.uploads ?? []).map((u) => u.name).sort();
}

describe('sweepUploads', () => {
  it('a dry run lists, a real run aborts the uploads of unknown and terminal jobs, keeping resumable and young ones', async () => {
    // Prepare
    const init = async (key: string) => (await dst.initMultipartUpload(key)).uploadId;
    const orphan = await init('in/orphan.bin');
    const done = await init('in/done.bin');
    const failed = await init('in/failed.bin');
    const running = await init('in/running.bin');
    await init('elsewhere/not-swept.bin');
    await status.write(statusOf('j' + 'a'.repeat(32), done, 'succeeded'));
    await status.write(statusOf('j' + 'b'.repeat(32), failed, 'failed'));
    await status.write(statusOf('j' + 'c'.repeat(32), running, 'interrupted'));
    const base = { status, clientFor: () => dst, destinations: [{ bucket: 'dst', prefix: 'in/' }], logger: silentLogger, now: () => Date.now() + 10_000 };
    // Act
    const young = await sweepUploads({ ...base, olderThanMs: 3_600_000, dryRun: false });
    const dry = await sweepUploads({ ...base, olderThanMs: 1_000, dryRun: true });
    const afterDry = await openUploads();
    const real = await sweepUploads({ ...base, olderThanMs: 1_000, dryRun: false });
    // Assess
    expect(young).toMatchObject({ aborted: 0, kept: 4 });
    expect(dry.decisions.filter((d) => d.action === 'abort').map((d) => d.upload.uploadId).sort()).toEqual([orphan, done, failed].sort());
    expect(afterDry).toHaveLength(5);
    expect(real).toMatchObject({ aborted: 3, kept: 1, failed: 0 });
    expect(await openUploads()).toEqual(['elsewhere/not-swept.bin', 'in/running.bin']);
  });

  it('aborts the upload of an abandoned job (status unchanged for longer than abandonedAfterMs: FC gave up on it), keeps a recently active one', async () => {
    // Prepare
    const init = async (key: string) => (await dst.initMultipartUpload(key)).uploadId;
    const abandoned = await init('quiet/abandoned.bin');
    const active = await init('quiet/active.bin');
    const twoDaysAgo = new Date(Date.now() - 48 * 3_600_000).toISOString();
    await status.write({ ...statusOf('j' + 'd'.repeat(32), abandoned, 'running'), updatedAt: twoDaysAgo });
    await status.write(statusOf('j' + 'e'.repeat(32), active, 'running'));
    // Act: the default threshold (24 h)
    const r = await sweepUploads({ status, clientFor: () => dst, destinations: [{ bucket: 'dst', prefix: 'quiet/' }], olderThanMs: 0, dryRun: false, logger: silentLogger });
    // Assess
    expect(r).toMatchObject({ aborted: 1, kept: 1, failed: 0 });
    expect(r.decisions.find((d) => d.upload.uploadId === abandoned)?.reason).toMatch(/is running but its status has not changed for 1728\d\d s: abandoned/);
    const left = ((await dst.listUploads({ prefix: 'quiet/' } as never)) as unknown as { uploads?: Array<{ name: string }> }).uploads ?? [];
    expect(left.map((u) => u.name)).toEqual(['quiet/active.bin']);
  });

  it('an upload another sweep aborted between the listing and the abort counts as gone, not as a failure', async () => {
    // Prepare
    const gone = (await dst.initMultipartUpload('race/gone.bin')).uploadId;
    const racing = new Proxy(dst, {
      get(target, prop, receiver) {
        if (prop !== 'abortMultipartUpload') return Reflect.get(target, prop, receiver);
        // The concurrent sweep's abort lands first, at exactly this point.
        return async (key: string, uploadId: string) => {
          await target.abortMultipartUpload(key, uploadId);
          return target.abortMultipartUpload(key, uploadId);
        };
      },
    });
    // Act
    const r = await sweepUploads({ status, clientFor: () => racing, destinations: [{ bucket: 'dst', prefix: 'race/' }], olderThanMs: 0, dryRun: false, logger: silentLogger, now: () => Date.now() + 1_000 });
    // Assess
    expect(r).toMatchObject({ aborted: 1, kept: 0, failed: 0 });
    expect(r.decisions.map((d) => [d.upload.uploadId, d.aborted])).toEqual([[gone, true]]);
  });
});
