/**
 * SFTP source (`sftp://user@host:port/absolute/path`), implementing RangeSource over one of two transports
 * (./sftp/session.ts): OpenSSH's `ssh` client as a child process (the default where OpenSSH ≥ 8.5 is installed,
 * as in the function image) or the in-process `ssh2` library. OpenSSH decrypts at about half ssh2's CPU per
 * byte, which is what decides a connection's speed (docs/sftp.md, bench:archive).
 *
 * Why pipelined: one READ in flight makes throughput chunk/RTT (~1.3 MB/s at 50 ms with 64 KiB chunks). Here
 * each range keeps up to `maxRequestsInFlight` READs outstanding on its channel and delivers the replies in
 * order, in ~1 MiB slabs. Each SSH channel has a 2 MiB receive window (ssh2's is fixed; OpenSSH's client uses
 * the same), so at real RTTs parallel ranges are spread over several channels, opened as ranges need them.
 * READ length: OpenSSH's sftp-server announces max-read-length 261120 (255 KiB) via limits@openssh.com and
 * truncates longer reads; other servers may return short reads at any time, so a short reply is followed by
 * a READ for the remainder (never treated as EOF). The READs one batch of replies frees leave in one write
 * (corked for the rest of the tick).
 *
 * Security: key authentication only (the key comes from a secret: env OSSFERRY_SFTP_PRIVATE_KEY or the
 * caller, never code); the host key is pinned by SHA-256 fingerprint and checked during key exchange, before
 * any USERAUTH request; the host is screened against SSRF rules (shared/ssrf.ts) before connecting, and the
 * connection goes to the screened address. Each transport's module says how it keeps these.
 *
 * Consistency: every read fstat()s the opened handle against the pin before the first byte and stat()s the
 * path again before the last byte is delivered; a different size or mtime fails with SourceChangedError.
 * SFTP v3 carries mtime in whole seconds, so a same-size rewrite within the same second is not detectable.
 */
import { lookup } from 'node:dns/promises';
import { Readable } from 'node:stream';
// ssh2 is CommonJS and Node's ESM loader cannot see its named exports: take them off the default export.
import ssh2 from 'ssh2';
import { InvalidInputError, OssferryError } from '../../shared/errors.ts';
import { silentLogger, type Logger } from '../../shared/log.ts';
import { backoffDelayMs, sleep, type BackoffPolicy } from '../../shared/retry.ts';
import { parseAllowList, screenAddress, type AllowList } from '../../shared/ssrf.ts';
import { FUNCTION_ENV } from '../../shared/function-env.ts';
import { parseSftpUrl, type SftpLocation } from '../../shared/sftp-url.ts';
import { SourceChangedError, SourceUnavailableError, type RangeSource, type SourceIdentity } from './types.ts';
import { isSftpStatus, type SftpAttrs, type SftpChannel, type SftpSession, type TransportName } from './sftp/session.ts';
import { connectSsh2 } from './sftp/ssh2-transport.ts';
import { connectOpenssh, findOpenssh } from './sftp/openssh-transport.ts';

export { HostKeyMismatchError, SftpAuthError, type TransportName } from './sftp/session.ts';

const { utils: sshUtils } = ssh2;

/** Resolves and screens a host, returning the one address to connect to (throws when refused). */
export type ScreenHost = (host: string, signal?: AbortSignal) => Promise<string>;

