import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { utimes, writeFile, appendFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { startSshd, type Sshd } from '../helpers/sshd.ts';
import { sshChildPids } from '../helpers/ssh-children.ts';
import {
  CIPHER_PREFERENCE,
  HostKeyMismatchError,
  SftpAuthError,
  SftpSource,
  type SftpSourceOptions,
} from '../../functions/sources/sftp.ts';
import { SourceChangedError, SourceUnavailableError } from '../../functions/sources/types.ts';
import type { TransportName } from '../../functions/sources/sftp/session.ts';
import { InvalidInputError } from '../../shared/errors.ts';

const SIZE = 3 * 1024 * 1024 + 12345;
const data = randomBytes(SIZE);

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function listen(server: Server): Promise<Server> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return server;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

const TRANSPORTS: TransportName[] = ['openssh', 'ssh2'];

describe.each(TRANSPORTS)('SftpSource (%s transport) against OpenSSH sshd', (transport) => {
  let sshd: Sshd;
  const sources: SftpSource[] = [];
  const source = (extra: Partial<SftpSourceOptions> = {}, rel = 'data/big.bin'): SftpSource => {
    const s = new SftpSource({
      url: sshd.urlFor(rel),
      privateKey: sshd.privateKey,
      hostKeyFingerprint: sshd.hostKeyFingerprint,
      allowedHosts: '127.0.0.1',
      env: {},
      transport,
      ...extra,
    });
    sources.push(s);
    return s;
  };

  beforeAll(async () => {
    sshd = await startSshd({ files: { 'data/big.bin': data, 'data/small.txt': 'hello sftp\n' }, logLevel: 'DEBUG1' });
  });
  afterAll(async () => {
    await Promise.all(sources.map((s) => s.close()));
    await sshd?.close();
  });

  it('stat returns size and mtime', async () => {
    // Prepare
    const src = source();
    // Act
    const id = await src.stat();
    // Assess
    expect(src.stats.transport).toBe(transport);
    expect(id.size).toBe(SIZE);
    expect(typeof id.mtimeMs).toBe('number');
    expect(id.mtimeMs! % 1000).toBe(0);
  });

  it('reads random ranges byte-exactly (property)', async () => {
    // Prepare
    const src = source({ requestSize: 64 * 1024, maxRequestsInFlight: 8 });
    const pin = await src.stat();
    // Act / Assess
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: SIZE }).chain((a) => fc.tuple(fc.constant(a), fc.integer({ min: a, max: Math.min(SIZE, a + 700_000) }))),
        async ([start, end]) => {
          const got = await collect(await src.read(start, end, pin));
          expect(got.equals(data.subarray(start, end))).toBe(true);
        },
      ),
      { numRuns: 12 },
    );
  });

  it('keeps many READs in flight and spreads parallel ranges over its channels', async () => {
    // Prepare
    const src = source({ maxRequestsInFlight: 32, requestSize: 32 * 1024, channels: 2 });
    const pin = await src.stat();
    const cuts = [0, 1_000_000, 2_000_000, SIZE];
    // Act
    const parts = await Promise.all(cuts.slice(1).map(async (end, i) => collect(await src.read(cuts[i]!, end, pin))));
    // Assess
    expect(Buffer.concat(parts).equals(data)).toBe(true);
    expect(src.stats.maxInFlight).toBeGreaterThan(1);
    // ssh2 opens its channels on one connection; OpenSSH gives each channel its own connection (and window).
    expect(src.stats.connections).toBe(transport === 'ssh2' ? 1 : 2);
  });

  it('splits READs at the server maximum without losing bytes (256 KiB requested, OpenSSH serves 255 KiB)', async () => {
    // Prepare
    const src = source({ requestSize: 1024 * 1024 });
    const pin = await src.stat();
    // Act
    const got = await collect(await src.read(5, SIZE, pin));
    // Assess
    expect(got.equals(data.subarray(5))).toBe(true);
  });

  it('refuses a wrong host key before authentication', async () => {
    // Prepare
    const wrong = 'SHA256:' + 'A'.repeat(43);
    const debug: string[] = [];
    const logBefore = sshd.log().length;
    const src = source({ hostKeyFingerprint: wrong, debug: (l) => debug.push(l) });
    // Act
    const err = await rejection(src.stat());
    // Assess
    expect(err).toBeInstanceOf(HostKeyMismatchError);
    expect((err as Error).message).toContain(sshd.hostKeyFingerprint);
    if (transport === 'ssh2') expect(debug.some((l) => /USERAUTH/.test(l))).toBe(false);
    await new Promise((r) => setTimeout(r, 200));
    expect(sshd.log().slice(logBefore)).not.toMatch(/userauth-request/);
  });

  it('authenticates with the pinned key (the server log shows the userauth the mismatch test rules out)', async () => {
    // Prepare
    const debug: string[] = [];
    const logBefore = sshd.log().length;
    const src = source({ debug: (l) => debug.push(l) }, 'data/small.txt');
    // Act
    const id = await src.stat();
    // Assess
    expect(id.size).toBe(11);
    if (transport === 'ssh2') expect(debug.some((l) => /USERAUTH/.test(l))).toBe(true);
    expect(sshd.log().slice(logBefore)).toMatch(/userauth-request for user \S+ service ssh-connection method publickey/);
  });

  it('authenticates with a passphrase-protected key', async () => {
    // Prepare: the user's key, re-encrypted with a passphrase by ssh-keygen
    const { mkdtemp, readFile: read, rm } = await import('node:fs/promises');
    const { execFileSync } = await import('node:child_process');
    const dir = await mkdtemp(join((await import('node:os')).tmpdir(), 'ossferry-key-'));
    await writeFile(join(dir, 'id'), sshd.privateKey, { mode: 0o600 });
    execFileSync('ssh-keygen', ['-q', '-p', '-N', 'correct horse', '-f', join(dir, 'id')]);
    const encrypted = await read(join(dir, 'id'), 'utf8');
    await rm(dir, { recursive: true });
    const src = source({ privateKey: encrypted, passphrase: 'correct horse' }, 'data/small.txt');
    // Act
    const pin = await src.stat();
    const got = await collect(await src.read(0, pin.size, pin));
    // Assess
    expect(encrypted).not.toBe(sshd.privateKey);
    expect(got.toString()).toBe('hello sftp\n');
  });

  it('negotiates AES-128-GCM with OpenSSH and offers chacha20-poly1305 only last (ssh2 decrypts it ~3× slower)', async () => {
    // Prepare
    const debug: string[] = [];
    const logBefore = sshd.log().length;
    const src = source({ debug: (l) => debug.push(l) }, 'data/small.txt');
    // Act
    await src.stat();
    // Assess: the server's own record of the negotiated cipher, and for ssh2 the list it offered
    expect(sshd.log().slice(logBefore)).toMatch(/kex: server->client cipher: aes128-gcm@openssh\.com/);
    if (transport === 'ssh2') expect(debug).toContain(`Handshake: (local) S->C cipher: ${CIPHER_PREFERENCE.join(',')}`);
    expect(CIPHER_PREFERENCE.at(-1)).toBe('chacha20-poly1305@openssh.com');
  });

  it('refuses configuration without a key or with a password, naming the field', () => {
    // Prepare
    const base = { hostKeyFingerprint: sshd.hostKeyFingerprint, env: {} };
    // Act
    const noKey = (() => {
      try {
        new SftpSource({ url: sshd.urlFor('data/small.txt'), ...base });
      } catch (e) {
        return e;
      }
    })();
    const withPassword = (() => {
      try {
        new SftpSource({ url: `sftp://${sshd.user}:hunter2@127.0.0.1:${sshd.port}/x`, privateKey: sshd.privateKey, ...base });
      } catch (e) {
        return e;
      }
    })();
    const noPin = (() => {
      try {
        new SftpSource({ url: sshd.urlFor('data/small.txt'), privateKey: sshd.privateKey, env: {} });
      } catch (e) {
        return e;
      }
    })();
    // Assess
    expect(noKey).toBeInstanceOf(InvalidInputError);
    expect((noKey as InvalidInputError).field).toBe('privateKey');
    expect((noKey as Error).message).toMatch(/password authentication is not supported/);
    expect((withPassword as InvalidInputError).field).toBe('url');
    expect((withPassword as Error).message).not.toContain('hunter2');
    expect((noPin as InvalidInputError).field).toBe('hostKeyFingerprint');
  });

  it('reads the key and the pinned host key from the environment', async () => {
    // Prepare
    const src = new SftpSource({
      url: sshd.urlFor('data/small.txt'),
      allowedHosts: '127.0.0.1',
      env: {
        OSSFERRY_SFTP_PRIVATE_KEY: sshd.privateKey,
        OSSFERRY_SFTP_HOST_KEYS: JSON.stringify({ [`127.0.0.1:${sshd.port}`]: sshd.hostKeyFingerprint }),
      },
    });
    sources.push(src);
    // Act
    const pin = await src.stat();
    const got = await collect(await src.read(0, pin.size, pin));
    // Assess
    expect(got.toString()).toBe('hello sftp\n');
  });

  it('refuses loopback unless allow-listed', async () => {
    // Prepare
    const src = source({ allowedHosts: '' }, 'data/small.txt');
    // Act
    const err = await rejection(src.stat());
    // Assess
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as Error).message).toMatch(/loopback/);
  });

  it('fails with SourceUnavailableError naming host:port when nothing listens there', async () => {
    // Prepare: a port that was free a moment ago
    const probe = await listen(createServer());
    const port = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    const src = source({ url: `sftp://${sshd.user}@127.0.0.1:${port}${join(sshd.root, 'data/small.txt')}` });
    // Act
    const err = await rejection(src.stat());
    // Assess
    expect(err).toBeInstanceOf(SourceUnavailableError);
    expect((err as Error).message).toContain(`127.0.0.1:${port}`);
  });

  it('an abort during the SSH handshake rejects with the reason and closes the socket it opened', async () => {
    // Prepare: a server that accepts TCP, never speaks SSH and never reads (so it never closes its side)
    const tcpSockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
    const held: Socket[] = [];
    const mute = await listen(createServer((s) => void held.push(s)));
    const port = (mute.address() as { port: number }).port;
    const src = source({ url: `sftp://${sshd.user}@127.0.0.1:${port}${join(sshd.root, 'data/small.txt')}` });
    const ac = new AbortController();
    const reason = new Error('job cancelled');
    const before = tcpSockets();
    const sshBefore = (await sshChildPids(port)).length;
    // Act
    const pending = rejection(src.stat(ac.signal));
    while (held.length === 0) await new Promise((r) => setTimeout(r, 10));
    ac.abort(reason);
    const err = await pending;
    for (let i = 0; i < 100 && tcpSockets() > before + 1; i++) await new Promise((r) => setTimeout(r, 10));
    for (let i = 0; i < 100 && (await sshChildPids(port)).length > sshBefore; i++) await new Promise((r) => setTimeout(r, 10));
    // Assess: only the server's accepted socket is left; ours (or our ssh process) is gone although the server
    // never answered the FIN (other tests' connections may close meanwhile, never open)
    expect(err).toBe(reason);
    expect(tcpSockets()).toBeLessThanOrEqual(before + 1);
    expect((await sshChildPids(port)).length).toBe(sshBefore);
    held[0]!.destroy();
    await new Promise((r) => mute.close(r));
  });

  it('fails with SourceChangedError when the file changes between stat and read', async () => {
    // Prepare
    const rel = 'data/changing.bin';
    await writeFile(join(sshd.root, rel), randomBytes(300_000));
    const src = source({}, rel);
    const pin = await src.stat();
    await appendFile(join(sshd.root, rel), 'more');
    // Act
    const err = await rejection(src.read(0, pin.size, pin).then(collect));
    // Assess
    expect(err).toBeInstanceOf(SourceChangedError);
  });

  it('fails with SourceChangedError when only the mtime changes', async () => {
    // Prepare
    const rel = 'data/touched.bin';
    await writeFile(join(sshd.root, rel), randomBytes(1000));
    const src = source({}, rel);
    const pin = await src.stat();
    const later = new Date(pin.mtimeMs! + 60_000);
    await utimes(join(sshd.root, rel), later, later);
    // Act
    const err = await rejection(src.read(0, 1000, pin).then(collect));
    // Assess
    expect(err).toBeInstanceOf(SourceChangedError);
  });

  it('reconnects after the connection drops mid-range and resumes byte-exactly', async () => {
    // Prepare
    const src = source({ requestSize: 32 * 1024, maxRequestsInFlight: 4, channels: 1, readAheadBytes: 64 * 1024, reconnectBackoff: { baseMs: 10, maxMs: 50, maxAttempts: 4 } });
    const pin = await src.stat();
    const stream = await src.read(0, SIZE, pin);
    const chunks: Buffer[] = [];
    let received = 0;
    let killed = 0;
    // Act
    for await (const c of stream) {
      chunks.push(c as Buffer);
      received += (c as Buffer).length;
      if (killed === 0 && received > 500_000) killed = await sshd.killConnections();
    }
    // Assess
    expect(killed).toBeGreaterThan(0);
    expect(src.stats.reconnects).toBeGreaterThanOrEqual(1);
    expect(src.stats.connections).toBeGreaterThanOrEqual(2);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
  });
});

describe.each(TRANSPORTS)('SftpSource (%s transport) against a password-only sshd', (transport) => {
  let sshd: Sshd;
  beforeAll(async () => {
    sshd = await startSshd({ files: { 'x.txt': 'x' }, pubkeyAuthentication: false });
  });
  afterAll(async () => {
    await sshd?.close();
  });

  it('fails with a clear SftpAuthError instead of trying a password', async () => {
    // Prepare
    const src = new SftpSource({
      url: sshd.urlFor('x.txt'),
      privateKey: sshd.privateKey,
      hostKeyFingerprint: sshd.hostKeyFingerprint,
      allowedHosts: '127.0.0.1',
      env: {},
      transport,
    });
    // Act
    const err = await rejection(src.stat());
    await src.close();
    // Assess
    expect(err).toBeInstanceOf(SftpAuthError);
    expect((err as Error).message).toMatch(/refused public-key authentication.*never uses passwords/);
  });
});
