/**
 * The `ossferry` command as a user runs it: a child process per invocation (Node 24 type stripping), the
 * local cloud inside it, exit codes and output checked.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc64 } from '../../shared/crc64/index.ts';

const REPO = new URL('../../', import.meta.url).pathname;

function ossferry(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['cli/ossferry.ts', ...args], { cwd: REPO, env: { ...process.env, OSSFERRY_VERBOSE: '0' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const lastJson = (s: string) => JSON.parse(s.trim().split('\n').filter((l) => l.startsWith('{')).pop()!) as Record<string, unknown>;

describe('ossferry CLI', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ossferry-cli-test-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('start boots the local cloud, copies a sample, verifies and exits 0 with a report', async () => {
    // Act
    const r = await ossferry(['start', '--size', '3MiB', '--part-size', '1MiB', '--json']);
    // Assess
    expect(r.code).toBe(0);
    const report = lastJson(r.stdout);
    expect(report.size).toBe(3 * 1024 * 1024);
    expect(report.parts).toBe(3);
    expect(report.verified).toMatchObject({ combinedCrc64: report.crc64, ossCrc64: report.crc64, expectedCrc64: report.crc64 });
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

  const bad: Array<{ args: string[]; message: RegExp }> = [
    { args: ['copy', 'x', 'oss://b/k', '--bogus'], message: /unknown option '--bogus'/ },
    { args: ['start', '--size', '12q'], message: /--size: "12q" is not a size\. Fix: / },
    { args: ['copy', 'http://127.0.0.1/x', 's3://b/k'], message: /destination: "s3:\/\/b\/k" must start with oss:\/\/\. Fix: use oss:\/\/bucket\/key/ },
    { args: ['copy', 'http://127.0.0.1/x', 'oss://bucket/k', '--workers', '0'], message: /--workers: "0" is not a whole number between 1 and 300/ },
    { args: ['copy', 'http://127.0.0.1/x', 'oss://bucket/k', '--fc-account-id', '123'], message: /--fc-region: is required with the other --fc-\* flags/ },
    { args: ['copy', '/no/such/file', 'oss://bucket/k'], message: /source: "\/no\/such\/file" is neither a URL nor a readable file/ },
    { args: ['status', 'nope'], message: /jobId: "nope" is not an ossferry job id/ },
    { args: ['status', `j${'0'.repeat(32)}`], message: /--status-location: is not set/ },
  ];
  for (const b of bad) {
    it(`refuses ${b.args.join(' ')} with a clear message and exit code 2`, async () => {
      // Act
      const r = await ossferry(b.args);
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