export interface SftpSourceOptions {
  /** `sftp://user@host[:port]/absolute/path`; no password. */
  url: string;
  /** Private key (OpenSSH/PEM). Default: env OSSFERRY_SFTP_PRIVATE_KEY. */
  privateKey?: string | Buffer;
  passphrase?: string;
  /** `SHA256:…` as `ssh-keygen -lf` prints it, from the job. Takes precedence over `hostKeys`. */
  hostKeyFingerprint?: string;
  /** host[:port] → fingerprint, from stack config. Default: env OSSFERRY_SFTP_HOST_KEYS (JSON). */
  hostKeys?: Record<string, string>;
  /** Hosts/CIDRs that may be private/loopback. Default: env OSSFERRY_ALLOWED_SOURCE_HOSTS. */
  allowedHosts?: AllowList | string | readonly string[];
  /** Replaces the built-in resolve-and-screen (e.g. functions/sources/screen.ts). */
  screenHost?: ScreenHost;
  /** Bytes per READ request; capped to the server's max read length. Default 256 KiB. */
  requestSize?: number;
  /** READ requests outstanding per range. Default 64. */
  maxRequestsInFlight?: number;
  /** SFTP channels (opened as ranges need them; with OpenSSH each is its own connection). Default 4 (ssh2), 2 (OpenSSH). */
  channels?: number;
  /** Reconnects per read() after a dropped connection; each resumes at the last delivered byte. Default 3. */
  maxReconnects?: number;
  reconnectBackoff?: BackoffPolicy;
  /** Bytes a range buffers ahead of its consumer (Readable highWaterMark). Default 1 MiB. */
  readAheadBytes?: number;
  readyTimeoutMs?: number;
  env?: Record<string, string | undefined>;
  logger?: Logger;
  /** ssh2 debug hook (tests assert what was sent on the wire; the ssh2 transport only). */
  debug?: (line: string) => void;
  /**
   * `openssh`: OpenSSH's `ssh` client as a child process (≥ 8.5); `ssh2`: the library in this process; `auto`
   * (default): OpenSSH when a suitable client is installed. Default: env OSSFERRY_SFTP_TRANSPORT, else auto.
   */
  transport?: TransportName | 'auto';
  /** The OpenSSH client to run. Default: env OSSFERRY_SSH_PATH, else `ssh` on PATH. */
  sshPath?: string;
}

/** Counters for tests and benchmarks. */
export interface SftpStats {
  requests: number;
  maxInFlight: number;
  shortReads: number;
  reconnects: number;
  /** SSH connections made (with OpenSSH, each channel is a connection of its own). */
  connections: number;
  /** The transport of the last session. */
  transport?: TransportName;
}

/**
 * Ciphers offered, fastest first for ssh2's crypto (measured in docs/sftp.md): AES-GCM needs no separate MAC, and
 * ssh2 runs it through OpenSSL (AES-NI); chacha20-poly1305 computes Poly1305 in WebAssembly and decrypts at about
 * a third of the rate, so it goes last (ssh2's own default would put it first on a CPU it thinks lacks AES).
 */
export const CIPHER_PREFERENCE = ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'aes128-ctr', 'aes256-ctr', 'chacha20-poly1305@openssh.com'] as const;
const FP_RE = /^SHA256:[A-Za-z0-9+/]{43}$/;
const DEFAULT_REQUEST_SIZE = 256 * 1024;
/**
 * Channels a source opens at most, by transport. ssh2: channels of one connection (OpenSSH's MaxSessions is 10).
 * OpenSSH: every channel is a connection of its own, and a job's workers open theirs at the same moment, where
 * sshd's MaxStartups (default 10:30:100) starts refusing handshakes; two 2 MiB windows carry a worker's
 * 1 Gbit/s up to ~30 ms of RTT.
 */
const DEFAULT_CHANNELS: Record<TransportName, number> = { ssh2: 4, openssh: 2 };
const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 100, maxMs: 2_000, maxAttempts: 4 };

/** The built-in screen: resolve once, refuse if any address is refused, connect to the first. */
export function defaultScreenHost(allow: AllowList): ScreenHost {
  return async (host) => {
    const addrs = await lookup(host, { all: true, verbatim: true });
    if (addrs.length === 0) throw new SourceUnavailableError(`${host} did not resolve`);
    for (const a of addrs) {
      const v = screenAddress(host, a.address, allow);
      if (!v.ok) {
        throw new InvalidInputError(
          'url',
          `host ${host} resolves to ${a.address} (${v.reason}), which sources may not reach`,
          `if this SFTP server is intended, add ${host} to ${FUNCTION_ENV.ALLOWED_SOURCE_HOSTS}`,
        );
      }
    }
    return addrs[0]!.address;
  };
}

/** A session and the ranges running on each of its channels. */
interface Conn {
  session: SftpSession;
  channels: SftpChannel[];
  active: number[];
  /** Channels being opened now (they count against the limit). */
  opening: number;
  dead: boolean;
  maxReadLen: number;
}

