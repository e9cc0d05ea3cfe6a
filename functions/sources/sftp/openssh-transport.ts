/**
 * The OpenSSH transport: OpenSSH's own `ssh` client as a child process (`ssh -s … sftp`), SFTP v3 spoken here
 * over its stdin/stdout (./wire.ts). OpenSSH decrypts in C with one OpenSSL context per direction, at about half
 * the CPU per byte of ssh2's JavaScript path, which is what decides a connection's speed (docs/sftp.md). Each
 * channel is its own `ssh` process and TCP connection (OpenSSH gives every session channel its own 2 MiB window).
 *
 * Security, the same guarantees as the ssh2 transport:
 * - the host key is pinned by SHA-256 fingerprint in a KnownHostsCommand: ssh runs it during key exchange with
 *   the offered key's fingerprint (%f), and it vouches for that key only when the fingerprint is the pinned one,
 *   so a different key fails before any authentication request (StrictHostKeyChecking, no known_hosts files);
 * - public-key authentication only, the key from the job's secret written 0600 into a private 0700 directory
 *   and removed as soon as the session is up; a passphrase reaches ssh through an askpass helper and an
 *   environment variable of the child alone;
 * - ssh connects to the screened address (never re-resolves the name), reads no configuration file (-F none),
 *   uses no agent, forwards nothing, and gets a minimal environment (none of this process's credentials).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { connect as connectSocket, createServer, type Socket } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InvalidInputError } from '../../../shared/errors.ts';
import { SourceUnavailableError } from '../types.ts';
import { authRefused, hostKeyMismatch, SftpStatusError, type ConnectOptions, type SftpAttrs, type SftpChannel, type SftpSession } from './session.ts';
import { decodeLimits, encode, FX, ReplyDecoder, type DataTarget, type Reply } from './wire.ts';

/** KnownHostsCommand appeared in OpenSSH 8.5. */
const MIN_VERSION = [8, 5] as const;
const OFFERED_MARK = 'ossferry-offered-host-key ';
const STDERR_KEEP = 4096;

export interface OpensshClient {
  path: string;
  version: string;
}

/** `OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL …` → [9, 2]; undefined when not OpenSSH. */
export function parseOpensshVersion(banner: string): [number, number] | undefined {
  const m = /OpenSSH_(\d+)\.(\d+)/.exec(banner);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

export function versionSupported(v: readonly [number, number]): boolean {
  return v[0] > MIN_VERSION[0] || (v[0] === MIN_VERSION[0] && v[1] >= MIN_VERSION[1]);
}

const found = new Map<string, Promise<OpensshClient | undefined>>();

/** The usable OpenSSH client at `sshPath` (default: `ssh` on PATH), or undefined. Cached per path. */
export function findOpenssh(sshPath = 'ssh'): Promise<OpensshClient | undefined> {
  let p = found.get(sshPath);
  if (!p) {
    p = new Promise((resolve) => {
      execFile(sshPath, ['-V'], { timeout: 5_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } }, (err, stdout, stderr) => {
        const banner = `${stderr}${stdout}`.trim();
        const v = parseOpensshVersion(banner);
        resolve(!err && v && versionSupported(v) ? { path: sshPath, version: banner.split(',')[0]! } : undefined);
      });
    });
    found.set(sshPath, p);
  }
  return p;
}

/**
 * The KnownHostsCommand: prints a known_hosts line for the offered key only when its fingerprint is the pinned
 * one; otherwise reports the offered fingerprint on stderr (ssh first asks with %f = NONE, to order host key
 * algorithms: nothing is vouched for then). Positional parameters keep every value out of the script's text.
 */
export function knownHostsCommand(fingerprint: string): string {
  const script = `if [ "$1" = "$2" ]; then echo "$3 $4 $5"; elif [ "$2" != NONE ]; then echo "${OFFERED_MARK}$2" >&2; fi`;
  return `/bin/sh -c '${script}' ossferry-pin ${fingerprint} %f %H %t %K`;
}

