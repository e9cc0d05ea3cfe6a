/**
 * The README's commands, run through the `ossferry` bin as a user runs them (test/helpers/ossferry-bin.ts):
 * long-running ones are stopped by signal and must close cleanly (exit 0). A coverage check keeps the README
 * honest: every `ossferry <command>` it shows, and every flag it shows with one, is passed to the bin by a test.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc64 } from '../../shared/crc64/index.ts';
import { localOssClientOptions, type LocalOssAddress } from '../../local/oss/client-options.ts';
import { REPO, jsonLines, runOssferry, startOssferry } from '../helpers/ossferry-bin.ts';

/** A client for the server a `local oss` ready line describes. */
function clientFor(ready: Record<string, unknown>, bucket: string): OSS {
  return new OSS({ ...localOssClientOptions(ready as unknown as LocalOssAddress, bucket), retryMax: 0 } as OSS.Options);
}

describe('README commands through the ossferry bin', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ossferry-readme-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`local oss --port … --data-dir ./oss-data stays up until ${signal}, closes with exit 0 and keeps the data`, async () => {
      // Prepare
      const cwd = await mkdtemp(path.join(dir, 'local-oss-'));
      const body = randomBytes(64 * 1024 + 3);
      // Act
      const first = await startOssferry(['local', 'oss', '--port', '0', '--data-dir', './oss-data', '--bucket', 'readme'], {}, cwd);
      await clientFor(first.ready, 'readme').put('kept.bin', body);
      // Still serving after the action returned: a second request on a new connection.
      const head = await clientFor(first.ready, 'readme').head('kept.bin');
      const stopped = await first.stop(signal);
      const second = await startOssferry(['local', 'oss', '--port', '0', '--data-dir', './oss-data'], {}, cwd);
      const again = await clientFor(second.ready, 'readme').get('kept.bin');
      const stoppedAgain = await second.stop(signal);
      // Assess
      expect(first.ready).toMatchObject({ event: 'ready', dataDir: './oss-data' });
      expect(first.ready.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((head.res.headers as Record<string, string>)['x-oss-hash-crc64ecma']).toBe(crc64(body).toString());
      expect(stopped).toMatchObject({ code: 0, signal: null });
      expect((again.content as Buffer).equals(body)).toBe(true);
      expect(stoppedAgain).toMatchObject({ code: 0, signal: null });
    });
  }

  it('local oss with a bad --port refuses with exit 2 naming the flag', async () => {
    // Act
    const r = await runOssferry(['local', 'oss', '--port', '70000']);
    // Assess
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--port: "70000" is not a port\. Fix: pass 0\.\.65535/);
  });

  it('start --archive-size 0 copies the sample and skips the archive jobs', async () => {
    // Act
    const r = await runOssferry(['start', '--size', '1MiB', '--part-size', '256KiB', '--archive-size', '0', '--json']);
    // Assess
    expect(r.code).toBe(0);
    const reports = jsonLines(r.stdout);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ kind: 'copy', size: 1024 * 1024, parts: 4 });
  });

  it('start --no-sftp runs the HTTP archive job only', async () => {
    // Act
    const r = await runOssferry(['start', '--size', '1MiB', '--archive-size', '1MiB', '--no-sftp', '--json']);
    // Assess
    expect(r.code).toBe(0);
    const reports = jsonLines(r.stdout);
    expect(reports.map((x) => x.kind)).toEqual(['copy', 'archive']);
    expect(reports[1]!.source).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/app\.log$/);
    expect(r.stderr).toMatch(/--no-sftp: skipping the SFTP archive job/);
  });

  it('verify --oss-region without credentials refuses with exit 2 naming the variables to export (nothing contacted)', async () => {
    // Act
    const r = await runOssferry(['verify', 'oss://bucket/key', '--oss-region', 'cn-hangzhou'], { ALIBABA_CLOUD_ACCESS_KEY_ID: '', ALIBABA_CLOUD_ACCESS_KEY_SECRET: '' });
    // Assess
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ALIBABA_CLOUD_ACCESS_KEY_ID: is not set; .*Fix: export ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET/);
  });

  it('local --help lists oss, cloud and event; local event --help lists put (exit 0)', async () => {
    // Act
    const local = await runOssferry(['local', '--help']);
    const event = await runOssferry(['local', 'event', '--help']);
    // Assess
    expect(local.code).toBe(0);
    expect(local.stdout).toMatch(/^ {2}oss \[options\] /m);
    expect(local.stdout).toMatch(/^ {2}cloud \[options\] /m);
    expect(local.stdout).toMatch(/^ {2}event /m);
    expect(event.code).toBe(0);
    expect(event.stdout).toMatch(/^ {2}put \[options\] <target> /m);
  });

  it('every `ossferry …` command and flag the README shows is passed to the bin by a test', () => {
    // Prepare
    const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
    const testDir = path.join(REPO, 'test/integration');
    const sources = readdirSync(testDir, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.test.ts'))
      .map((f) => readFileSync(path.join(testDir, f), 'utf8'))
      .join('\n');
    // Act
    const shown = [...readme.matchAll(/`ossferry ([^`]+)`/g)].map((m) => m[1]!.replace(/\s+/g, ' ').trim());
    const missing: string[] = [];
    for (const cmd of shown) {
      const words = cmd.split(' ');
      // `local X` and `local event put` are sub-commands: their words are separate argv entries.
      const argv = words[0] === 'local' ? words.slice(0, words[1] === 'event' ? 3 : 2) : words.slice(0, 1);
      const literal = `[${argv.map((w) => `'${w}'`).join(', ')}`;
      if (!sources.includes(literal)) missing.push(`${cmd}: no test passes ${literal}…] to the bin`);
      for (const flag of cmd.match(/--[a-z0-9-]+/g) ?? []) {
        if (!sources.includes(`'${flag}'`)) missing.push(`${cmd}: no test passes '${flag}'`);
      }
    }
    // Assess
    expect(shown.length).toBeGreaterThan(4);
    expect(missing).toEqual([]);
  });
});