type Status = Error & { code?: unknown };
/** SFTP status replies carry a numeric `code`; transport loss has none. */
const SFTP_EOF = 1;
const SFTP_NO_SUCH_FILE = 2;


export class SftpSource implements RangeSource {
  readonly displayUrl: string;
  readonly location: SftpLocation;
  readonly stats: SftpStats = { requests: 0, maxInFlight: 0, shortReads: 0, reconnects: 0, connections: 0 };
  readonly #key: string | Buffer;
  readonly #passphrase: string | undefined;
  readonly #fingerprint: string;
  readonly #screen: ScreenHost;
  readonly #requestSize: number;
  readonly #inFlight: number;
  /** Explicit channel limit; else DEFAULT_CHANNELS for the session's transport. */
  readonly #channels: number | undefined;
  readonly #maxReconnects: number;
  readonly #backoff: BackoffPolicy;
  readonly #readyTimeout: number;
  readonly #readAhead: number;
  readonly #log: Logger;
  readonly #debug: ((line: string) => void) | undefined;
  readonly #transport: TransportName | 'auto';
  readonly #sshPath: string;
  #conn: Promise<Conn> | undefined;
  /** Every session opened and not yet closed: close() ends them all, also those a lost connection left behind. */
  readonly #sessions = new Set<SftpSession>();
  #closed = false;

  constructor(opts: SftpSourceOptions) {
    const env = opts.env ?? process.env;
    this.location = parseSftpUrl(opts.url);
    const { user, host, port, path } = this.location;
    this.displayUrl = `sftp://${user}@${host.includes(':') ? `[${host}]` : host}:${port}${path}`;

    const key = opts.privateKey ?? env[FUNCTION_ENV.SFTP_PRIVATE_KEY];
    if (key === undefined || key.length === 0) {
      throw new InvalidInputError(
        'privateKey',
        'no SSH private key was provided, and password authentication is not supported',
        `set ${FUNCTION_ENV.SFTP_PRIVATE_KEY} (from a stack secret) to the private key whose public key is in the server's authorized_keys`,
      );
    }
    const parsed = sshUtils.parseKey(key, opts.passphrase);
    if (parsed instanceof Error || (Array.isArray(parsed) ? parsed.length === 0 : !parsed.isPrivateKey())) {
      throw new InvalidInputError('privateKey', 'is not a usable SSH private key (or the passphrase is wrong)', 'provide an OpenSSH or PEM private key, unencrypted or with its passphrase');
    }
    this.#key = key;
    this.#passphrase = opts.passphrase;

    let fp = opts.hostKeyFingerprint;
    let fpField = 'hostKeyFingerprint';
    if (fp === undefined) {
      let map = opts.hostKeys;
      if (map === undefined && env[FUNCTION_ENV.SFTP_HOST_KEYS]) {
        try {
          map = JSON.parse(env[FUNCTION_ENV.SFTP_HOST_KEYS]!) as Record<string, string>;
        } catch (cause) {
          throw new InvalidInputError(FUNCTION_ENV.SFTP_HOST_KEYS, 'is not valid JSON', 'write a JSON object such as {"sftp.example.com:22":"SHA256:…"}', { cause });
        }
      }
      const hostKey = host.includes(':') ? `[${host}]` : host;
      fp = map?.[`${hostKey}:${port}`] ?? map?.[host] ?? (port === 22 ? map?.[hostKey] : undefined);
      fpField = `${FUNCTION_ENV.SFTP_HOST_KEYS}["${hostKey}:${port}"]`;
    }
    if (fp === undefined) {
      throw new InvalidInputError(
        'hostKeyFingerprint',
        `no pinned host key for ${host}:${port}; ossferry never trusts an unknown SFTP server`,
        `pass hostKeyFingerprint in the job, or add "${host}:${port}" to ${FUNCTION_ENV.SFTP_HOST_KEYS}, with the value printed by \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on the server`,
      );
    }
    if (typeof fp !== 'string' || !FP_RE.test(fp)) {
      throw new InvalidInputError(fpField, 'is not a SHA-256 host key fingerprint', 'use the "SHA256:…" value printed by `ssh-keygen -lf <host key>.pub` (43 base64 characters)');
    }
    this.#fingerprint = fp;

    let allow: AllowList;
    if (opts.allowedHosts === undefined || typeof opts.allowedHosts === 'string' || Array.isArray(opts.allowedHosts)) {
      const spec = (opts.allowedHosts ?? env[FUNCTION_ENV.ALLOWED_SOURCE_HOSTS]) as string | readonly string[] | undefined;
      try {
        allow = parseAllowList(spec);
      } catch (cause) {
        throw new InvalidInputError('allowedHosts', (cause as Error).message, 'list host names, *.suffixes, IPs or CIDRs separated by commas', { cause });
      }
    } else {
      allow = opts.allowedHosts as AllowList;
    }
    this.#screen = opts.screenHost ?? defaultScreenHost(allow);

    const posInt = (v: number | undefined, d: number, name: string, max: number) => {
      const n = v ?? d;
      if (!Number.isInteger(n) || n < 1 || n > max) throw new InvalidInputError(name, `must be an integer 1..${max}`, `omit it for the default ${d}`);
      return n;
    };
    this.#requestSize = posInt(opts.requestSize, DEFAULT_REQUEST_SIZE, 'requestSize', 16 * 1024 * 1024);
    this.#inFlight = posInt(opts.maxRequestsInFlight, 64, 'maxRequestsInFlight', 1024);
    this.#channels = opts.channels === undefined ? undefined : posInt(opts.channels, 4, 'channels', 64);
    this.#maxReconnects = opts.maxReconnects ?? 3;
    this.#backoff = opts.reconnectBackoff ?? DEFAULT_BACKOFF;
    this.#readyTimeout = opts.readyTimeoutMs ?? 20_000;
    this.#readAhead = posInt(opts.readAheadBytes, 1024 * 1024, 'readAheadBytes', 256 * 1024 * 1024);
    this.#log = (opts.logger ?? silentLogger).child({ source: this.displayUrl });
    this.#debug = opts.debug;
    const transport = opts.transport ?? env[FUNCTION_ENV.SFTP_TRANSPORT] ?? 'auto';
    if (transport !== 'auto' && transport !== 'openssh' && transport !== 'ssh2') {
      throw new InvalidInputError('transport', `must be auto, openssh or ssh2, got ${transport}`, `unset ${FUNCTION_ENV.SFTP_TRANSPORT} for the default (OpenSSH when installed)`);
    }
    this.#transport = transport;
    this.#sshPath = opts.sshPath ?? env[FUNCTION_ENV.SSH_PATH] ?? 'ssh';
  }

