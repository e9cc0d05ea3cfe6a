/** `sftp://user@host[:port]/absolute/path` locations, parsed once for the job schema and the SFTP source. */
import { InvalidInputError } from './errors.ts';

export interface SftpLocation {
  user: string;
  host: string;
  port: number;
  path: string;
}

/** What is wrong with a URL, and how to write it instead. */
export interface UrlProblem {
  problem: string;
  fix: string;
}

const WRITE = 'write sftp://user@host:port/absolute/path';

/** Parses an sftp:// URL; returns the problem (and its fix) instead of throwing. */
export function sftpLocation(url: string): SftpLocation | UrlProblem {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { problem: 'is not a URL', fix: WRITE };
  }
  if (u.protocol !== 'sftp:') return { problem: `has scheme ${u.protocol} instead of sftp:`, fix: WRITE };
  if (u.password) {
    return { problem: 'contains a password; password authentication is not supported', fix: 'remove the password from the URL and provide an SSH private key (OSSFERRY_SFTP_PRIVATE_KEY)' };
  }
  if (!u.username) return { problem: 'has no user name', fix: WRITE };
  if (!u.hostname) return { problem: 'has no host', fix: WRITE };
  if (u.search || u.hash) return { problem: 'has a query or fragment', fix: 'remove everything after the path' };
  const path = decodeURIComponent(u.pathname);
  if (path === '' || path === '/' || path.endsWith('/')) return { problem: 'does not name a file', fix: 'append the absolute path of the file' };
  return {
    user: decodeURIComponent(u.username),
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 22,
    path,
  };
}

/** Parses an sftp:// URL; throws InvalidInputError naming `field` and the fix. */
export function parseSftpUrl(url: string, field = 'url'): SftpLocation {
  const loc = sftpLocation(url);
  if ('problem' in loc) throw new InvalidInputError(field, loc.problem, loc.fix);
  return loc;
}
