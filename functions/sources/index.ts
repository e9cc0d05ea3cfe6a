/**
 * `openSource(url, deps)`: the one place that maps a source URL to a RangeSource by scheme.
 * http(s) → ./http.ts (SSRF-screened), oss:// → ./oss.ts (any region; a job-named endpoint only through
 * ./oss-endpoint.ts), sftp:// → ./sftp.ts.
 */
import type OSS from 'ali-oss';
import type { LookupFunction } from 'node:net';
import { InvalidInputError } from '../../shared/errors.ts';
import { parseOssUrl } from '../../shared/job.ts';
import type { Logger } from '../../shared/log.ts';
import type { AllowList } from '../../shared/ssrf.ts';
import { HttpSource } from './http.ts';
import { OssSource } from './oss.ts';
import { guardOssEndpoint } from './oss-endpoint.ts';
import { allowListFromEnv, screenHostWith, type Resolver } from './screen.ts';
import { SftpSource, type SftpSourceOptions } from './sftp.ts';
import type { RangeSource } from './types.ts';

/** Where an oss:// source client connects: the job's hints, plus the screening lookup of a job-named endpoint. */
export interface OssSourceHints {
  endpoint?: string;
  region?: string;
  /** Set whenever `endpoint` came from the job: the client must resolve every connection through it. */
  lookup?: LookupFunction;
}

export interface SourceDeps {
  /** SSRF allow-list. Default: env OSSFERRY_ALLOWED_SOURCE_HOSTS. */
  allow?: AllowList;
  resolver?: Resolver;
  logger?: Logger;
  /** Client for an OSS source bucket, given the endpoint/region hints of the job or task. */
  ossClientFor?: (bucket: string, hints: OssSourceHints) => OSS;
  /** Hints for oss:// sources (job sourceEndpoint / sourceRegion). */
  oss?: { endpoint?: string; region?: string };
  /** Chunk size of HTTP reads (default 1 MiB). */
  chunkSize?: number;
  /** Keep-alive sockets per origin (≥ streams). */
  maxSockets?: number;
  /** HTTP: push body bytes that waited this long without waiting for a full chunk (copy workers). Default off. */
  flushAfterMs?: number;
  env?: Record<string, string | undefined>;
  /** sftp:// only: the job's host key pin (`SHA256:…`); else env OSSFERRY_SFTP_HOST_KEYS. */
  hostKeyFingerprint?: string;
}

/** Opens a source by URL scheme. Throws InvalidInputError naming `source` for unsupported URLs. */
export function openSource(url: string, deps: SourceDeps = {}): RangeSource {
  const allow = deps.allow ?? allowListFromEnv(deps.env);
  if (url.startsWith('oss://')) {
    const loc = parseOssUrl(url);
    if (typeof loc === 'string') throw new InvalidInputError('source', loc, 'use oss://bucket/key');
    if (!deps.ossClientFor) throw new InvalidInputError('source', 'oss:// sources need OSS credentials here', 'pass ossClientFor in the source deps');
    const { endpoint, region } = deps.oss ?? {};
    const hints: OssSourceHints = region !== undefined ? { region } : {};
    if (endpoint !== undefined) {
      // A job-named endpoint receives the function's credentials: checked before any connection, every connection screened.
      const guarded = guardOssEndpoint(endpoint, { ...(deps.env ? { env: deps.env } : {}), ...(deps.resolver ? { resolver: deps.resolver } : {}) });
      hints.endpoint = guarded.endpoint;
      if (guarded.lookup) hints.lookup = guarded.lookup;
    }
    return new OssSource({ client: deps.ossClientFor(loc.bucket, hints), ...loc });
  }
  let scheme: string;
  try {
    scheme = new URL(url).protocol;
  } catch (err) {
    throw new InvalidInputError('source', 'is not a URL', 'use http(s)://…, oss://bucket/key or sftp://user@host/path', { cause: err });
  }
  if (scheme === 'http:' || scheme === 'https:') {
    const opts: ConstructorParameters<typeof HttpSource>[1] = { allow };
    if (deps.resolver) opts.resolver = deps.resolver;
    if (deps.logger) opts.logger = deps.logger;
    if (deps.chunkSize) opts.chunkSize = deps.chunkSize;
    if (deps.maxSockets) opts.maxSockets = deps.maxSockets;
    if (deps.flushAfterMs !== undefined) opts.flushAfterMs = deps.flushAfterMs;
    return new HttpSource(url, opts);
  }
  if (scheme === 'sftp:') return openSftpSource(url, { ...deps, allow });
  throw new InvalidInputError('source', `scheme ${scheme} is not supported`, 'use http(s)://…, oss://bucket/key or sftp://user@host/path');
}

/**
 * An sftp:// source, screened like the others (SSRF allow-list before connecting). `options` adds what
 * openSource's deps have no field for (the archive worker's private key and SftpSource tuning).
 */
export function openSftpSource(url: string, deps: SourceDeps = {}, options: Partial<Omit<SftpSourceOptions, 'url' | 'allowedHosts' | 'screenHost'>> = {}): SftpSource {
  const allow = deps.allow ?? allowListFromEnv(deps.env);
  return new SftpSource({
    url,
    allowedHosts: allow,
    screenHost: screenHostWith(deps.resolver ? { allow, resolver: deps.resolver } : { allow }),
    ...(deps.logger ? { logger: deps.logger } : {}),
    ...(deps.env ? { env: deps.env } : {}),
    ...(deps.hostKeyFingerprint !== undefined ? { hostKeyFingerprint: deps.hostKeyFingerprint } : {}),
    ...options,
  });
}
