/**
 * The `ossferry` command as a user runs it: a child process per invocation (Node 24 type stripping), the
 * local cloud inside it, exit codes and output checked.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateLogLike } from '../../bench/lib/loglike.ts';
import { crc64 } from '../../shared/crc64/index.ts';
import { startOssServer } from '../../local/oss/index.ts';
import { startSshd, type Sshd } from '../helpers/sshd.ts';

const REPO = new URL('../../', import.meta.url).pathname;

function ossferry(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['cli/ossferry.ts', ...args], { cwd: REPO, env: { ...process.env, OSSFERRY_VERBOSE: '0', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const jsonLines = (s: string) => s.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
const lastJson = (s: string) => jsonLines(s).pop()!;

/** The object `key` of `bucket` in a kept local OSS data directory. */
async function storedObject(dataDir: string, bucket: string, key: string): Promise<{ body: Buffer; headers: Record<string, string> }> {
  const oss = await startOssServer({ dataDir });
  try {
    const r = await new OSS({ ...oss.clientOptions(bucket), retryMax: 0 } as OSS.Options).get(key);
    return { body: r.content as Buffer, headers: r.res.headers as Record<string, string> };
  } finally {
    await oss.close();
  }
}

describe('ossferry CLI', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ossferry-cli-test-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('start boots the local cloud, copies a sample, archives log-like data over HTTP and SFTP, verifies and exits 0', async () => {
    // Act
    const r = await ossferry(['start', '--size', '3MiB', '--part-size', '1MiB', '--archive-size', '2MiB', '--json']);
    // Assess
    expect(r.code).toBe(0);
    const [copy, httpArchive, sftpArchive, ...rest] = jsonLines(r.stdout);
    expect(rest).toEqual([]);
    expect(copy).toMatchObject({ kind: 'copy', size: 3 * 1024 * 1024, parts: 3 });
    expect(copy!.verified).toMatchObject({ combinedCrc64: copy!.crc64, ossCrc64: copy!.crc64, expectedCrc64: copy!.crc64 });
    // The archive input is bench/lib/loglike.ts's chunk 0 (seed 1000): the CLI's CRC is checked against ours.
    const input = generateLogLike(2 * 1024 * 1024, 1000);
    for (const a of [httpArchive!, sftpArchive!]) {
      expect(a).toMatchObject({ kind: 'archive', size: input.length, uncompressedCrc64: crc64(input).toString() });
      expect(a.ratio as number).toBeGreaterThan(3);
    }
    expect(httpArchive!.source).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/app\.log$/);
    expect(sftpArchive!.source).toMatch(/^sftp:\/\/[^@]+@127\.0\.0\.1:\d+\/.*app\.log$/);
    expect(r.stderr).toMatch(/starting an OpenSSH sshd on 127\.0\.0\.1/);
  });

  it('copy --gzip archives a local file: the stored object decodes to it and carries its CRC-64', async () => {
    // Prepare
    const data = generateLogLike(1024 * 1024 + 333, 5);
    const file = path.join(dir, 'app.log');
    await writeFile(file, data);
    const dataDir = path.join(dir, 'oss-gzip');
    // Act
    const r = await ossferry(['copy', file, 'oss://mybucket/app.log.gz', '--gzip', '--gzip-level', '3', '--data-dir', dataDir, '--json']);
    // Assess
    expect(r.code).toBe(0);
    const report = lastJson(r.stdout);
    expect(report).toMatchObject({ kind: 'archive', size: data.length, gzipLevel: 3, uncompressedCrc64: crc64(data).toString() });
    const stored = await storedObject(dataDir, 'mybucket', 'app.log.gz');
    expect(gunzipSync(stored.body).equals(data)).toBe(true);
    expect(stored.headers['x-oss-meta-uncompressed-crc64']).toBe(crc64(data).toString());
    expect(report.compressedSize).toBe(stored.body.length);
  });

  describe('sftp:// sources', () => {
    let sshd: Sshd;
    let keyFile: string;
    const data = generateLogLike(600 * 1024, 6);
    beforeAll(async () => {
      sshd = await startSshd({ files: { 'in/app.log': data } });
      keyFile = path.join(dir, 'id_ed25519');
      await writeFile(keyFile, sshd.privateKey, { mode: 0o600 });
    }, 60_000);
    afterAll(async () => {
      await sshd?.close();
    });

    it('copy sftp://… --gzip with --sftp-key-file and --sftp-host-key archives through a real sshd', async () => {
      // Prepare
      const dataDir = path.join(dir, 'oss-sftp');
      // Act
      const r = await ossferry(['copy', sshd.urlFor('in/app.log'), 'oss://mybucket/sftp/app.log.gz', '--gzip', '--sftp-key-file', keyFile, '--sftp-host-key', sshd.hostKeyFingerprint, '--data-dir', dataDir, '--json']);
      // Assess
      expect(r.code).toBe(0);
      expect(lastJson(r.stdout)).toMatchObject({ kind: 'archive', size: data.length, uncompressedCrc64: crc64(data).toString() });
      const stored = await storedObject(dataDir, 'mybucket', 'sftp/app.log.gz');
      expect(gunzipSync(stored.body).equals(data)).toBe(true);
      expect(r.stdout + r.stderr).not.toContain('PRIVATE KEY');
    });

    it('a wrong --sftp-host-key fails the job (exit 1) naming the host key mismatch', async () => {
      // Act
      const r = await ossferry(['copy', sshd.urlFor('in/app.log'), 'oss://mybucket/x.gz', '--gzip', '--sftp-key-file', keyFile, '--sftp-host-key', 'SHA256:' + 'C'.repeat(43), '--quiet']);
      // Assess
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/job failed \(HostKeyMismatch\)/);
    });
  });

  it('copy of a local file into a kept local OSS, then status reads the job from the same data dir', async () => {
    // Prepare
    const data = randomBytes(300 * 1024 + 17);
    const file = path.join(dir, 'input.bin');
    await writeFile(file, data);
    const dataDir = path.join(dir, 'oss-data');
    // Act
    const copy = await ossferry(['copy', file, 'oss://mybucket/in/input.bin', '--part-size', '100KiB', '--data-dir', dataDir, '--json']);
    const report = lastJson(copy.stdout);
    const status = await ossferry(['status', String(report.jobId), '--data-dir', dataDir, '--json']);
    // Assess
    expect(copy.code).toBe(0);
    expect(report.crc64).toBe(crc64(data).toString());
    expect(report.parts).toBe(4);
    expect(status.code).toBe(0);
    const p = lastJson(status.stdout);
    expect(p).toMatchObject({ jobId: report.jobId, state: 'succeeded', bytes: data.length, parts: 4, partCount: 4 });
  });

  const deployment = ['--fc-account-id', '123', '--fc-region', 'cn-hangzhou', '--fc-service', 'svc', '--fc-function', 'fn'];
  const noKeys = { ALIBABA_CLOUD_ACCESS_KEY_ID: '', ALIBABA_CLOUD_ACCESS_KEY_SECRET: '' };
  const bad: Array<{ args: string[]; message: RegExp; env?: NodeJS.ProcessEnv; when?: string }> = [
    { args: ['copy', 'x', 'oss://b/k', '--bogus'], message: /unknown option '--bogus'/ },
    { args: ['start', '--size', '12q'], message: /--size: "12q" is not a size\. Fix: / },
    { args: ['copy', 'http://127.0.0.1/x', 's3://b/k'], message: /destination: "s3:\/\/b\/k" must start with oss:\/\/\. Fix: use oss:\/\/bucket\/key/ },
    { args: ['copy', 'http://127.0.0.1/x', 'oss://bucket/k', '--workers', '0'], message: /--workers: "0" is not a whole number between 1 and 300/ },
    { args: ['copy', 'http://127.0.0.1/x', 'oss://bucket/k', '--fc-account-id', '123'], message: /--fc-region: is required with the other --fc-\* flags/ },
    { args: ['copy', '/no/such/file', 'oss://bucket/k'], message: /source: "\/no\/such\/file" is neither a URL nor a readable file/ },
    { args: ['status', 'nope'], message: /jobId: "nope" is not an ossferry job id/ },
    { args: ['copy', 'http://127.0.0.1/x', 'oss://bucket/k', '--gzip', '--gzip-level', '7'], message: /--gzip-level: "7" is not a whole number between 0 and 3/ },
    { args: ['copy', 'http://127.0.0.1/x', 'oss://bucket/k', '--gzip-level', '2'], message: /--gzip-level: only applies with --gzip\. Fix: add --gzip/ },
    { args: ['copy', 'sftp://u@127.0.0.1:22/x', 'oss://bucket/k', '--sftp-key-file', '/etc/hostname', '--sftp-host-key', 'MD5:00:11'], message: /--sftp-host-key: "MD5:00:11" is not a SHA256 host key fingerprint\. Fix: pass SHA256:/ },
    { args: ['copy', 'sftp://u@127.0.0.1:22/x', 'oss://bucket/k', '--sftp-host-key', `SHA256:${'A'.repeat(43)}`], message: /--sftp-key-file: is required for sftp:\/\/ sources/ },
    { args: ['copy', 'sftp://u@127.0.0.1:22/x', 'oss://bucket/k', '--sftp-key-file', '/etc/hostname'], message: /--sftp-host-key: is required for sftp:\/\/ sources/ },
    { args: ['copy', 'sftp://u@127.0.0.1:22/x', 'oss://bucket/k', '--sftp-key-file', '/no/such/key', '--sftp-host-key', `SHA256:${'A'.repeat(43)}`], message: /--sftp-key-file: cannot read "\/no\/such\/key" \(ENOENT\)/ },
    { args: ['copy', 'sftp://u@127.0.0.1:22/x', 'oss://bucket/k', '--sftp-key-file', '/etc/hostname', '--sftp-host-key', `SHA256:${'A'.repeat(43)}`], message: /--sftp-key-file: "\/etc\/hostname" is not a PEM\/OpenSSH private key/ },
    { args: ['copy', 'http://127.0.0.1/x', 'oss://bucket/k', '--sftp-host-key', `SHA256:${'A'.repeat(43)}`], message: /--sftp-host-key: only applies to sftp:\/\/ sources/ },
    { args: ['start', '--archive-size', 'lots'], message: /--archive-size: "lots" is not a size/ },
    { args: ['status', `j${'0'.repeat(32)}`], message: /--status-location: is not set/ },
    { args: ['copy', 'http://127.0.0.1/x', 'oss://bucket/k', ...deployment], env: noKeys, when: 'without credentials', message: /ALIBABA_CLOUD_ACCESS_KEY_ID: is not set; .*Fix: export ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET/ },
    { args: ['copy', 'http://127.0.0.1/x', 'oss://bucket/k', ...deployment], env: { ...noKeys, ALIBABA_CLOUD_ACCESS_KEY_ID: 'LTAIexample' }, when: 'with only the key id set', message: /ALIBABA_CLOUD_ACCESS_KEY_SECRET: is not set/ },
  ];
  for (const b of bad) {
    it(`refuses ${b.args.join(' ')}${b.when ? ` ${b.when}` : ''} with a clear message and exit code 2`, async () => {
      // Act
      const r = await ossferry(b.args, b.env);
      // Assess
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(b.message);
    });
  }

  it('--help lists the commands and exits 0', async () => {
    // Act
    const r = await ossferry(['--help']);
    // Assess
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/start \[options\]/);
    expect(r.stdout).toMatch(/copy \[options\] <source> <destination>/);
    expect(r.stdout).toMatch(/status \[options\] <jobId>/);
  });
});
