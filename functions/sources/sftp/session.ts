/**
 * What the SFTP reader needs from a transport: a session (one authenticated SSH connection, or a group of them)
 * that opens SFTP channels, and channels with the five read-side operations. Two transports implement it:
 * ssh2 (the library, in this process) and OpenSSH (the `ssh` client as a child process, SFTP spoken here).
 */
import { OssferryError } from '../../../shared/errors.ts';
import type { Logger } from '../../../shared/log.ts';

/** Size and mtime (whole seconds, SFTP v3) of a path or an open handle. */
export interface SftpAttrs {
  size: number;
  mtime: number;
}

/** An SFTP status reply (SSH_FX_*): the server answered, the session is fine. Never a transport failure. */
export class SftpStatusError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
    this.name = 'SftpStatusError';
  }
}

/** True for a status reply (ours or ssh2's, which carries a numeric `code` too) rather than a lost transport. */
export const isSftpStatus = (err: unknown): boolean => typeof (err as { code?: unknown } | undefined)?.code === 'number';

export interface SftpChannel {
  open(path: string): Promise<Buffer>;
  fstat(handle: Buffer): Promise<SftpAttrs>;
  stat(path: string): Promise<SftpAttrs>;
  /** Reads into `buf[off, off + len)`; `nb` < len is a short read, 0 is end of file. Callback: the hot path. */
  read(handle: Buffer, buf: Buffer, off: number, len: number, pos: number, cb: (err: Error | undefined, nb: number) => void): void;
  /** Fire and forget. */
  close(handle: Buffer): void;
  /** Holds this channel's writes until the current tick ends, so one batch of READs leaves in one write. */
  corkForTick(): void;
}

export interface SftpSession {
  readonly transport: TransportName;
  openChannel(): Promise<SftpChannel>;
  /** The server's limits@openssh.com max-read-length, when it announced one. */
  maxReadLength(): number | undefined;
  /** Called once when the session (or any connection of it) is lost. */
  onLost(cb: (err?: Error) => void): void;
  close(): Promise<void>;
}

export type TransportName = 'ssh2' | 'openssh';

/** Everything a transport needs to open an authenticated session. */
export interface ConnectOptions {
  /** The screened address to connect to (never re-resolved). */
  address: string;
  /** Host and port as the user wrote them, for messages. */
  host: string;
  port: number;
  user: string;
  privateKey: string | Buffer;
  passphrase: string | undefined;
  /** `SHA256:…`: checked during key exchange, before any authentication request. */
  fingerprint: string;
  readyTimeoutMs: number;
  ciphers: readonly string[];
  log: Logger;
  /** ssh2 debug hook (the ssh2 transport only). */
  debug?: (line: string) => void;
}

/** The pinned host key did not match: possible man-in-the-middle. Never retried. */
export class HostKeyMismatchError extends OssferryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('HostKeyMismatch', message, options);
  }
}

/** The server refused our key (or offers no public-key auth). Never retried. */
export class SftpAuthError extends OssferryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SftpAuth', message, options);
  }
}

export function hostKeyMismatch(o: ConnectOptions, offered: string, cause?: unknown): HostKeyMismatchError {
  return new HostKeyMismatchError(`${o.host}:${o.port} presented host key ${offered}, but ${o.fingerprint} is pinned; refusing before authentication`, { cause });
}

export function authRefused(o: ConnectOptions, cause?: unknown): SftpAuthError {
  return new SftpAuthError(
    `${o.host}:${o.port} refused public-key authentication for user ${o.user} (ossferry never uses passwords): add the key's public half to that user's authorized_keys`,
    { cause },
  );
}
