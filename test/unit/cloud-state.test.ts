/**
 * The running local cloud's state file (local/cloud-state.ts): written private and whole, read back only
 * while its writer lives; a missing, foreign or orphaned file is "no local cloud", never a stale endpoint.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudStatePath, NoLocalCloudError, readCloudState, removeCloudState, runningCloudState, writeCloudState, type CloudState } from '../../local/cloud-state.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ossferry-cloud-state-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function state(dataDir: string, pid = process.pid): CloudState {
  const keys = { accessKeyId: 'id', accessKeySecret: 'secret' };
  return {
    version: 1,
    pid,
    startedAt: new Date(0).toISOString(),
    dataDir,
    oss: { ...keys, endpoint: 'http://127.0.0.1:1', region: 'cn-hangzhou' },
    fc: { ...keys, endpoint: 'http://127.0.0.1:2', accountId: '1', region: 'cn-hangzhou', securityToken: 't', serviceName: 's', coordinatorFunction: 'c', workerFunction: 'w', coordinatorTimeoutSeconds: 60 },
    httpSource: { origin: 'http://127.0.0.1:3' },
    statusLocation: 'oss://ossferry-status/jobs',
    buckets: ['ossferry'],
    archiveRules: [],
  };
}

/** The pid of a process that has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!;
}

describe('local cloud state file', () => {
  it('round-trips for a live writer, mode 0600, and is gone after remove', async () => {
    // Prepare
    const d = path.join(dir, 'live');
    await rm(d, { recursive: true, force: true });
    await mkdir(d);
    // Act
    const file = await writeCloudState(state(d));
    const read = await readCloudState(d);
    const mode = (await stat(file)).mode & 0o777;
    await removeCloudState(d);
    // Assess
    expect(file).toBe(cloudStatePath(d));
    expect(read).toEqual(state(d));
    expect(mode).toBe(0o600);
    expect(await runningCloudState(d)).toBeUndefined();
  });

  it('a file whose writer has exited, a foreign file and no file are each "no local cloud"', async () => {
    // Prepare
    const orphan = await mkdtemp(path.join(dir, 'orphan-'));
    await writeCloudState(state(orphan, deadPid()));
    const foreign = await mkdtemp(path.join(dir, 'foreign-'));
    await writeFile(cloudStatePath(foreign), '{"version":2}');
    const none = await mkdtemp(path.join(dir, 'none-'));
    // Act
    const errors = await Promise.all([orphan, foreign, none].map((d) => readCloudState(d).then(() => undefined, (e: unknown) => e)));
    // Assess
    for (const e of errors) expect(e).toBeInstanceOf(NoLocalCloudError);
    expect((errors[0] as Error).message).toMatch(/\(pid \d+\) is no longer running/);
    expect((errors[1] as Error).message).toMatch(/is not a local cloud state file/);
    expect((errors[2] as Error).message).toMatch(/no local cloud is running on .*ENOENT/);
    expect(await runningCloudState(orphan)).toBeUndefined();
  });
});
