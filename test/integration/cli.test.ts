/**
 * The `ossferry` command as a user runs it: the package.json bin, a child process per invocation
 * (test/helpers/ossferry-bin.ts), the local cloud inside it, exit codes and output checked.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateLogLike } from '../../bench/lib/loglike.ts';
import { crc64 } from '../../shared/crc64/index.ts';
import { startOssServer } from '../../local/oss/index.ts';
import { lastJson, jsonLines, runOssferry } from '../helpers/ossferry-bin.ts';
import { startSshd, type Sshd } from '../helpers/sshd.ts';

const ossferry = runOssferry;

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

  it('copy of a local file into a kept local OSS, then status reads the job from the same data dir; a re-run is the same job', async () => {
    // Prepare
    const data = randomBytes(300 * 1024 + 17);
    const file = path.join(dir, 'input.bin');
    await writeFile(file, data);
    const dataDir = path.join(dir, 'oss-data');
    // Act
    const copy = await ossferry(['copy', file, 'oss://mybucket/in/input.bin', '--part-size', '100KiB', '--data-dir', dataDir, '--json']);
    const report = lastJson(copy.stdout);
    const status = await ossferry(['status', String(report.jobId), '--data-dir', dataDir, '--json']);
    // The file is served on a new port by each run: the job id comes from the file (named by path or by its
    // file:// URL alike), so the re-run finds the job done.
    const again = await ossferry(['copy', pathToFileURL(file).href, 'oss://mybucket/in/input.bin', '--part-size', '100KiB', '--data-dir', dataDir, '--json']);
    // Assess
    expect(again.code).toBe(0);
    expect(lastJson(again.stdout)).toMatchObject({ jobId: report.jobId, alreadyDone: true, crc64: crc64(data).toString() });
    expect(copy.code).toBe(0);
    expect(report.crc64).toBe(crc64(data).toString());
    expect(report.parts).toBe(4);
    expect(status.code).toBe(0);
    const p = lastJson(status.stdout);
    expect(p).toMatchObject({ jobId: report.jobId, state: 'succeeded', bytes: data.length, parts: 4, partCount: 4 });
  });

  it('copy with object attribute flags into a destination ending in "/": the object takes the file name, storage class, encryption and tags', async () => {
    // Prepare
    const data = randomBytes(150 * 1024);
    const file = path.join(dir, 'report.csv');
    await writeFile(file, data);
    const dataDir = path.join(dir, 'oss-attrs');
    // Act
    const r = await ossferry(['copy', file, 'oss://mybucket/imports/', '--storage-class', 'IA', '--sse', 'AES256', '--tag', 'project=alpha', '--tag', 'team=ops', '--acl', 'private', '--no-preserve', '--unpinned', 'trust', '--data-dir', dataDir, '--json']);
    // Assess
    expect(r.code).toBe(0);
    const report = lastJson(r.stdout);
    expect(report.destination).toBe('oss://mybucket/imports/report.csv');
    expect(report.unpinned).toBeUndefined();
    const stored = await storedObject(dataDir, 'mybucket', 'imports/report.csv');
    expect(stored.body.equals(data)).toBe(true);
    expect(stored.headers).toMatchObject({ 'content-type': 'text/csv', 'x-oss-storage-class': 'IA', 'x-oss-server-side-encryption': 'AES256', 'x-oss-tagging-count': '2' });
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
    { args: ['copy', 'file://elsewhere/x', 'oss://bucket/k'], message: /source: names host elsewhere; file:\/\/ sources are local\. Fix: write file:\/\/\/absolute\/path/ },
    { args: ['copy', './local.bin', 'oss://bucket/k', '--sftp-host-key', `SHA256:${'A'.repeat(43)}`], message: /--sftp-host-key: only applies to sftp:\/\/ sources/ },
    { args: ['copy', 'http://127.0.0.1/x', 'oss://bucket/k', '--gzip', '--gzip-level', '7'], message: /--gzip-level: "7" is not a whole number between 0 and 3/ },
    { args: ['copy', 'http://127.0.0.1/x', 'oss://bucket/k', '--gzip-level', '2'], message: /--gzip-level: only applies with --gzip\. Fix: add --gzip/ },
    { args: ['copy', 'sftp://u@127.0.0.1:22/x', 'oss://bucket/k', '--sftp-key-file', '/etc/hostname', '--sftp-host-key', 'MD5:00:11'], message: /--sftp-host-key: "MD5:00:11" is not a SHA256 host key fingerprint\. Fix: pass SHA256:/ },
    { args: ['copy', 'sftp://u@127.0.0.1:22/x', 'oss://bucket/k', '--sftp-host-key', `SHA256:${'A'.repeat(43)}`], message: /--sftp-key-file: is required for sftp:\/\/ sources/ },
    { args: ['copy', 'sftp://u@127.0.0.1:22/x', 'oss://bucket/k', '--sftp-key-file', '/etc/hostname'], message: /--sftp-host-key: is required for sftp:\/\/ sources/ },
    { args: ['copy', 'sftp://u@127.0.0.1:22/x', 'oss://bucket/k', '--sftp-key-file', '/no/such/key', '--sftp-host-key', `SHA256:${'A'.repeat(43)}`], message: /--sftp-key-file: cannot read "\/no\/such\/key" \(ENOENT\)/ },
    { args: ['copy', 'sftp://u@127.0.0.1:22/x', 'oss://bucket/k', '--sftp-key-file', '/etc/hostname', '--sftp-host-key', `SHA256:${'A'.repeat(43)}`], message: /--sftp-key-file: "\/etc\/hostname" is not a PEM\/OpenSSH private key/ },
    { args: ['copy', 'http://127.0.0.1/x', 'oss://bucket/k', '--sftp-host-key', `SHA256:${'A'.repeat(43)}`], message: /--sftp-host-key: only applies to sftp:\/\/ sources/ },
    { args: ['start', '--archive-size', 'lots'], message: /--archive-size: "lots" is not a size/ },
    { args: ['copy', 'http://127.0.0.1/x', 'oss://bucket/k', '--unpinned', 'maybe'], message: /--unpinned: "maybe" is not a policy\. Fix: pass refuse, reread or trust/ },
    { args: ['copy', 'http://127.0.0.1/x', 'oss://bucket/k', '--storage-class', 'Glacier'], message: /--storage-class: "Glacier" is not one of Standard, IA/ },
    { args: ['copy', 'http://127.0.0.1/x', 'oss://bucket/k', '--tag', 'noequals'], message: /--tag: "noequals" is not key=value/ },
    { args: ['copy', 'http://127.0.0.1/x', 'oss://bucket/k', '--sse-kms-key-id', 'k1'], message: /object\.kmsKeyId: only applies with serverSideEncryption KMS\. Fix: add --sse KMS/ },
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
    expect(r.stdout).toMatch(/verify \[options\] <target>/);
  });
});

describe('ossferry verify', () => {
  const bucket = 'verify-bucket';
  let dir: string;
  let oss: Awaited<ReturnType<typeof startOssServer>>;
  let env: NodeJS.ProcessEnv;
  const plain = randomBytes(3 * 1024 * 1024 + 17);
  const logs = [generateLogLike(700_000, 1), generateLogLike(300_001, 2)];
  const logsAll = Buffer.concat(logs);
  /** Two independent gzip members, as ossferry archives are. */
  const gz = Buffer.concat(logs.map((l) => gzipSync(l)));
  const archiveMeta = (crc: bigint) => ({ 'ossferry-format': 'gzip-members', 'uncompressed-size': String(logsAll.length), 'uncompressed-crc64': crc.toString(10) });
  const file = (name: string) => path.join(dir, name);
  const verify = (target: string, ...more: string[]) => ossferry(['verify', `oss://${bucket}/${target}`, '--oss-endpoint', oss.endpoint, ...more], env);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ossferry-verify-test-'));
    oss = await startOssServer({ dataDir: file('oss'), buckets: [bucket] });
    env = { ALIBABA_CLOUD_ACCESS_KEY_ID: oss.accessKeyId, ALIBABA_CLOUD_ACCESS_KEY_SECRET: oss.accessKeySecret };
    const client = new OSS({ ...oss.clientOptions(bucket), retryMax: 0 } as OSS.Options);
    const corrupt = Buffer.from(gz);
    corrupt[Math.floor(corrupt.length / 3)]! ^= 0x55;
    await client.put('plain.bin', plain);
    await client.put('logs.gz', gz, { meta: archiveMeta(crc64(logsAll)) } as unknown as OSS.PutObjectOptions);
    await client.put('logs-wrong-meta.gz', gz, { meta: archiveMeta(crc64(logsAll) ^ 1n) } as unknown as OSS.PutObjectOptions);
    await client.put('logs-corrupt.gz', corrupt, { meta: archiveMeta(crc64(logsAll)) } as unknown as OSS.PutObjectOptions);
    const flipped = Buffer.from(plain);
    flipped[12345]! ^= 1;
    await writeFile(file('plain.bin'), plain);
    await writeFile(file('plain-flipped.bin'), flipped);
    await writeFile(file('logs.txt'), logsAll);
  });
  afterAll(async () => {
    await oss?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reads a copy back and proves its bytes against OSS CRC-64 and size (exit 0)', async () => {
    // Act
    const r = await verify('plain.bin');
    // Assess
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ok {4}bytes read CRC-64 vs x-oss-hash-crc64ecma +\d+/);
    expect(r.stdout).toMatch(/\n {2}verified\n/);
  });

  it('proves a copy against the local file without downloading it, and fails on a one-bit difference (exit 1)', async () => {
    // Act
    const same = await verify('plain.bin', '--against', file('plain.bin'), '--json');
    const flipped = await verify('plain.bin', '--against', file('plain-flipped.bin'));
    // Assess
    expect(same.code).toBe(0);
    expect(lastJson(same.stdout)).toMatchObject({ verified: true, archive: false });
    expect(flipped.code).toBe(1);
    expect(flipped.stdout).toMatch(/FAIL {2}local file CRC-64 vs x-oss-hash-crc64ecma +expected \d+, got \d+/);
    expect(flipped.stdout).toMatch(/VERIFICATION FAILED/);
  });

  it('decodes an archive (every gzip member) and proves it against the recorded uncompressed size and CRC-64', async () => {
    // Act
    const read = await verify('logs.gz', '--json');
    const against = await verify('logs.gz', '--against', file('logs.txt'));
    // Assess
    expect(read.code).toBe(0);
    const v = lastJson(read.stdout) as { archive: boolean; checks: Array<{ what: string; actual: string; ok: boolean }> };
    expect(v.archive).toBe(true);
    expect(v.checks.find((c) => c.what === 'decoded content CRC-64 vs x-oss-meta-uncompressed-crc64')).toMatchObject({ ok: true, actual: crc64(logsAll).toString(10) });
    expect(v.checks.find((c) => c.what === 'decoded content size vs x-oss-meta-uncompressed-size')).toMatchObject({ ok: true, actual: String(logsAll.length) });
    expect(against.code).toBe(0);
    expect(against.stdout).toMatch(/ok {4}local file CRC-64 vs x-oss-meta-uncompressed-crc64/);
  });

  it('fails an archive whose recorded CRC-64 is wrong, and one whose gzip does not decode (exit 1)', async () => {
    // Act
    const wrongMeta = await verify('logs-wrong-meta.gz');
    const corrupt = await verify('logs-corrupt.gz');
    // Assess
    expect(wrongMeta.code).toBe(1);
    expect(wrongMeta.stdout).toMatch(/FAIL {2}decoded content CRC-64 vs x-oss-meta-uncompressed-crc64/);
    expect(corrupt.code).toBe(1);
    expect(corrupt.stdout).toMatch(/FAIL {2}gzip decode/);
    expect(corrupt.stdout).toMatch(/ok {4}bytes read CRC-64 vs x-oss-hash-crc64ecma/);
  });

  it('refuses a missing object, a non-oss target and an unreadable --against file, naming each (exit 2)', async () => {
    // Act
    const missing = await verify('nope.bin');
    const s3 = await ossferry(['verify', 's3://b/k', '--oss-endpoint', oss.endpoint], env);
    const noFile = await verify('plain.bin', '--against', file('no-such-file'));
    // Assess
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/target: oss:\/\/verify-bucket\/nope\.bin does not exist/);
    expect(s3.code).toBe(2);
    expect(s3.stderr).toMatch(/target: "s3:\/\/b\/k" must start with oss:\/\/\. Fix: use oss:\/\/bucket\/key/);
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toMatch(/--against: cannot read ".*no-such-file" \(ENOENT\)/);
  });

  it('reads a local cloud data directory with --data-dir', async () => {
    // Prepare: the data directory is the CLI's alone once this process's server has stopped.
    await oss.close();
    // Act
    const r = await ossferry(['verify', `oss://${bucket}/logs.gz`, '--data-dir', file('oss'), '--against', file('logs.txt')]);
    // Assess
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ossferry archive: gzip members/);
  });
});