  async #connect(signal?: AbortSignal): Promise<Conn> {
    const { host, port, user } = this.location;
    const address = await this.#screen(host, signal);
    const o = {
      address,
      host,
      port,
      user,
      privateKey: this.#key,
      passphrase: this.#passphrase,
      fingerprint: this.#fingerprint,
      readyTimeoutMs: this.#readyTimeout,
      ciphers: CIPHER_PREFERENCE,
      log: this.#log,
      debug: this.#debug,
    };
    let session: SftpSession;
    if (this.#transport === 'ssh2') {
      session = await connectSsh2(o, signal);
    } else {
      const openssh = await findOpenssh(this.#sshPath);
      if (openssh) session = await connectOpenssh(openssh, o, signal);
      else if (this.#transport === 'auto') session = await connectSsh2(o, signal);
      else {
        throw new InvalidInputError(
          'transport',
          `openssh was asked for, but ${this.#sshPath} is not an OpenSSH client of version 8.5 or later`,
          `install openssh-client (or set ${FUNCTION_ENV.SSH_PATH}), or use the ssh2 transport`,
        );
      }
    }
    this.#sessions.add(session);
    this.stats.connections++;
    this.stats.transport = session.transport;
    this.#log.info('sftp session up', { transport: session.transport });
    const conn: Conn = { session, channels: [], active: [], opening: 0, dead: false, maxReadLen: this.#requestSize };
    session.onLost(() => {
      conn.dead = true;
    });
    try {
      await this.#addChannel(conn);
    } catch (err) {
      void this.#endSession(conn);
      throw err;
    }
    return conn;
  }

  /** Opens one more SFTP channel on the session (with OpenSSH: one more connection). */
  async #addChannel(conn: Conn): Promise<number> {
    conn.opening++;
    try {
      const ch = await conn.session.openChannel();
      if (conn.channels.length > 0 && conn.session.transport === 'openssh') this.stats.connections++;
      conn.channels.push(ch);
      conn.active.push(0);
      const serverMax = conn.session.maxReadLength();
      if (serverMax !== undefined) conn.maxReadLen = Math.min(this.#requestSize, serverMax);
      return conn.channels.length - 1;
    } finally {
      conn.opening--;
    }
  }

  async #endSession(conn: Conn): Promise<void> {
    conn.dead = true;
    this.#sessions.delete(conn.session);
    await conn.session.close();
  }

  /** The live connection, (re)connecting when there is none or it died. Concurrent callers share one attempt. */
  async #getConn(signal?: AbortSignal): Promise<Conn> {
    if (this.#closed) throw new SourceUnavailableError(`${this.displayUrl}: source is closed`);
    if (this.#conn) {
      try {
        const c = await this.#conn;
        if (!c.dead) return c;
      } catch {
        // the previous attempt failed: try again below
      }
      this.#conn = undefined;
    }
    const attempt = this.#connect(signal);
    this.#conn = attempt;
    attempt.catch(() => {
      if (this.#conn === attempt) this.#conn = undefined;
    });
    return attempt;
  }

  /**
   * Reserves the least busy channel (the caller releases it with `conn.active[ch]--`); opens a new one while every
   * channel is busy and the limit allows. Reserving at once makes ranges that start together spread out.
   */
  async #pickChannel(conn: Conn): Promise<number> {
    let best = 0;
    for (let i = 1; i < conn.active.length; i++) if (conn.active[i]! < conn.active[best]!) best = i;
    const limit = this.#channels ?? DEFAULT_CHANNELS[conn.session.transport];
    if (conn.active[best]! > 0 && conn.channels.length + conn.opening < limit && !conn.dead) {
      try {
        best = await this.#addChannel(conn);
      } catch (err) {
        this.#log.warn('could not open another SFTP channel; sharing one', { err });
      }
    }
    conn.active[best]!++;
    return best;
  }

  /** Runs `fn` on a connection, reconnecting (bounded) when the transport drops. */
  async #withConn<T>(what: string, fn: (conn: Conn, ch: number) => Promise<T>, signal?: AbortSignal): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const conn = await this.#getConn(signal);
      const ch = await this.#pickChannel(conn);
      let failure: unknown;
      try {
        return await fn(conn, ch);
      } catch (err) {
        failure = err;
        if (!isSftpStatus(err) && !(err instanceof OssferryError) && !signal?.aborted) conn.dead = true;
      } finally {
        conn.active[ch]!--;
        this._released(conn);
      }
      if (isSftpStatus(failure) || failure instanceof OssferryError || signal?.aborted) throw failure;
      if (attempt >= this.#maxReconnects) throw new SourceUnavailableError(`${this.displayUrl}: ${what} failed after ${attempt + 1} attempts`, { cause: failure });
      this.stats.reconnects++;
      await sleep(backoffDelayMs(attempt + 1, this.#backoff), signal);
    }
  }

  #identityOf(attrs: SftpAttrs): SourceIdentity {
    return { size: attrs.size, mtimeMs: attrs.mtime * 1000 };
  }

  async stat(signal?: AbortSignal): Promise<SourceIdentity> {
    return this.#withConn(
      'stat',
      async (conn, ch) => {
        try {
          return this.#identityOf(await conn.channels[ch]!.stat(this.location.path));
        } catch (err) {
          if ((err as Status).code === SFTP_NO_SUCH_FILE) throw new InvalidInputError('url', `${this.displayUrl} does not exist`, 'check the path on the SFTP server', { cause: err });
          throw err;
        }
      },
      signal,
    );
  }

