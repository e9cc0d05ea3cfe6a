/**
 * `ossferry sweep` through the bin as a user runs it, against a running `ossferry local cloud` found through
 * its data directory (the state file): uploads no job will complete (unknown or finished job) and older than
 * --older-than are aborted; young ones and those of a live job (lease held, status running) are kept;
 * --dry-run changes nothing; bad input exits 2 naming the flag and the fix.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../shared/log.ts';
import { acquireLease, type JobLease } from '../../functions/status/lease.ts';
import { ossStatusStore, type JobStatus } from '../../functions/status/store.ts';
import { localOssClientOptions, type LocalOssAddress } from '../../local/oss/client-options.ts';
import { lastJson, runOssferry, startOssferry, type RunningOssferry } from '../helpers/ossferry-bin.ts';

const STATUS = { bucket: 'ossferry-status', prefix: 'jobs' };
const LIVE_JOB = 'j' + 'c'.repeat(32);

let dir: string;
let dataDir: string;
let cloud: RunningOssferry;
let client: (bucket: string) => OSS;
let lease: JobLease | undefined;

function statusOf(jobId: string, uploadId: string, state: JobStatus['state']): JobStatus {
  const at = new Date().toISOString();
  return { version: 1, jobId, state, source: 'http://h/f', sourceIdentity: { size: 1 }, destination: 'oss://ossferry/k', uploadId, size: 1, partSize: 102400, partCount: 1, parts: [], bytesDone: 0, rounds: 0, startedAt: at, updatedAt: at, attempts: 1 };
}

async function openKeys(): Promise<string[]> {
  const r = (await client('ossferry').listUploads({} as never)) as unknown as { uploads?: Array<{ name: string }> };
  return (r.uploads ?? []).map((u) => u.name).sort();
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ossferry-sweep-cli-'));
  dataDir = path.join(dir, 'cloud');
  cloud = await startOssferry(['local', 'cloud', '--data-dir', dataDir, '--max-instances', '1', '--json']);
  const o = cloud.ready.oss as Omit<LocalOssAddress, 'port'>;
  client = (bucket) => new OSS({ ...localOssClientOptions({ ...o, port: Number(new URL(o.endpoint).port) }, bucket), retryMax: 0 } as OSS.Options);
});
afterAll(async () => {
  await lease?.release().catch(() => undefined);
  await cloud?.stop('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('ossferry sweep', () => {
  it('keeps young uploads, lists with --dry-run, then aborts exactly the orphaned and finished-job uploads, keeping the live job\'s', async () => {
    // Prepare
    const dst = client('ossferry');
    const status = ossStatusStore(client(STATUS.bucket), STATUS);
    const init = async (key: string) => (await dst.initMultipartUpload(key)).uploadId;
    const orphan = await init('in/orphan.bin');
    const finished = await init('in/finished.bin');
    const live = await init('in/live.bin');
    await status.write(statusOf('j' + 'a'.repeat(32), finished, 'succeeded'));
    await status.write(statusOf(LIVE_JOB, live, 'running'));
    const held = await acquireLease(client(STATUS.bucket), STATUS, LIVE_JOB, { logger: silentLogger, heartbeatMs: 1_000, ttlMs: 60_000 });
    if (held.kind === 'owner') lease = held.lease;
    // Act
    const young = await runOssferry(['sweep', '--data-dir', dataDir, '--json']);
    await new Promise((r) => setTimeout(r, 1_100)); // the uploads must be older than the 1 s threshold below
    const dry = await runOssferry(['sweep', '--data-dir', dataDir, '--older-than', '1s', '--dry-run', '--json']);
    const afterDry = await openKeys();
    const real = await runOssferry(['sweep', '--data-dir', dataDir, '--older-than', '1s']);
    // Assess
    expect(held.kind).toBe('owner');
    expect(young.code).toBe(0);
    expect(lastJson(young.stdout)).toMatchObject({ dryRun: false, aborted: 0, kept: 3 });
    expect(dry.code).toBe(0);
    const planned = lastJson(dry.stdout) as { aborted: number; wouldAbort: number; uploads: Array<{ uploadId: string; action: string; reason: string }> };
    expect(planned).toMatchObject({ dryRun: true, aborted: 0, wouldAbort: 2, kept: 1 });
    expect(planned.uploads.filter((u) => u.action === 'abort').map((u) => u.uploadId).sort()).toEqual([orphan, finished].sort());
    expect(planned.uploads.find((u) => u.uploadId === live)?.reason).toMatch(/is running and may resume/);
    expect(afterDry).toEqual(['in/finished.bin', 'in/live.bin', 'in/orphan.bin']);
    expect(real.code).toBe(0);
    expect(real.stdout).toMatch(/^aborted {2}oss:\/\/ossferry\/in\/orphan\.bin .*no job records this upload/m);
    expect(real.stdout).toMatch(/^aborted {2}oss:\/\/ossferry\/in\/finished\.bin .*is succeeded/m);
    expect(real.stdout).toMatch(/2 upload\(s\) aborted, 1 kept, 0 failed/);
    expect(await openKeys()).toEqual(['in/live.bin']);
  });

  it.each([
    { args: ['sweep', '--older-than', 'soon'], message: /--older-than: "soon" is not a duration\. Fix: pass a duration such as 24h/ },
    { args: ['sweep', '--oss-region', 'cn-hangzhou', '--status-location', 'oss://my-status/jobs'], message: /--destination: is not set\. Fix: pass --destination oss:\/\/bucket/ },
    { args: ['sweep', '--oss-region', 'cn-hangzhou', '--destination', 'bucket-only-no-scheme'], message: /--destination: "bucket-only-no-scheme" is not oss:\/\/bucket\[\/prefix\]\. Fix:/ },
    { args: ['sweep', '--destination', 'oss://my-bucket/in', '--status-location', 'oss://my-status/jobs'], message: /--oss-region: is not set\. Fix: pass --oss-region/ },
    { args: ['sweep', '--destination', 'oss://my-bucket/in', '--oss-region', 'cn-hangzhou'], message: /--status-location: is not set\. Fix:/ },
    { args: ['sweep', '--destination', 'oss://my-bucket/in', '--status-location', 'oss://my-status/jobs', '--oss-endpoint', 'https://oss-cn-hangzhou.aliyuncs.com'], message: /ALIBABA_CLOUD_ACCESS_KEY_ID: is not set; .*Fix: export ALIBABA_CLOUD_ACCESS_KEY_ID/ },
  ])('$args.1 … exits 2 naming the flag and the fix', async ({ args, message }) => {
    // Act
    const r = await runOssferry(args, { OSSFERRY_STATUS_LOCATION: '', ALIBABA_CLOUD_ACCESS_KEY_ID: '', ALIBABA_CLOUD_ACCESS_KEY_SECRET: '' });
    // Assess
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });

  it('a data dir without a status bucket stops the sweep rather than taking every upload for an orphan', async () => {
    // Prepare
    const empty = path.join(dir, 'empty');
    await mkdir(empty);
    // Act
    const r = await runOssferry(['sweep', '--data-dir', empty]);
    // Assess
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--status-location: bucket ossferry-status does not exist\. Fix:/);
  });
});
