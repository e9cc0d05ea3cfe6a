/**
 * Source factory with SFTP extras: functions/sources openSource, except that an sftp:// source optionally
 * takes a private key and SftpSource tuning from the caller, which openSource has no parameters for (tests,
 * benchmarks). Screening is the same (SSRF allow-list before connecting).
 */
import { InvalidInputError } from '../../shared/errors.ts';
import { openSftpSource, openSource, type SourceDeps } from '../sources/index.ts';
import type { SftpSourceOptions } from '../sources/sftp.ts';
import type { RangeSource } from '../sources/types.ts';

export interface TaskSourceDeps extends SourceDeps {
  /** SFTP host key pin (`SHA256:…`); else env OSSFERRY_SFTP_HOST_KEYS. */
  hostKeyFingerprint?: string;
  /** SFTP private key; else env OSSFERRY_SFTP_PRIVATE_KEY. */
  sftpPrivateKey?: string | Buffer;
  /** Extra SftpSource tuning (channels, requests in flight). */
  sftp?: Partial<Pick<SftpSourceOptions, 'channels' | 'maxRequestsInFlight' | 'requestSize' | 'maxReconnects' | 'reconnectBackoff' | 'readAheadBytes'>>;
}

export function openTaskSource(url: string, deps: TaskSourceDeps = {}): RangeSource {
  if (!url.startsWith('sftp:')) {
    if (deps.hostKeyFingerprint !== undefined) {
      throw new InvalidInputError('sftpHostKeyFingerprint', 'only applies to sftp:// sources', 'remove it, or use an sftp://user@host/path source');
    }
    return openSource(url, deps);
  }
  if (deps.hostKeyFingerprint === undefined && deps.sftpPrivateKey === undefined && deps.sftp === undefined) return openSource(url, deps);
  return openSftpSource(url, deps, { ...(deps.sftpPrivateKey !== undefined ? { privateKey: deps.sftpPrivateKey } : {}), ...deps.sftp });
}
