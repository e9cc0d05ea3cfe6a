/**
 * The source registry, I/O half: per kind of shared/sources.ts, `screen` (refuse, before any connection, a
 * source this deployment may not reach) and `open` (the RangeSource). ./index.ts openSource runs `screen`
 * before the source's first stat() or read(), so a kind cannot be added without one.
 */
import type OSS from 'ali-oss';
import type { LookupFunction } from 'node:net';
import { InvalidInputError } from '../../shared/errors.ts';
import { FUNCTION_ENV } from '../../shared/function-env.ts';
import type { Logger } from '../../shared/log.ts';
import { parseSftpUrl } from '../../shared/sftp-url.ts';
import type { DescriptorOf, SourceKind } from '../../shared/sources.ts';
import type { AllowList } from '../../shared/ssrf.ts';
import { FileSource, fileSourcesDisabled } from './file.ts';
import { HttpSource } from './http.ts';
import { OssSource } from './oss.ts';
import { guardOssEndpoint } from './oss-endpoint.ts';
import { allowListFromEnv, screenHost, screenHostWith, screenUrl, type Resolver } from './screen.ts';
import { SftpSource, type SftpSourceOptions } from './sftp.ts';
import type { RangeSource } from './types.ts';

/** Where an oss:// source client connects: the job's hints, plus the screening lookup of a job-named endpoint. */
export interface OssSourceHints {
  endpoint?: string;
  region?: string;
  /** Set whenever `endpoint` came from the job: the client must resolve every connection through it. */
  lookup?: LookupFunction;
}

/** What openers may use besides the descriptor; each kind reads only its own fields. */
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
  /** sftp:// only: the private key; else env OSSFERRY_SFTP_PRIVATE_KEY (tests, benchmarks). */
  sftpPrivateKey?: string | Buffer;
  /** sftp:// only: SftpSource tuning (channels, requests in flight). */
  sftp?: Partial<Pick<SftpSourceOptions, 'channels' | 'maxRequestsInFlight' | 'requestSize' | 'maxReconnects' | 'reconnectBackoff' | 'readAheadBytes'>>;
  /** file:// only: the directory file sources may read; else env OSSFERRY_FILE_SOURCE_ROOT; neither: refused. */
  fileSourceRoot?: string;
}

export interface SourceOpener<K extends SourceKind> {
  /** Refuses a source this deployment may not reach, before any connection (a DNS lookup at most). */
  screen(d: DescriptorOf<K>, deps: SourceDeps): Promise<void>;
  /** The source; throws InvalidInputError when this deployment lacks what the kind needs. */
  open(d: DescriptorOf<K>, deps: SourceDeps): RangeSource;
}

const allowOf = (deps: SourceDeps) => deps.allow ?? allowListFromEnv(deps.env);
const screenOpts = (deps: SourceDeps) => ({ allow: allowOf(deps), ...(deps.resolver ? { resolver: deps.resolver } : {}) });
const fileRootOf = (deps: SourceDeps) => deps.fileSourceRoot || (deps.env ?? process.env)[FUNCTION_ENV.FILE_SOURCE_ROOT] || undefined;

/** A job-named OSS endpoint receives the function's credentials: checked before any connection, every connection screened. */
function guardedHints(deps: SourceDeps): OssSourceHints {
  const { endpoint, region } = deps.oss ?? {};
  const hints: OssSourceHints = region !== undefined ? { region } : {};
  if (endpoint === undefined) return hints;
  const guarded = guardOssEndpoint(endpoint, { ...(deps.env ? { env: deps.env } : {}), ...(deps.resolver ? { resolver: deps.resolver } : {}) });
  hints.endpoint = guarded.endpoint;
  if (guarded.lookup) hints.lookup = guarded.lookup;
  return hints;
}

/** The registry's openers, by kind (http covers http:// and https://). */
export const SOURCE_OPENERS: { readonly [K in SourceKind]: SourceOpener<K> } = Object.freeze({
  http: {
    // HttpSource screens every connection it opens (redirects included) the same way.
    screen: async (d, deps) => void (await screenUrl(d.url, screenOpts(deps))),
    open: (d, deps) =>
      new HttpSource(d.url, {
        allow: allowOf(deps),
        ...(deps.resolver ? { resolver: deps.resolver } : {}),
        ...(deps.logger ? { logger: deps.logger } : {}),
        ...(deps.chunkSize ? { chunkSize: deps.chunkSize } : {}),
        ...(deps.maxSockets ? { maxSockets: deps.maxSockets } : {}),
        ...(deps.flushAfterMs !== undefined ? { flushAfterMs: deps.flushAfterMs } : {}),
      }),
  },
  oss: {
    screen: async (_d, deps) => void guardedHints(deps),
    open: (d, deps) => {
      if (!deps.ossClientFor) throw new InvalidInputError('source', 'oss:// sources need OSS credentials here', 'pass ossClientFor in the source deps');
      return new OssSource({ client: deps.ossClientFor(d.bucket, guardedHints(deps)), bucket: d.bucket, key: d.key });
    },
  },
  sftp: {
    screen: async (d, deps) => void (await screenHost(parseSftpUrl(d.url, 'source').host, screenOpts(deps))),
    open: (d, deps) => {
      const allow = allowOf(deps);
      return new SftpSource({
        url: d.url,
        allowedHosts: allow,
        screenHost: screenHostWith(screenOpts(deps)),
        ...(deps.logger ? { logger: deps.logger } : {}),
        ...(deps.env ? { env: deps.env } : {}),
        ...(deps.hostKeyFingerprint !== undefined ? { hostKeyFingerprint: deps.hostKeyFingerprint } : {}),
        ...(deps.sftpPrivateKey !== undefined ? { privateKey: deps.sftpPrivateKey } : {}),
        ...deps.sftp,
      });
    },
  },
  file: {
    screen: async (_d, deps) => {
      if (fileRootOf(deps) === undefined) throw fileSourcesDisabled();
    },
    open: (d, deps) => {
      const root = fileRootOf(deps);
      if (root === undefined) throw fileSourcesDisabled();
      return new FileSource({ path: d.path, root, ...(deps.chunkSize ? { chunkSize: deps.chunkSize } : {}) });
    },
  },
});
