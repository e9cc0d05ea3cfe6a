/**
 * The stack's sweep timer end to end on the local cloud: the trigger config infra/sweep-timer.ts builds, its
 * payload wrapped the way an FC 2.0 timer trigger delivers it, invoked on the coordinator over the local FC
 * gateway. The coordinator aborts the uploads under the stack's destinations whose job is finished or unknown,
 * keeps a live job's and anything outside the destinations; a malformed payload fails naming the fix.
 */
import OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../shared/log.ts';
import { ossStatusStore, type JobStatus } from '../../functions/status/store.ts';
import { coordinatorInvoker, LOCAL_DEFAULTS, startLocalCloud, type LocalCloud } from '../../local/cloud.ts';
import type { FcInvoker } from '../../functions/invoke/invoker.ts';
import { sweepTimerConfig } from '../../infra/sweep-timer.ts';

let cloud: LocalCloud;
let invoker: FcInvoker;

beforeAll(async () => {
  cloud = await startLocalCloud({ workers: { maxInstances: 1, instanceConcurrency: 1 } });
  invoker = coordinatorInvoker(cloud.fc, cloud.fcCredentials, cloud.oss.region, 60, silentLogger);
}, 120_000);
afterAll(async () => {
  await cloud?.close();
});

function statusOf(jobId: string, uploadId: string, state: JobStatus['state']): JobStatus {
  const at = new Date().toISOString();
  return { version: 1, jobId, state, source: 'http://h/f', sourceIdentity: { size: 1 }, destination: 'oss://ossferry/k', uploadId, size: 1, partSize: 102400, partCount: 1, parts: [], bytesDone: 0, rounds: 0, startedAt: at, updatedAt: at, attempts: 1 };
}

/** What FC 2.0 hands a function when a timer trigger fires: the configured payload as a string. */
function timerEvent(triggerConfig: string): Record<string, string> {
  const { payload } = JSON.parse(triggerConfig) as { payload: string };
  return { triggerTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), triggerName: 'ossferry-prod-sweep', payload };
}

const invokeCoordinator = (body: unknown) => invoker.invoke<Record<string, unknown>>(LOCAL_DEFAULTS.serviceName, LOCAL_DEFAULTS.coordinatorFunction, body, {});

describe('the sweep timer on the coordinator', () => {
  it('aborts the orphaned and finished-job uploads under the destinations, keeps the live job\'s and the rest', async () => {
    // Prepare
    const dst = cloud.ossClient('ossferry');
    const init = async (key: string) => (await dst.initMultipartUpload(key)).uploadId;
    const status = ossStatusStore(cloud.ossClient(LOCAL_DEFAULTS.statusBucket), { bucket: LOCAL_DEFAULTS.statusBucket, prefix: LOCAL_DEFAULTS.statusPrefix });
    await init('copies/orphan.bin');
    const finished = await init('archived/done.log.gz');
    const live = await init('copies/live.bin');
    await init('elsewhere/not-a-destination.bin');
    await status.write(statusOf('j' + 'd'.repeat(32), finished, 'failed'));
    await status.write(statusOf('j' + 'e'.repeat(32), live, 'running'));
    const config = sweepTimerConfig({
      destinations: [{ bucket: 'ossferry', prefix: 'copies/' }],
      archiveRules: [{ name: 'logs', sourceBucket: 'logs-src', sourcePrefix: 'in/', sourceSuffix: '', destinationBucket: 'ossferry', destinationPrefix: 'archived/', deleteSourceAfterVerify: false }],
      sweep: { enabled: true, schedule: '0 0 3 * * *', olderThanSeconds: 0 },
    });
    // Act
    const r = await invokeCoordinator(timerEvent(config));
    // Assess
    expect(r).toEqual({ kind: 'sweep', dryRun: false, aborted: 2, kept: 1, failed: 0 });
    const left = ((await dst.listUploads({} as never)) as unknown as { uploads?: Array<{ name: string }> }).uploads?.map((u) => u.name).sort();
    expect(left).toEqual(['copies/live.bin', 'elsewhere/not-a-destination.bin']);
  });

  it('a timer payload that is not a sweep event fails naming the fix and aborts nothing', async () => {
    // Prepare
    const dst = cloud.ossClient('ossferry');
    await dst.initMultipartUpload('copies/kept.bin');
    const before = ((await dst.listUploads({} as never)) as unknown as { uploads?: unknown[] }).uploads?.length;
    // Act
    const err = await invokeCoordinator({ triggerTime: '2026-12-07T03:00:00Z', triggerName: 't', payload: JSON.stringify({ kind: 'sweep', olderThanSeconds: 0 }) }).catch((e: unknown) => e as Error);
    // Assess
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/destinations must be a non-empty list .*Fix: send \{"kind":"sweep"/);
    expect(((await dst.listUploads({} as never)) as unknown as { uploads?: unknown[] }).uploads?.length).toBe(before);
  });
});
