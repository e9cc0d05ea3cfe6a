/**
 * `ossferry plan` through the bin, on the local cloud: an HTTP source (local HTTP source server), an OSS source
 * (a local OSS data directory) and an SFTP source (real OpenSSH sshd), each stat'ed through the coordinator's
 * source code and predicted with the planner's own parts and tasks; bad input uploads nothing.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc64 } from '../../shared/crc64/index.ts';
import { planJob, resolveWorkers } from '../../shared/plan.ts';
import { startHttpSourceServer, type HttpSourceServer } from '../../local/http-source/index.ts';
import { startOssServer } from '../../local/oss/index.ts';
import { jsonLines, runOssferry as ossferry } from '../helpers/ossferry-bin.ts';
import { startSshd, type Sshd } from '../helpers/sshd.ts';

type Plan = Record<string, any>;
const planOf = (stdout: string): Plan => jsonLines(stdout).pop()!;

/** Objects and open multipart uploads of `bucket` in a local OSS data directory. */
async function bucketContents(dataDir: string, bucket: string): Promise<{ objects: string[]; uploads: string[] }> {
  const oss = await startOssServer({ dataDir });
  try {
    const client = new OSS({ ...oss.clientOptions(bucket), retryMax: 0 } as OSS.Options);
    const listed = await client.list({ 'max-keys': 1000 }, {});
    const uploads = (await client.listUploads({ 'max-uploads': 1000 }, {})) as unknown as { uploads?: Array<{ name: string }> };
    return { objects: (listed.objects ?? []).map((o) => o.name), uploads: (uploads.uploads ?? []).map((u) => u.name) };
  } finally {
    await oss.close();
  }
}

