/**
 * Source factory for archive tasks: functions/sources openSource, except that an sftp:// source takes the
 * host key pin from the job (`hostKeyFingerprint`) and optionally a private key from the caller, which
 * openSource has no parameters for. Screening is the same (SSRF allow-list before connecting).
 */
import { InvalidInputError } from '../../shared/errors.ts';
import { openSftpSource, openSource, type SourceDeps } from '../sources/index.ts';
import type { SftpSourceOptions } from '../sources/sftp.ts';
import type { RangeSource } from '../sources/types.ts';

export interface ArchiveSourceDeps extends SourceDeps {
  /** SFTP host key pin (`SHA256:…`); else env OSSFERRY_SFTP_HOST_KEYS. */
  hostKeyFingerprint?: string;
  /** SFTP private key; else env OSSFERRY_SFTP_PRIVATE_KEY. */
  sftpPrivateKey?: string | Buffer;
  /** Extra SftpSource tuning (channels, requests in flight). */
  sftp?: Partial<Pick<SftpSourceOptions, 'channels' | 'maxRequestsInFlight' | 'requestSize' | 'maxReconnects' | 'reconnectBackoff' | 'readAheadBytes'>>;
}

export function openArchiveSource(url: string, deps: ArchiveSourceDeps = {}): RangeSource {
  if (!url.startsWith('sftp:')) {
    if (deps.hostKeyFingerprint !== undefined) {
      throw new InvalidInputError('sftpHostKeyFingerprint', 'only applies to sftp:// sources', 'remove it, or use an sftp://user@host/path source');
    }
    return openSource(url, deps);
  }
  if (deps.hostKeyFingerprint === undefined && deps.sftpPrivateKey === undefined && deps.sftp === undefined) return openSource(url, deps);
  return openSftpSource(url, deps, { ...(deps.sftpPrivateKey !== undefined ? { privateKey: deps.sftpPrivateKey } : {}), ...deps.sftp });
}