/** ssh's arguments: everything explicit, nothing from configuration files, the agent or the environment. */
export function opensshArgs(o: Pick<ConnectOptions, 'address' | 'port' | 'user' | 'fingerprint' | 'readyTimeoutMs' | 'ciphers'>, keyFile: string, batch: boolean): string[] {
  const opt = (kv: string) => ['-o', kv];
  return [
    '-F', 'none',
    '-T', '-x', '-a', '-e', 'none',
    ...opt(`BatchMode=${batch ? 'yes' : 'no'}`),
    ...opt('StrictHostKeyChecking=yes'),
    ...opt('UserKnownHostsFile=none'),
    ...opt('GlobalKnownHostsFile=none'),
    ...opt('UpdateHostKeys=no'),
    ...opt('CheckHostIP=no'),
    ...opt(`KnownHostsCommand=${knownHostsCommand(o.fingerprint)}`),
    ...opt('PreferredAuthentications=publickey'),
    ...opt('PubkeyAuthentication=yes'),
    ...opt('PasswordAuthentication=no'),
    ...opt('KbdInteractiveAuthentication=no'),
    ...opt('HostbasedAuthentication=no'),
    ...opt('GSSAPIAuthentication=no'),
    ...opt('IdentitiesOnly=yes'),
    ...opt('IdentityAgent=none'),
    ...opt('IdentityFile=' + keyFile),
    ...opt('CertificateFile=none'),
    ...opt('ProxyCommand=none'),
    ...opt('ProxyJump=none'),
    ...opt('ControlMaster=no'),
    ...opt('ControlPath=none'),
    ...opt('ClearAllForwardings=yes'),
    ...opt('PermitLocalCommand=no'),
    ...opt('Compression=no'),
    ...opt(`Ciphers=${o.ciphers.join(',')}`),
    ...opt(`ConnectTimeout=${Math.max(1, Math.ceil(o.readyTimeoutMs / 1000))}`),
    ...opt('ServerAliveInterval=15'),
    ...opt('ServerAliveCountMax=3'),
    ...opt('LogLevel=ERROR'),
    '-l', o.user,
    '-p', String(o.port),
    '-s',
    '--',
    o.address,
    'sftp',
  ];
}

/** What ssh's stderr says went wrong before the session was up. */
export function connectFailure(o: ConnectOptions, stderr: string, cause: Error): Error {
  const offered = stderr.split('\n').find((l) => l.startsWith(OFFERED_MARK))?.slice(OFFERED_MARK.length).trim();
  if (offered) return hostKeyMismatch(o, offered, cause);
  if (/Permission denied \(|Too many authentication failures/.test(stderr)) return authRefused(o, cause);
  const last = stderr.trim().split('\n').filter(Boolean).at(-1);
  return new SourceUnavailableError(`cannot connect to ${o.host}:${o.port}: ${last ?? cause.message}`, { cause });
}

interface Pending {
  resolve?: (r: Reply) => void;
  reject: (e: Error) => void;
  /** READs: where the DATA goes and who is told. */
  target?: DataTarget;
  readDone?: (err: Error | undefined, nb: number) => void;
}

/**
 * ssh's stdin and stdout: one end of a Unix stream socket pair (the other end is the child's fd 0 and 1). Unlike a
 * pipe (64 KiB per read, a new Buffer each), the socket is read into one reused 1 MiB buffer (`onread`), so a
 * gigabyte costs fewer reads and no garbage; the decoder copies every byte out before the next read.
 */
async function socketLink(dir: string): Promise<{ ours: Socket; theirs: Socket; onData: (f: (chunk: Buffer) => void) => void }> {
  const file = path.join(dir, 'io');
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(file, resolve);
  });
  let reader: (chunk: Buffer) => void = () => {};
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const ours = connectSocket({
    path: file,
    onread: {
      buffer: Buffer.allocUnsafe(READ_BUFFER),
      callback: (n: number, buf: Uint8Array) => {
        reader(Buffer.from(buf.buffer, buf.byteOffset, n));
        return true;
      },
    },
  });
  const theirs = await accepted;
  server.close();
  return { ours, theirs, onData: (f) => (reader = f) };
}

const READ_BUFFER = 1024 * 1024;

/** One `ssh` process speaking SFTP. */
class OpensshChannel implements SftpChannel {
  readonly #proc: ChildProcess;
  readonly #io: Socket;
  readonly #pending = new Map<number, Pending>();
  readonly #decoder: ReplyDecoder;
  #nextId = 1;
  #corked = false;
  #dead: Error | undefined;
  #onVersion: ((r: Reply) => void) | undefined;
  #lostHandlers: ((err: Error) => void)[] = [];
  stderr = '';
  maxReadLength: number | undefined;