describe('ossferry plan', () => {
  let dir: string;
  let http: HttpSourceServer;
  const data = randomBytes(3 * 1024 * 1024 + 4321);
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ossferry-plan-test-'));
    http = await startHttpSourceServer({ files: { '/in/data.bin': data } });
  });
  afterAll(async () => {
    await http?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('plans an HTTP source: stat and probe reads pinned to its ETag, the planner\'s parts and tasks, time, cost and assumptions', async () => {
    // Prepare
    const before = http.requests.length;
    // Act
    const r = await ossferry(['plan', http.url('/in/data.bin'), 'oss://mybucket/data.bin', '--part-size', '1MiB', '--workers', '2', '--streams', '2', '--probe', '--probe-reads', '2', '--probe-size', '256KiB', '--json']);
    // Assess
    expect(r.code).toBe(0);
    const plan = planOf(r.stdout);
    const expected = planJob(data.length, { partSize: 1024 * 1024, maxWorkers: 2, streamsPerWorker: 2 });
    expect(plan).toMatchObject({ kind: 'plan', destination: 'oss://mybucket/data.bin', size: data.length, partSize: expected.partSize, parts: expected.parts.length, tasks: expected.tasks.length, workers: expected.tasks.length, streamsPerWorker: 2, uploaded: false });
    expect(plan.source).toMatchObject({ kind: 'http', size: data.length, etag: http.etagOf('/in/data.bin') });
    expect(plan.probe).toMatchObject({ reads: 2, bytes: 2 * 256 * 1024 });
    expect(plan.predicted.seconds).toBeGreaterThanOrEqual(plan.predicted.floorSeconds);
    expect(plan.cost.invocations).toBe(expected.tasks.length + 1);
    expect(plan.cost.ossPutRequests).toBeGreaterThanOrEqual(expected.parts.length + 2);
    const names = (plan.assumptions as Array<{ name: string; basis: string }>).map((a) => a.name);
    expect(names).toEqual(expect.arrayContaining(['region', 'instanceQuota', 'burstInstances', 'accountGbps', 'instanceGbps', 'connectionBytesPerSecond', 'startupSeconds', 'connectionRampSeconds', 'httpEgressUsdPerGB']));
    expect(plan.assumptions.find((a: { name: string }) => a.name === 'connectionBytesPerSecond').basis).toMatch(/^measured: 2 ranged read/);
    // The probe reads were ranged and pinned to the stat'ed identity, like a worker's.
    const reads = http.requests.slice(before).filter((q) => q.range !== undefined);
    expect(reads).toHaveLength(2);
    for (const q of reads) expect(q.ifMatch).toBe(http.etagOf('/in/data.bin'));
  });

  it('plans the engine\'s default fan-out (workers auto) and takes --connection-ramp and --startup-seconds', async () => {
    // Act
    const r = await ossferry(['plan', http.url('/in/data.bin'), 'oss://mybucket/data.bin', '--connection-ramp', '0', '--startup-seconds', '0.5', '--json']);
    // Assess
    expect(r.code).toBe(0);
    const plan = planOf(r.stdout);
    const expected = planJob(data.length, { maxWorkers: resolveWorkers('auto', data.length) });
    expect(plan).toMatchObject({ parts: expected.parts.length, tasks: expected.tasks.length, workers: expected.tasks.length });
    expect(plan.predicted.startupSeconds).toBe(0.5);
    const ramp = (plan.assumptions as Array<{ name: string; value: string; basis: string }>).find((a) => a.name === 'connectionRampSeconds');
    expect(ramp).toMatchObject({ value: '0 s', basis: 'set by --connection-ramp' });
  });

  it('prints a readable plan with the assumptions and says nothing was uploaded', async () => {
    // Act
    const r = await ossferry(['plan', http.url('/in/data.bin'), 'oss://mybucket/data.bin', '--region', 'cn-qingdao']);
    // Assess
    expect(r.code).toBe(0);
    for (const label of ['parts', 'tasks', 'workers', 'streams', 'time', 'floor', 'compute', 'requests', 'egress', 'total', 'assumptions:']) expect(r.stdout).toMatch(new RegExp(`^\\s+${label}\\s`, 'm'));
    expect(r.stdout).toMatch(/accountGbps\s+10 Gbit\/s — OSS upload bandwidth per account in cn-qingdao/);
    expect(r.stdout).toMatch(/burstInstances\s+100 at once, then 100\/min/);
    expect(r.stdout).toMatch(/nothing was uploaded/);
  });

  it('README: plan ./big.log oss://bucket/big.log --probe serves a local file through a local HTTP source', async () => {
    // Prepare
    await writeFile(path.join(dir, 'big.log'), data);
    // Act
    const r = await ossferry(['plan', './big.log', 'oss://bucket/big.log', '--probe'], {}, dir);
    // Assess
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`source\\s+http://127\\.0\\.0\\.1:\\d+/big\\.log \\(http\\), ${data.length} bytes`));
    expect(r.stdout).toMatch(/probe\s+3 ranged read\(s\)/);
    expect(r.stdout).toMatch(/connectionBytesPerSecond\s+.* — measured: 3 ranged read\(s\)/);
  });

  it("README: a deployment's settings (--region cn-shanghai --workers 32 --worker-vcpu 4 --worker-memory-mb 8192 --json)", async () => {
    // Act
    const r = await ossferry(['plan', http.url('/in/data.bin'), 'oss://bucket/big.iso', '--region', 'cn-shanghai', '--workers', '32', '--worker-vcpu', '4', '--worker-memory-mb', '8192', '--json']);
    // Assess
    expect(r.code).toBe(0);
    const plan = planOf(r.stdout);
    const byName = Object.fromEntries((plan.assumptions as Array<{ name: string; value: string; basis: string }>).map((a) => [a.name, a]));
    expect(byName.region).toMatchObject({ value: 'cn-shanghai', basis: 'set by --region' });
    expect(byName.workerVcpu!.value).toBe('4 vCPU, 8 GB');
    expect(byName.instanceGbps!.value).toBe('1.5 Gbit/s');
    expect(byName.accountGbps!.value).toBe('20 Gbit/s');
    expect(byName.burstInstances!.value).toBe('300 at once, then 300/min');
  });

  it('plans an OSS source from a local cloud data directory: size and CRC-64 from OSS, no egress in the same region', async () => {
    // Prepare
    const dataDir = path.join(dir, 'oss-src');
    const oss = await startOssServer({ dataDir, buckets: ['src', 'dst'] });
    await new OSS({ ...oss.clientOptions('src'), retryMax: 0 } as OSS.Options).put('big/object.bin', data);
    await oss.close();
    // Act
    const r = await ossferry(['plan', 'oss://src/big/object.bin', 'oss://dst/object.bin', '--data-dir', dataDir, '--json']);
    // Assess
    expect(r.code).toBe(0);
    const plan = planOf(r.stdout);
    expect(plan.source).toMatchObject({ kind: 'oss', size: data.length, crc64: crc64(data).toString() });
    expect(plan.parts).toBe(planJob(data.length).parts.length);
    expect(plan.cost.egressUsd).toBe(0);
    expect(plan.cost.ossGetRequests).toBe(plan.parts + 2);
    expect(await bucketContents(dataDir, 'dst')).toEqual({ objects: [], uploads: [] });
  });

  it('an OSS source in another region is billed public egress', async () => {
    // Prepare
    const dataDir = path.join(dir, 'oss-src');
    // Act
    const r = await ossferry(['plan', 'oss://src/big/object.bin', 'oss://dst/object.bin', '--data-dir', dataDir, '--source-region', 'cn-beijing', '--json']);
    // Assess
    expect(r.code).toBe(0);
    const plan = planOf(r.stdout);
    expect(plan.cost.egressUsd).toBeGreaterThan(0);
    expect(plan.cost.egressBilledBy).toMatch(/cn-beijing/);
  });

  describe('sftp:// sources', () => {
    let sshd: Sshd;
    let keyFile: string;
    beforeAll(async () => {
      sshd = await startSshd({ files: { 'in/data.bin': data } });
      keyFile = path.join(dir, 'id_ed25519');
      await writeFile(keyFile, sshd.privateKey, { mode: 0o600 });
    }, 60_000);
    afterAll(async () => {
      await sshd?.close();
    });

    it('plans an SFTP source through a real sshd with the host key pinned, probing it', async () => {
      // Act
      const r = await ossferry(['plan', sshd.urlFor('in/data.bin'), 'oss://mybucket/data.bin', '--sftp-key-file', keyFile, '--sftp-host-key', sshd.hostKeyFingerprint, '--probe', '--json']);
      // Assess
      expect(r.code).toBe(0);
      const plan = planOf(r.stdout);
      expect(plan.source).toMatchObject({ kind: 'sftp', size: data.length });
      expect(plan.probe).toMatchObject({ reads: 3, bytes: 3 * Math.floor(data.length / 3) });
      expect(plan.cost.egressUsd).toBe(0);
      expect(r.stdout + r.stderr).not.toContain('PRIVATE KEY');
    });

    it('a wrong --sftp-host-key fails naming the mismatch, before authentication', async () => {
      // Act
      const r = await ossferry(['plan', sshd.urlFor('in/data.bin'), 'oss://mybucket/data.bin', '--sftp-key-file', keyFile, '--sftp-host-key', 'SHA256:' + 'C'.repeat(43)]);
      // Assess
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/cannot plan: sftp source failed \(HostKeyMismatch\): .*presented host key SHA256:.* is pinned; refusing before authentication\. Nothing was uploaded\./);
      expect(r.stdout).toBe('');
    });
  });

  describe('bad input uploads nothing', () => {
    let dataDir: string;
    beforeAll(async () => {
      dataDir = path.join(dir, 'oss-dst');
      const oss = await startOssServer({ dataDir, buckets: ['dst'] });
      await oss.close();
    });

    it('an unreachable source says why (connection refused), exit 1', async () => {
      // Prepare: a port nothing listens on (a server opened and closed).
      const gone = await startHttpSourceServer({});
      const url = gone.url('/x.bin');
      await gone.close();
      // Act
      const r = await ossferry(['plan', url, 'oss://dst/x.bin', '--data-dir', dataDir]);
      // Assess
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/cannot plan: http source failed \(SourceUnavailable\): .*ECONNREFUSED.*Nothing was uploaded\./);
      expect(r.stdout).toBe('');
      expect(await bucketContents(dataDir, 'dst')).toEqual({ objects: [], uploads: [] });
    });

    it.each([
      ['the metadata service', 'http://100.100.100.200/latest/meta-data', /metadata/],
      ['a private address', 'http://10.0.0.1/x.bin', /private/],
    ])('a refused source (%s) says why before any connection, exit 2', async (_what, url, reason) => {
      // Act
      const r = await ossferry(['plan', url, 'oss://dst/x.bin', '--data-dir', dataDir]);
      // Assess
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/cannot plan: http source failed \(InvalidInput\): source: host .*Nothing was uploaded\./);
      expect(r.stderr).toMatch(reason);
      expect(r.stderr).toMatch(/OSSFERRY_ALLOWED_SOURCE_HOSTS|never a valid source/);
      expect(await bucketContents(dataDir, 'dst')).toEqual({ objects: [], uploads: [] });
    });

    it('an oss:// source on the local cloud needs --data-dir, and says so before reading anything', async () => {
      // Act
      const r = await ossferry(['plan', 'oss://src/big/object.bin', 'oss://dst/x.bin']);
      // Assess
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--data-dir: is required for oss:\/\/ sources on the local cloud\. Fix: /);
    });

    it('a deployment (--oss-region) refuses a loopback source the local cloud would allow', async () => {
      // Act
      const r = await ossferry(['plan', http.url('/in/data.bin'), 'oss://dst/x.bin', '--oss-region', 'cn-hangzhou'], { OSSFERRY_ALLOWED_SOURCE_HOSTS: '' });
      // Assess
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/http source failed \(InvalidInput\): source: host 127\.0\.0\.1 resolves to 127\.0\.0\.1 \(loopback\)/);
    });

    it.each([
      [['--worker-vcpu', '32'], /--worker-vcpu: \(workerVcpu\) must be between 0\.05 and 16, got 32\. Fix: /],
      [['--instance-quota', '1'], /--instance-quota: \(instanceQuota\) must be a whole number between 2 and 100000, got 1\. Fix: /],
      [['--connection-rate', '0'], /--connection-rate: \(connectionBytesPerSecond\) must be between 1000 and 12500000000, got 0\. Fix: .*--probe/],
      [['--workers', '301'], /--workers: \(workers\) must be a whole number between 1 and 300, got 301/],
      [['--connection-ramp', '601'], /--connection-ramp: \(connectionRampSeconds\) must be between 0 and 600, got 601\. Fix: pass the seconds a new connection takes/],
      [['--account-gbps', 'fast'], /--account-gbps: "fast" is not a number/],
      [['--region', 'Mars!'], /--region: \(region\) "Mars!" is not a region id/],
      [['--probe-reads', '3'], /--probe-reads: only applies with --probe/],
      [['--source-region', 'cn-beijing'], /--source-region: only applies to oss:\/\/ sources/],
    ])('model parameter out of range %j is refused naming it, before the source is contacted', async (flags, message) => {
      // Prepare
      const before = http.requests.length;
      // Act
      const r = await ossferry(['plan', http.url('/in/data.bin'), 'oss://dst/x.bin', ...flags]);
      // Assess
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(http.requests.length).toBe(before);
    });
  });
});