  #checkPin(now: SourceIdentity, pin: SourceIdentity, when: string): void {
    if (now.size !== pin.size || (pin.mtimeMs !== undefined && now.mtimeMs !== pin.mtimeMs)) {
      throw new SourceChangedError(
        `${this.displayUrl} changed ${when}: planned size ${pin.size} mtime ${pin.mtimeMs}, now size ${now.size} mtime ${now.mtimeMs}`,
      );
    }
  }

  async read(start: number, end: number, pin: SourceIdentity, signal?: AbortSignal): Promise<Readable> {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > pin.size) {
      throw new InvalidInputError('range', `[${start}, ${end}) is not inside [0, ${pin.size})`, 'request a half-open range within the pinned size');
    }
    const reader = new PipelinedRead(this, start, end, pin, signal);
    try {
      await reader.open();
    } catch (err) {
      // Nobody will consume this stream: end it quietly, or a later abort of `signal` would destroy it with an
      // error no one listens to (an uncaught exception).
      reader.stream.on('error', () => {});
      reader.stream.destroy();
      throw err;
    }
    return reader.stream;
  }

  // Internals PipelinedRead uses (kept off the public interface by convention).
  _getConn(signal?: AbortSignal): Promise<Conn> {
    return this.#getConn(signal);
  }
  _pickChannel(conn: Conn): Promise<number> {
    return this.#pickChannel(conn);
  }
  _checkPin(now: SourceIdentity, pin: SourceIdentity, when: string): void {
    this.#checkPin(now, pin, when);
  }
  _identityOf(attrs: SftpAttrs): SourceIdentity {
    return this.#identityOf(attrs);
  }
  get _inFlight(): number {
    return this.#inFlight;
  }
  get _readAhead(): number {
    return this.#readAhead;
  }
  get _maxReconnects(): number {
    return this.#maxReconnects;
  }
  get _backoff(): BackoffPolicy {
    return this.#backoff;
  }
  get _log(): Logger {
    return this.#log;
  }
  /** A range finished with its channel: a session already lost is ended once its last range let go. */
  _released(conn: Conn): void {
    if (conn.dead && conn.active.every((a) => a === 0) && this.#sessions.has(conn.session)) void this.#endSession(conn);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const p = this.#conn;
    this.#conn = undefined;
    await p?.catch(() => undefined);
    const sessions = [...this.#sessions];
    this.#sessions.clear();
    await Promise.all(sessions.map((s) => s.close()));
  }
}

/**
 * A delivery buffer: consecutive READs land in one slab (ssh2 copies each reply straight into its place) and
 * the slab is handed on whole, so chunks are ~1 MiB although OpenSSH answers at most 255 KiB per READ.
 */
interface Slab {
  buf: Buffer;
  /** Bytes of `buf` assigned to READs so far; the slab is closed when that reaches its length. */
  used: number;
}

interface Req {
  pos: number;
  len: number;
  done: boolean;
  slab: Slab;
  /** Where in the slab this READ's bytes go. */
  off: number;
}

/** Target slab size (the chunks a read delivers, but for a range's last). */
const SLAB_BYTES = 1024 * 1024;

/** One ranged read: an ordered window of outstanding READs, delivered in order, refilled on demand. */
class PipelinedRead {
  readonly stream: Readable;
  readonly #src: SftpSource;
  readonly #end: number;
  readonly #pin: SourceIdentity;
  readonly #signal: AbortSignal | undefined;
  #conn: Conn | undefined;
  #ch = 0;
  #handle: Buffer | undefined;
  #epoch = 0;
  #queue: Req[] = [];
  /** The slab new READs go into while it has room. */
  #slab: Slab | undefined;
  #nextPos: number;
  #delivered: number;
  #want = true;
  #reconnects = 0;
  #finishing = false;
  #failed = false;

  constructor(src: SftpSource, start: number, end: number, pin: SourceIdentity, signal?: AbortSignal) {
    this.#src = src;
    this.#end = end;
    this.#pin = pin;
    this.#signal = signal;
    this.#nextPos = start;
    this.#delivered = start;
    this.stream = new Readable({
      highWaterMark: src._readAhead,
      read: () => {
        this.#want = true;
        this.#pump();
      },
      destroy: (err, done) => {
        this.#failed = true;
        this.#release();
        done(err);
      },
    });
    signal?.addEventListener('abort', () => this.stream.destroy(signal.reason as Error), { once: true });
  }

  /** Opens the file on a live channel and checks it against the pin (first open and every reopen). */
  async open(): Promise<void> {
    const conn = await this.#src._getConn(this.#signal);
    const ch = await this.#src._pickChannel(conn); // reserved: released by #release, or below on failure
    const sftp = conn.channels[ch]!;
    const path = this.#src.location.path;
    let handle: Buffer | undefined;
    try {
      try {
        handle = await sftp.open(path);
      } catch (err) {
        if ((err as Status).code === SFTP_NO_SUCH_FILE) throw new SourceChangedError(`${this.#src.displayUrl} no longer exists`, { cause: err });
        throw err;
      }
      this.#src._checkPin(this.#src._identityOf(await sftp.fstat(handle)), this.#pin, 'before the read');
    } catch (err) {
      if (handle) sftp.close(handle);
      conn.active[ch]!--;
      this.#src._released(conn);
      throw err;
    }
    this.#conn = conn;
    this.#ch = ch;
    this.#handle = handle;
    this.#epoch++;
    if (this.#nextPos >= this.#end) this.#pump();
  }

  #release(): void {
    if (this.#conn && this.#handle) {
      this.#conn.active[this.#ch]!--;
      if (!this.#conn.dead) this.#conn.channels[this.#ch]!.close(this.#handle);
      this.#src._released(this.#conn);
    }
    this.#conn = undefined;
    this.#handle = undefined;
  }

  #fail(err: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.stream.destroy(err instanceof Error ? err : new Error(String(err)));
  }

  #pump(): void {
    if (this.#failed || !this.#handle || !this.#conn) return;
    // Deliver completed slabs in order: a slab goes out once it is full and every READ into it has answered.
    while (this.#queue.length && this.#queue[0]!.done) {
      const slab = this.#queue[0]!.slab;
      if (slab.used < slab.buf.length) break;
      let n = 0;
      while (n < this.#queue.length && this.#queue[n]!.slab === slab) n++;
      if (!this.#queue.slice(0, n).every((r) => r.done)) break;
      const endPos = this.#queue[n - 1]!.pos + this.#queue[n - 1]!.len;
      if (endPos >= this.#end) {
        if (!this.#finishing) {
          this.#finishing = true;
          void this.#finish({ slab, reqs: n, endPos });
        }
        return;
      }
      this.#queue.splice(0, n);
      this.#delivered = endPos;
      if (!this.stream.push(slab.buf)) this.#want = false;
    }
    if (this.#nextPos >= this.#end && this.#queue.length === 0) {
      if (!this.#finishing) {
        this.#finishing = true;
        void this.#finish(undefined);
      }
      return;
    }
    // Refill while the consumer wants data; the queue (in flight + undelivered) is bounded.
    const sftp = this.#conn.channels[this.#ch]!;
    const size = this.#conn.maxReadLen;
    if (this.#want && this.#queue.length < this.#src._inFlight && this.#nextPos < this.#end) sftp.corkForTick();
    while (this.#want && this.#queue.length < this.#src._inFlight && this.#nextPos < this.#end) {
      let slab = this.#slab;
      if (!slab || slab.used === slab.buf.length) {
        // A slab holds whole READs and never more READs than may be in flight (or it could never fill).
        const perSlab = Math.max(1, Math.min(Math.floor(SLAB_BYTES / size), this.#src._inFlight));
        slab = this.#slab = { buf: Buffer.allocUnsafe(Math.min(perSlab * size, this.#end - this.#nextPos)), used: 0 };
      }
      const len = Math.min(size, slab.buf.length - slab.used);
      const req: Req = { pos: this.#nextPos, len, done: false, slab, off: slab.used };
      slab.used += len;
      this.#nextPos += len;
      this.#queue.push(req);
      this.#issue(sftp, req);
    }
  }

  #issue(sftp: SftpChannel, req: Req): void {
    const epoch = this.#epoch;
    const handle = this.#handle!;
    const stats = this.#src.stats;
    stats.requests++;
    const outstanding = this.#queue.filter((q) => !q.done).length;
    if (outstanding > stats.maxInFlight) stats.maxInFlight = outstanding;
    sftp.read(handle, req.slab.buf, req.off, req.len, req.pos, (err, nb) => {
      if (epoch !== this.#epoch || this.#failed) return; // a reply from before a reconnect
      if (err) return this.#onError(err);
      if (nb === 0) return this.#fail(new SourceChangedError(`${this.#src.displayUrl} ended at ${req.pos}, before the pinned size ${this.#pin.size}`));
      if (nb < req.len) {
        // Short read (server limit): keep what came, ask for the rest right after it, into the same slab, in order.
        stats.shortReads++;
        const rest: Req = { pos: req.pos + nb, len: req.len - nb, done: false, slab: req.slab, off: req.off + nb };
        req.len = nb;
        this.#queue.splice(this.#queue.indexOf(req) + 1, 0, rest);
        this.#issue(sftp, rest);
      }
      req.done = true;
      this.#pump();
    });
  }

  #onError(err: Status): void {
    if (err.code === SFTP_EOF) {
      return this.#fail(new SourceChangedError(`${this.#src.displayUrl} is shorter than the pinned size ${this.#pin.size}`, { cause: err }));
    }
    if (isSftpStatus(err)) {
      return this.#fail(new SourceUnavailableError(`${this.#src.displayUrl}: READ failed: ${err.message}`, { cause: err }));
    }
    void this.#reconnect(err);
  }

  /** Transport lost: drop the window, reconnect, reopen (re-checking the pin) and resume at the last delivered byte. */
  async #reconnect(cause: unknown): Promise<void> {
    const epoch = ++this.#epoch; // invalidates every outstanding reply
    if (this.#conn) {
      this.#conn.dead = true;
      this.#conn.active[this.#ch]!--;
      this.#src._released(this.#conn);
    }
    this.#conn = undefined;
    this.#handle = undefined;
    this.#queue = [];
    this.#slab = undefined;
    this.#nextPos = this.#delivered;
    this.#finishing = false;
    if (this.#reconnects >= this.#src._maxReconnects) {
      return this.#fail(new SourceUnavailableError(`${this.#src.displayUrl}: connection lost ${this.#reconnects + 1} times during [${this.#delivered}, ${this.#end})`, { cause }));
    }
    this.#reconnects++;
    this.#src.stats.reconnects++;
    this.#src._log.warn('sftp connection lost mid-range; resuming', { offset: this.#delivered, attempt: this.#reconnects, err: cause });
    try {
      await sleep(backoffDelayMs(this.#reconnects, this.#src._backoff), this.#signal);
      if (this.#failed || epoch !== this.#epoch) return;
      await this.open();
      this.#want = true;
      this.#pump();
    } catch (err) {
      if (err instanceof OssferryError || isSftpStatus(err) || this.#signal?.aborted) return this.#fail(err);
      void this.#reconnect(err);
    }
  }

  /** Before the last bytes go out, the path must still be the pinned object. */
  async #finish(last: { slab: Slab; reqs: number; endPos: number } | undefined): Promise<void> {
    const epoch = this.#epoch;
    const conn = this.#conn!;
    try {
      const attrs = await conn.channels[this.#ch]!.stat(this.#src.location.path);
      if (epoch !== this.#epoch || this.#failed) return;
      this.#src._checkPin(this.#src._identityOf(attrs), this.#pin, 'during the read');
    } catch (err) {
      if (epoch !== this.#epoch || this.#failed) return;
      if ((err as Status).code === SFTP_NO_SUCH_FILE) return this.#fail(new SourceChangedError(`${this.#src.displayUrl} was removed during the read`, { cause: err }));
      if (err instanceof OssferryError || isSftpStatus(err)) return this.#fail(err);
      return void this.#reconnect(err);
    }
    if (last) {
      this.#queue.splice(0, last.reqs);
      this.#delivered = last.endPos;
      this.stream.push(last.slab.buf);
    }
    this.#release();
    this.stream.push(null);
  }
}

export function createSftpSource(opts: SftpSourceOptions): SftpSource {
  return new SftpSource(opts);
}
