/**
 * The ssh2 transport: one SSH connection from this process (the `ssh2` library), its SFTP channels opened on it.
 * Used where no suitable OpenSSH client is installed; its decryption runs on ssh2's JavaScript path, which costs
 * about twice OpenSSH's CPU per byte (docs/sftp.md).
 */
import { createHash } from 'node:crypto';
import { connect as connectTcp, type Socket } from 'node:net';
// ssh2 is CommonJS and Node's ESM loader cannot see its named exports: take them off the default export.
import ssh2 from 'ssh2';
import type { ConnectConfig, SFTPWrapper } from 'ssh2';
import { SourceUnavailableError } from '../types.ts';
import { authRefused, hostKeyMismatch, type ConnectOptions, type SftpAttrs, type SftpChannel, type SftpSession } from './session.ts';

const { Client } = ssh2;

/** `SHA256:<base64, no padding>` of a host key blob, as `ssh-keygen -lf` prints it. */
export function hostKeyFingerprint(key: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(key).digest('base64').replace(/=+$/, '');
}

function cb<T>(fn: (done: (err: Error | null | undefined, v?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))));
}

class Ssh2Channel implements SftpChannel {
  readonly sftp: SFTPWrapper;
  readonly sock: Socket;
  readonly corked: { on: boolean };
  constructor(sftp: SFTPWrapper, sock: Socket, corked: { on: boolean }) {
    this.sftp = sftp;
    this.sock = sock;
    this.corked = corked;
  }
  open(path: string): Promise<Buffer> {
    return cb<Buffer>((d) => this.sftp.open(path, 'r', d));
  }
  fstat(handle: Buffer): Promise<SftpAttrs> {
    return cb<SftpAttrs>((d) => this.sftp.fstat(handle, d));
  }
  stat(path: string): Promise<SftpAttrs> {
    return cb<SftpAttrs>((d) => this.sftp.stat(path, d));
  }
  read(handle: Buffer, buf: Buffer, off: number, len: number, pos: number, done: (err: Error | undefined, nb: number) => void): void {
    this.sftp.read(handle, buf, off, len, pos, (err, nb) => done(err ?? undefined, nb));
  }
  close(handle: Buffer): void {
    this.sftp.close(handle, () => {});
  }
  corkForTick(): void {
    // All channels share the socket: one cork per tick for the connection.
    if (this.corked.on) return;
    this.corked.on = true;
    this.sock.cork();
    process.nextTick(() => {
      this.corked.on = false;
      this.sock.uncork();
    });
  }
}

export async function connectSsh2(o: ConnectOptions, signal?: AbortSignal): Promise<SftpSession> {
  const client = new Client();
  // Our own socket so it can be corked (corkForTick) and has Nagle off: with Nagle, a READ request or window
  // adjust waits for the ACK of the previous small write, which the server delays (measured in docs/sftp.md).
  const sock = connectTcp({ host: o.address, port: o.port, noDelay: true });
  let offered: string | undefined;
  const config: ConnectConfig = {
    sock,
    username: o.user,
    privateKey: o.privateKey,
    passphrase: o.passphrase,
    // Only public-key auth is ever attempted (no "none", password or keyboard-interactive probes).
    authHandler: ['publickey'],
    readyTimeout: o.readyTimeoutMs,
    keepaliveInterval: 15_000,
    keepaliveCountMax: 3,
    hostVerifier: (key: Buffer) => {
      offered = hostKeyFingerprint(key);
      return offered === o.fingerprint;
    },
    debug: o.debug,
    algorithms: { cipher: [...o.ciphers] as ssh2.CipherAlgorithm[] },
  };
  await new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      // end() only half-closes; a server that stalls the handshake may never close its side, so drop the socket.
      client.end();
      sock.destroy();
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    client.once('ready', () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    client.once('error', (err: Error & { level?: string }) => {
      signal?.removeEventListener('abort', onAbort);
      client.end();
      if (offered !== undefined && offered !== o.fingerprint) reject(hostKeyMismatch(o, offered, err));
      else if (err.level === 'client-authentication') reject(authRefused(o, err));
      else reject(new SourceUnavailableError(`cannot connect to ${o.host}:${o.port}: ${err.message}`, { cause: err }));
    });
    client.connect(config);
  });

  const corked = { on: false };
  let maxRead: number | undefined;
  const lost: ((err?: Error) => void)[] = [];
  let isLost = false;
  const markLost = (err?: Error) => {
    if (isLost) return;
    isLost = true;
    for (const f of lost) f(err);
  };
  client.on('close', () => markLost());
  client.on('error', (err) => {
    o.log.warn('sftp connection error', { err });
    markLost(err);
  });
  return {
    transport: 'ssh2',
    async openChannel() {
      let sftp: SFTPWrapper;
      try {
        sftp = await cb<SFTPWrapper>((d) => client.sftp(d));
      } catch (err) {
        throw new SourceUnavailableError(`cannot open an SFTP channel on ${o.host}:${o.port}: ${(err as Error).message}`, { cause: err });
      }
      sftp.on('close', () => markLost());
      // ssh2 keeps the server's limits@openssh.com max-read-length here; longer READs are split serially inside it.
      const serverMax = (sftp as unknown as { _maxReadLen?: unknown })._maxReadLen;
      if (typeof serverMax === 'number' && serverMax > 0) maxRead = serverMax;
      return new Ssh2Channel(sftp, sock, corked);
    },
    maxReadLength: () => maxRead,
    onLost(f) {
      if (isLost) f();
      else lost.push(f);
    },
    close() {
      return new Promise<void>((resolve) => {
        if (isLost && sock.destroyed) return resolve();
        client.once('close', () => resolve());
        client.end();
        setTimeout(() => {
          sock.destroy(); // the server did not close within 2 s: do not leave the socket half-open
          resolve();
        }, 2_000).unref();
      });
    },
  };
}
