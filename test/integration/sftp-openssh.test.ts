/**
 * What the OpenSSH transport adds to the SFTP source's guarantees (the shared behaviour runs over both transports
 * in sftp.test.ts): the key file lives only while a session starts, the `ssh` child sees none of this process's
 * environment, close() leaves no process behind, a lost `ssh` is a lost connection, and the transport choice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';
import type { Readable } from 'node:stream';
import { startSshd, type Sshd } from '../helpers/sshd.ts';
import { sshChildPids } from '../helpers/ssh-children.ts';
import { SftpSource, type SftpSourceOptions } from '../../functions/sources/sftp.ts';
import { InvalidInputError } from '../../shared/errors.ts';

const data = randomBytes(2 * 1024 * 1024 + 7);

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The IdentityFile an ssh process was started with. */
async function identityFileOf(pid: number): Promise<string> {
  const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
  return argv.find((a) => a.startsWith('IdentityFile='))!.slice('IdentityFile='.length);
}

describe('SftpSource over the OpenSSH transport', () => {
  let sshd: Sshd;
  const make = (extra: Partial<SftpSourceOptions> = {}) =>
    new SftpSource({
      url: sshd.urlFor('f.bin'),
      privateKey: sshd.privateKey,
      hostKeyFingerprint: sshd.hostKeyFingerprint,
      allowedHosts: '127.0.0.1',
      env: {},
      transport: 'openssh',
      ...extra,
    });

  beforeAll(async () => {
    sshd = await startSshd({ files: { 'f.bin': data } });
  });
  afterAll(async () => {
    await sshd?.close();
  });

  it('removes the key file once the session is up and gives ssh none of this process environment', async () => {
    // Prepare: a secret in this process's environment, as the function's OSS credentials are
    process.env.OSSFERRY_TEST_SECRET_CANARY = 'canary-7f3a';
    const src = make();
    try {
      // Act
      const pin = await src.stat();
      const pids = await sshChildPids(sshd.port);
      const environ = await Promise.all(pids.map((p) => readFile(`/proc/${p}/environ`, 'utf8')));
      const keyFile = await identityFileOf(pids[0]!);
      // Assess
      expect(pin.size).toBe(data.length);
      expect(pids.length).toBe(1);
      expect(environ[0]).not.toContain('canary-7f3a');
      expect(environ[0]!.split('\0').filter(Boolean).map((kv) => kv.split('=')[0]).sort()).toEqual(['HOME', 'LC_ALL', 'PATH']);
      expect(keyFile.startsWith(os.tmpdir())).toBe(true);
      await expect(stat(keyFile)).rejects.toMatchObject({ code: 'ENOENT' });
      await expect(stat(path.dirname(keyFile))).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      delete process.env.OSSFERRY_TEST_SECRET_CANARY;
      await src.close();
    }
  });

  it('close() ends every ssh process, including those of a session a lost connection left behind', async () => {
    // Prepare: two sessions — the first lost mid-read (its sshd side killed), the second reading on
    const before = (await sshChildPids(sshd.port)).length;
    const src = make({ channels: 2, readAheadBytes: 64 * 1024, requestSize: 32 * 1024, maxRequestsInFlight: 2, reconnectBackoff: { baseMs: 10, maxMs: 20, maxAttempts: 4 } });
    const pin = await src.stat();
    const stream = await src.read(0, data.length, pin);
    const chunks: Buffer[] = [];
    let killed = 0;
    // Act
    for await (const c of stream) {
      chunks.push(c as Buffer);
      if (killed === 0) killed = await sshd.killConnections();
    }
    const during = (await sshChildPids(sshd.port)).length;
    await src.close();
    // Assess
    expect(killed).toBeGreaterThan(0);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect(src.stats.reconnects).toBeGreaterThanOrEqual(1);
    expect(during).toBeGreaterThan(before);
    expect((await sshChildPids(sshd.port)).length).toBe(before);
  });

  it('a read whose ssh process is killed resumes on a new connection byte-exactly', async () => {
    // Prepare
    const src = make({ channels: 1, readAheadBytes: 64 * 1024, requestSize: 32 * 1024, maxRequestsInFlight: 2, reconnectBackoff: { baseMs: 10, maxMs: 20, maxAttempts: 4 } });
    const pin = await src.stat();
    const stream = await src.read(0, data.length, pin);
    const chunks: Buffer[] = [];
    let victim: number | undefined;
    // Act: kill our own ssh client mid-range
    for await (const c of stream) {
      chunks.push(c as Buffer);
      if (victim === undefined) {
        victim = (await sshChildPids(sshd.port))[0];
        process.kill(victim!, 'SIGKILL');
      }
    }
    await src.close();
    // Assess
    expect(victim).toBeDefined();
    expect(src.stats.connections).toBeGreaterThanOrEqual(2);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
  });

  it('refuses the openssh transport without a usable client, naming the fix; auto falls back to ssh2', async () => {
    // Prepare
    const missing = make({ sshPath: '/nonexistent/ssh' });
    const auto = make({ sshPath: '/nonexistent/ssh', transport: 'auto' });
    // Act
    const err = await missing.stat().then(
      () => undefined,
      (e: unknown) => e,
    );
    const id = await auto.stat();
    await Promise.all([missing.close(), auto.close()]);
    // Assess
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as InvalidInputError).field).toBe('transport');
    expect((err as Error).message).toMatch(/install openssh-client/);
    expect(id.size).toBe(data.length);
    expect(auto.stats.transport).toBe('ssh2');
  });

  it('refuses an unknown transport name when configured', () => {
    // Act
    const err = (() => {
      try {
        make({ env: { OSSFERRY_SFTP_TRANSPORT: 'telnet' }, transport: undefined });
      } catch (e) {
        return e;
      }
    })();
    // Assess
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as InvalidInputError).field).toBe('transport');
  });

  it('reads with the default (auto) transport over OpenSSH when the client is installed', async () => {
    // Prepare
    const src = make({ transport: undefined });
    // Act
    const pin = await src.stat();
    const got = await collect(await src.read(100, 200_000, pin));
    await src.close();
    // Assess
    expect(src.stats.transport).toBe('openssh');
    expect(got.equals(data.subarray(100, 200_000))).toBe(true);
  });
});