  constructor(proc: ChildProcess, io: Socket, onData: (f: (chunk: Buffer) => void) => void) {
    this.#proc = proc;
    this.#io = io;
    this.#decoder = new ReplyDecoder(
      (r) => this.#onReply(r),
      (id) => this.#pending.get(id)?.target,
    );
    onData((chunk) => {
      try {
        this.#decoder.push(chunk);
      } catch (err) {
        this.#lose(err as Error);
        proc.kill('SIGKILL');
      }
    });
    proc.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString('utf8')).slice(-STDERR_KEEP);
    });
    io.on('error', () => {}); // a write after ssh exited: reported by 'close'
    proc.on('close', (code, sig) => {
      this.#lose(new Error(`ssh exited (${sig ?? `code ${code}`})${this.stderr ? `: ${this.stderr.trim()}` : ''}`));
      io.destroy();
    });
  }

  get dead(): Error | undefined {
    return this.#dead;
  }

  onLost(f: (err: Error) => void): void {
    if (this.#dead) f(this.#dead);
    else this.#lostHandlers.push(f);
  }

  /** INIT → VERSION, then the server's read limit when it announces limits@openssh.com. */
  async handshake(): Promise<void> {
    const version = await new Promise<Reply>((resolve, reject) => {
      this.#onVersion = resolve;
      this.onLost(reject);
      this.#io.write(encode.init());
    });
    if (version.type !== 'version' || version.version !== 3) throw new SourceUnavailableError(`the server speaks SFTP version ${(version as { version?: number }).version}, not 3`);
    if ('limits@openssh.com' in version.extensions) {
      const r = await this.#request((id) => encode.extended(id, 'limits@openssh.com'));
      if (r.type === 'extended-reply') {
        const { maxReadLength } = decodeLimits(r.body);
        if (maxReadLength > 0) this.maxReadLength = maxReadLength;
      }
    }
  }

  #lose(err: Error): void {
    if (this.#dead) return;
    this.#dead = err;
    for (const p of this.#pending.values()) {
      if (p.readDone) p.readDone(err, 0);
      else p.reject(err);
    }
    this.#pending.clear();
    for (const f of this.#lostHandlers) f(err);
  }

  #onReply(r: Reply): void {
    if (r.type === 'version') {
      const f = this.#onVersion;
      this.#onVersion = undefined;
      return f?.(r);
    }
    const p = this.#pending.get(r.id);
    if (!p) return this.#lose(new Error(`reply to unknown request ${r.id}`));
    this.#pending.delete(r.id);
    if (p.readDone) {
      if (r.type === 'data') p.readDone(undefined, r.length);
      else if (r.type === 'status') p.readDone(new SftpStatusError(r.code, r.message || `status ${r.code}`), 0);
      else p.readDone(new Error(`unexpected ${r.type} reply to READ`), 0);
      return;
    }
    if (r.type === 'status' && r.code !== FX.OK) return p.reject(new SftpStatusError(r.code, r.message || `status ${r.code}`));
    p.resolve!(r);
  }

  #send(buf: Buffer): void {
    this.#io.write(buf);
  }

  #request(make: (id: number) => Buffer): Promise<Reply> {
    if (this.#dead) return Promise.reject(this.#dead);
    return new Promise((resolve, reject) => {
      const id = this.#id();
      this.#pending.set(id, { resolve, reject });
      this.#send(make(id));
    });
  }

  #id(): number {
    const id = this.#nextId;
    this.#nextId = (this.#nextId + 1) >>> 0 || 1;
    return id;
  }

  async open(p: string): Promise<Buffer> {
    const r = await this.#request((id) => encode.openRead(id, p));
    if (r.type !== 'handle') throw new Error(`unexpected ${r.type} reply to OPEN`);
    return r.handle;
  }

  async fstat(handle: Buffer): Promise<SftpAttrs> {
    return attrsOf(await this.#request((id) => encode.fstat(id, handle)), 'FSTAT');
  }

  async stat(p: string): Promise<SftpAttrs> {
    return attrsOf(await this.#request((id) => encode.stat(id, p)), 'STAT');
  }

  read(handle: Buffer, buf: Buffer, off: number, len: number, pos: number, done: (err: Error | undefined, nb: number) => void): void {
    if (this.#dead) return void process.nextTick(done, this.#dead, 0);
    const id = this.#id();
    this.#pending.set(id, { reject: () => {}, target: { buf, off, max: len }, readDone: done });
    this.#send(encode.read(id, handle, pos, len));
  }

  close(handle: Buffer): void {
    if (!this.#dead) this.#request((id) => encode.close(id, handle)).catch(() => {});
  }

  corkForTick(): void {
    if (this.#corked) return;
    this.#corked = true;
    this.#io.cork();
    process.nextTick(() => {
      this.#corked = false;
      this.#io.uncork();
    });
  }

  /** Ends the session: EOF to sftp-server, then ssh exits; killed when it has not within 2 s. */
  end(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#proc.exitCode !== null || this.#proc.signalCode !== null) return resolve();
      this.#proc.once('close', () => resolve());
      this.#io.end();
      setTimeout(() => {
        this.#proc.kill('SIGKILL');
        resolve();
      }, 2_000).unref();
    });
  }

  kill(): void {
    this.#proc.kill('SIGKILL');
  }

  /** After ssh exited: our end of its stdio. */
  dispose(): void {
    this.#io.destroy();
  }
}

function attrsOf(r: Reply, op: string): SftpAttrs {
  if (r.type !== 'attrs') throw new Error(`unexpected ${r.type} reply to ${op}`);
  return { size: r.attrs.size ?? 0, mtime: r.attrs.mtime ?? 0 };
}

/** Starts one `ssh` process, waits for the SFTP session (key exchange, pin, authentication, VERSION). */
async function spawnChannel(client: OpensshClient, o: ConnectOptions, signal?: AbortSignal): Promise<OpensshChannel> {
  signal?.throwIfAborted();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ossferry-ssh-'));
  try {
    const keyFile = path.join(dir, 'id');
    const key = typeof o.privateKey === 'string' ? o.privateKey : o.privateKey.toString('utf8');
    await writeFile(keyFile, key.endsWith('\n') ? key : key + '\n', { mode: 0o600 });
    const env: Record<string, string> = { PATH: '/usr/bin:/bin', HOME: dir, LC_ALL: 'C' };
    if (o.passphrase !== undefined) {
      // ssh asks the askpass helper for the key's passphrase (BatchMode would forbid asking); the helper prints
      // the variable only this child's environment holds.
      const askpass = path.join(dir, 'askpass');
      await writeFile(askpass, '#!/bin/sh\nprintf \'%s\\n\' "$OSSFERRY_SSH_PASSPHRASE"\n', { mode: 0o700 });
      Object.assign(env, { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', OSSFERRY_SSH_PASSPHRASE: o.passphrase });
    }
    const link = await socketLink(dir);
    const proc = spawn(client.path, opensshArgs(o, keyFile, o.passphrase === undefined), { stdio: [link.theirs, link.theirs, 'pipe'], env });
    // The child holds its own copy of that end now; ours would keep the link open after ssh exits.
    link.theirs.destroy();
    const ch = new OpensshChannel(proc, link.ours, link.onData);
    const spawned = new Promise<void>((resolve, reject) => {
      proc.once('spawn', resolve);
      proc.once('error', reject);
    });
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => ch.kill();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await spawned;
      await Promise.race([
        ch.handshake(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            ch.kill();
            reject(new Error(`no SFTP session within ${o.readyTimeoutMs} ms`));
          }, o.readyTimeoutMs);
        }),
      ]);
    } catch (err) {
      ch.kill();
      if (signal?.aborted) throw signal.reason;
      // Let ssh's last words arrive before reading them.
      await new Promise<void>((r) => {
        if (ch.dead) return r();
        ch.onLost(() => r());
        setTimeout(r, 2_000).unref(); // a process that never started never closes
      });
      throw connectFailure(o, ch.stderr, err as Error);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
    return ch;
  } finally {
    // The session is authenticated (or failed): the key file is not needed any more.
    await rm(dir, { recursive: true, force: true });
  }
}

/** A session of `ssh` processes: the first opened now (so failures surface here), more on demand. */
export async function connectOpenssh(client: OpensshClient, o: ConnectOptions, signal?: AbortSignal): Promise<SftpSession> {
  // ssh expands %-tokens and ${VARS} in some values; a user name never needs them.
  if (/[%$\s\x00-\x1f]/.test(o.user)) {
    throw new InvalidInputError('url', `user name ${JSON.stringify(o.user)} has characters the OpenSSH transport does not pass on (%, $, spaces, control)`, 'use the plain login name, or OSSFERRY_SFTP_TRANSPORT=ssh2');
  }
  const first = await spawnChannel(client, o, signal);
  const channels: OpensshChannel[] = [first];
  const lostHandlers: ((err?: Error) => void)[] = [];
  let lost: Error | undefined;
  const watch = (ch: OpensshChannel) =>
    ch.onLost((err) => {
      if (lost || closing) return;
      lost = err;
      o.log.warn('sftp connection lost', { err: err.message });
      for (const f of lostHandlers) f(err);
    });
  let closing = false;
  watch(first);
  let handedOut = false;
  return {
    transport: 'openssh',
    async openChannel() {
      // The first process is the first channel; each further channel is a new connection.
      if (!handedOut) {
        handedOut = true;
        return first;
      }
      const ch = await spawnChannel(client, o);
      if (closing || lost) {
        void ch.end();
        throw new SourceUnavailableError(`${o.host}:${o.port}: the SFTP session was closed while a channel opened`);
      }
      channels.push(ch);
      watch(ch);
      return ch;
    },
    maxReadLength: () => first.maxReadLength,
    onLost(f) {
      if (lost) f(lost);
      else lostHandlers.push(f);
    },
    async close() {
      closing = true;
      await Promise.all(channels.map((c) => c.end()));
    },
  };
}
