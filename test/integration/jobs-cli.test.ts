/**
 * Remote jobs through the `ossferry` bin, as a user runs them against a running `ossferry local cloud`: `copy`
 * with the --fc-* flags (the local FC gateway as the deployment) prints the job id at once and follows the job to
 * its report and the model's prediction; `--detach`; `status --watch` (stopped by SIGINT, or to the end); `jobs
 * --state`; `cancel` mid-job (the job held at a known lifecycle step by the test hook, not a sleep) → state
 * cancelled, no upload left, no object, and a re-submit runs it; cancel of a finished job changes nothing;
 * unknown ids exit 2; corrupt and foreign status objects are reported, never trusted.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc64 } from '../../shared/crc64/index.ts';
import { localOssClientOptions, type LocalOssAddress } from '../../local/oss/client-options.ts';
import { jsonLines, runOssferry, startOssferry, type RunningOssferry } from '../helpers/ossferry-bin.ts';

const ID_LINE = /^job (j[0-9a-f]{32})$/;

describe('remote jobs: copy --fc-* / --detach, status --watch, jobs, cancel', () => {
  let dir: string;
  let dataDir: string;
  let holdFile: string;
  let cloud: RunningOssferry;
  let origin: string;
  let fcFlags: string[];
  let fcEnv: NodeJS.ProcessEnv;
  let client: (bucket: string) => OSS;
  const data = randomBytes(3 * 1024 * 1024 + 17);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ossferry-jobs-'));
    dataDir = path.join(dir, 'cloud');
    holdFile = path.join(dir, 'hold');
    await mkdir(path.join(dir, 'src'));
    await writeFile(path.join(dir, 'src', 'big.bin'), data);
    // The functions inherit the cloud's environment: the test hook may hold a coordinator at a lifecycle step.
    cloud = await startOssferry(['local', 'cloud', '--data-dir', dataDir, '--source-root', path.join(dir, 'src'), '--json'], { OSSFERRY_TEST_HOOKS: '1', OSSFERRY_TEST_HOLD_FILE: holdFile });
    const fc = cloud.ready.fc as Record<string, string>;
    const o = cloud.ready.oss as Omit<LocalOssAddress, 'port'>;
    origin = (cloud.ready.httpSource as { origin: string }).origin;
    fcFlags = ['--fc-account-id', fc.accountId!, '--fc-region', fc.region!, '--fc-service', fc.serviceName!, '--fc-function', fc.coordinatorFunction!, '--fc-endpoint', fc.endpoint!, '--oss-endpoint', o.endpoint];
    fcEnv = { ALIBABA_CLOUD_ACCESS_KEY_ID: fc.accessKeyId, ALIBABA_CLOUD_ACCESS_KEY_SECRET: fc.accessKeySecret, ALIBABA_CLOUD_SECURITY_TOKEN: fc.securityToken };
    client = (bucket) => new OSS({ ...localOssClientOptions({ ...o, port: Number(new URL(o.endpoint).port) }, bucket), retryMax: 0 } as OSS.Options);
  });
  afterAll(async () => {
    await cloud?.stop('SIGINT');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const inDataDir = (...args: string[]) => runOssferry([...args, '--data-dir', dataDir]);
  const uploadsOf = async (key: string) => {
    const r = (await client('ossferry').listUploads({ prefix: key } as never)) as unknown as { uploads?: Array<{ name: string }> };
    return (r.uploads ?? []).filter((u) => u.name === key);
  };
  const exists = (key: string) => client('ossferry').head(key).then(() => true, (e: { status?: number }) => (e.status === 404 ? false : Promise.reject(e)));
  /** Holds the next coordinator that reaches `step` until the returned release() (or a cancel). */
  const holdAt = async (step: string) => {
    await writeFile(holdFile, step);
    return {
      reached: async () => {
        for (let i = 0; i < 600 && !existsSync(`${holdFile}.reached`); i++) await new Promise((r) => setTimeout(r, 50));
        expect(existsSync(`${holdFile}.reached`)).toBe(true);
      },
      release: () => unlink(`${holdFile}.reached`).catch(() => undefined),
    };
  };

  it('copy on a deployment (--fc-* flags) prints the job id while the job is still running, then follows it to the report and the prediction', async () => {
    // Prepare: hold the job once its first worker result is journalled, so "at once" is checked while it runs.
    const hold = await holdAt('midDispatch');

    // Act
    const copy = await startOssferry(['copy', `${origin}/big.bin`, 'oss://ossferry/deploy.bin', '--part-size', '256KiB', '--workers', '2', ...fcFlags], fcEnv, undefined, ID_LINE);
    await hold.reached();
    const jobId = ID_LINE.exec(String(copy.ready.line))![1]!;
    const during = await inDataDir('status', jobId);
    await hold.release();
    const done = await copy.exited;

    // Assess
    expect(during.code).toBe(0);
    expect(during.stdout).toMatch(new RegExp(`job ${jobId}: running`));
    expect(done.code).toBe(0);
    expect(done.stdout).toMatch(new RegExp(`job id\\s+${jobId}`));
    expect(done.stdout).toMatch(/predicted\s+\d+\.\d+ s \(ossferry plan's model for cn-hangzhou, limited by /);
    expect(done.stdout).toMatch(/measured\s+\d+\.\d+ s by the coordinator, \d+\.\d+ s submit to end here/);
    expect(done.stderr).toMatch(/submitting .* \(asynchronous\)/);
    const stored = await client('ossferry').get('deploy.bin');
    expect(crc64(stored.content as Buffer)).toBe(crc64(data));
  });

  it('copy --detach prints only the id and returns; status --watch follows the job to its end; jobs --state succeeded lists it', async () => {
    // Act
    const detached = await runOssferry(['copy', `${origin}/big.bin`, 'oss://ossferry/detached.bin', '--part-size', '512KiB', '--detach', ...fcFlags], fcEnv);
    const jobId = ID_LINE.exec(detached.stdout.trim())?.[1];
    const watched = await inDataDir('status', jobId!, '--watch');
    const listed = await runOssferry(['jobs', '--state', 'succeeded', '--json', '--data-dir', dataDir]);

    // Assess
    expect(detached.code).toBe(0);
    expect(detached.stdout.trim().split('\n')).toHaveLength(1);
    expect(jobId).toBeDefined();
    expect(detached.stderr).toMatch(new RegExp(`detached; follow with: ossferry status ${jobId} --watch`));
    expect(watched.code).toBe(0);
    expect(watched.stdout).toMatch(new RegExp(`job ${jobId}: succeeded`));
    expect(listed.code).toBe(0);
    expect(jsonLines(listed.stdout)).toContainEqual(expect.objectContaining({ jobId, state: 'succeeded', destination: 'oss://ossferry/detached.bin' }));
    expect(jsonLines(listed.stdout).every((j) => j.state === 'succeeded')).toBe(true);
    expect(await exists('detached.bin')).toBe(true);

    // Act: cancel of the finished job
    const cancel = await inDataDir('cancel', jobId!);
    const after = await inDataDir('status', jobId!);

    // Assess: said so, nothing changed
    expect(cancel.code).toBe(1);
    expect(cancel.stderr).toMatch(new RegExp(`job ${jobId} already succeeded .*nothing to cancel, nothing changed`));
    expect(after.stdout).toMatch(new RegExp(`job ${jobId}: succeeded`));
    expect(await exists('detached.bin')).toBe(true);
  });

  it('cancel mid-job: status --watch stops cleanly on SIGINT, jobs --state running lists it, cancel stops it (upload aborted, no object), the follower ends cancelled; a re-submit runs it', async () => {
    // Prepare: a following copy held at a known step (its first worker result journalled)
    const hold = await holdAt('midDispatch');
    const copy = await startOssferry(['copy', `${origin}/big.bin`, 'oss://ossferry/cancelled.bin', '--part-size', '256KiB', '--workers', '2', '--data-dir', dataDir], {}, undefined, ID_LINE);
    await hold.reached();
    const jobId = ID_LINE.exec(String(copy.ready.line))![1]!;

    // Act: watch, then stop watching
    const watch = await startOssferry(['status', jobId, '--watch', '--data-dir', dataDir], {}, undefined, /^watching job /);
    const unwatched = await watch.stop('SIGINT');
    const running = await inDataDir('jobs', '--state', 'running');
    const runningJson = await inDataDir('jobs', '--state', 'running', '--json');

    // Assess
    expect(unwatched).toMatchObject({ code: 0, signal: null });
    expect(unwatched.stderr).toMatch(new RegExp(`stopped following; job ${jobId} goes on`));
    expect(running.code).toBe(0);
    expect(running.stdout).toMatch(new RegExp(`^${jobId}\\s+running\\s+copy .*oss://ossferry/cancelled\\.bin$`, 'm'));
    expect(jsonLines(runningJson.stdout)).toEqual([expect.objectContaining({ jobId, state: 'running' })]);

    // Act: cancel (the hold ends with the coordinator's cancel, not with the test)
    const cancel = await runOssferry(['cancel', jobId, '--data-dir', dataDir]);
    const followed = await copy.exited;
    const status = await inDataDir('status', jobId);
    const again = await inDataDir('cancel', jobId);

    // Assess
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toMatch(new RegExp(`job ${jobId} cancelled: upload [0-9A-F]+ aborted, nothing written to oss://ossferry/cancelled\\.bin`));
    expect(followed.code).toBe(1);
    expect(followed.stderr).toMatch(new RegExp(`job ${jobId} was cancelled; its upload was aborted and nothing was written`));
    expect(status.code).toBe(1);
    expect(status.stdout).toMatch(new RegExp(`job ${jobId}: cancelled`));
    expect(again).toMatchObject({ code: 0 });
    expect(again.stdout).toMatch(/already cancelled; nothing changed/);
    expect(existsSync(`${holdFile}.reached`)).toBe(true); // released by the cancel, not by the test
    expect(await uploadsOf('cancelled.bin')).toEqual([]);
    expect(await exists('cancelled.bin')).toBe(false);
    await new Promise((r) => setTimeout(r, 1_000)); // no worker left to store anything: still nothing a second later
    expect(await uploadsOf('cancelled.bin')).toEqual([]);
    expect(await exists('cancelled.bin')).toBe(false);

    // Act: the user submits the cancelled job again
    await hold.release();
    const resubmitted = await inDataDir('copy', `${origin}/big.bin`, 'oss://ossferry/cancelled.bin', '--part-size', '256KiB', '--workers', '2');

    // Assess
    expect(resubmitted.code).toBe(0);
    expect(resubmitted.stdout).toMatch(new RegExp(`^job ${jobId}$`, 'm'));
    expect(resubmitted.stderr).toMatch(new RegExp(`job ${jobId} was cancelled; submitting it again`));
    expect(crc64((await client('ossferry').get('cancelled.bin')).content as Buffer)).toBe(crc64(data));
  });

  it('copy --timeout refuses a value that is not a number of seconds, before anything is submitted (exit 2)', async () => {
    // Act
    const r = await runOssferry(['copy', `${origin}/big.bin`, 'oss://ossferry/never.bin', '--timeout', 'soon', ...fcFlags], fcEnv);
    // Assess
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--timeout: "soon" is not a whole number between 1 and 86400/);
    expect(r.stdout).toBe('');
  });

  const unknown = `j${'0'.repeat(32)}`;
  for (const args of [['status', unknown], ['status', unknown, '--watch'], ['cancel', unknown]]) {
    it(`${args.join(' ')}: an unknown job id exits 2 naming the id and where it looked`, async () => {
      // Act
      const r = await inDataDir(...args);
      // Assess
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`jobId: no job ${unknown} under oss://ossferry-status/jobs \\(no status object oss://ossferry-status/jobs/${unknown}\\.json.*\\. Fix: `));
    });
  }

  it('a corrupt and a foreign status object are reported, never trusted: status exits 1 naming the object, jobs leaves them out and says why', async () => {
    // Prepare
    const corrupt = `j${'1'.repeat(32)}`;
    const foreign = `j${'2'.repeat(32)}`;
    const status = client('ossferry-status');
    await status.put(`jobs/${corrupt}.json`, Buffer.from('{"version":1,"jobId":'));
    const listed = jsonLines((await inDataDir('jobs', '--json')).stdout);
    const real = listed.find((j) => j.state === 'succeeded')!;
    const realObject = await status.get(`jobs/${String(real.jobId)}.json`);
    await status.put(`jobs/${foreign}.json`, realObject.content as Buffer);

    // Act
    const c = await inDataDir('status', corrupt);
    const f = await inDataDir('cancel', foreign);
    const jobs = await inDataDir('jobs');
    const bad = await inDataDir('jobs', '--state', 'finished');

    // Assess
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(new RegExp(`status object oss://ossferry-status/jobs/${corrupt}\\.json is not JSON`));
    expect(f.code).toBe(1);
    expect(f.stderr).toMatch(new RegExp(`status object oss://ossferry-status/jobs/${foreign}\\.json is foreign: it holds job ${String(real.jobId)}, not ${foreign}`));
    expect(await status.head(`jobs/${foreign}/cancel.json`).then(() => true, () => false)).toBe(false);
    expect(jobs.code).toBe(0);
    expect(jobs.stdout).not.toMatch(new RegExp(`${corrupt}|${foreign}`));
    expect(jobs.stderr).toMatch(new RegExp(`not listed: status object .*${corrupt}\\.json is not JSON`));
    expect(jobs.stderr).toMatch(new RegExp(`not listed: status object .*${foreign}\\.json is foreign`));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--state: "finished" is not a job state\. Fix: pass one of initiating, running, completing, succeeded, failed, interrupted, cancelled/);
  });
});
