/**
 * The source registry, pure half: one entry per URL scheme (http, https, oss, sftp, file) saying how its
 * URL parses into a typed descriptor, what a stat() of it identifies a version by, and what it can do and
 * needs. The job schema, the CLI and the coordinator consult it instead of listing schemes themselves; the
 * I/O half (screen before any connection, open a RangeSource) is functions/sources/registry.ts, keyed by
 * the same kinds. Adding a source: a descriptor in SourceDescriptor, an entry here, an opener there, and
 * the source's own module (docs/sources.md).
 */
import { fileURLToPath } from 'node:url';
import { parseOssUrl } from './oss-url.ts';
import type { Validator } from './pinning.ts';
import { sftpLocation, type UrlProblem } from './sftp-url.ts';

/** A parsed source: what the job, its tasks and the openers carry. Discriminated by `kind`. */
export type SourceDescriptor =
  | { kind: 'http'; url: string }
  | { kind: 'oss'; url: string; bucket: string; key: string; endpoint?: string; region?: string }
  | { kind: 'sftp'; url: string }
  | { kind: 'file'; url: string; path: string };

export type SourceKind = SourceDescriptor['kind'];
export type DescriptorOf<K extends SourceKind> = Extract<SourceDescriptor, { kind: K }>;

/** Job fields besides `source` that only some kinds take. */
export type SourceJobField = 'sourceEndpoint' | 'sourceRegion' | 'sftpHostKeyFingerprint';

/** What opening a kind needs besides its URL. */
export type SourceNeed = 'ossCredentials' | 'sshPrivateKey' | 'sshHostKeyPin' | 'fileSourceRoot';

export interface SourceCapabilities {
  /** read(start, end) of any range. Every kind today; the engine plans parts on it. */
  rangedReads: true;
  /** Validators a stat() of this kind may pin a version by (shared/pinning.ts), strongest first. */
  validators: readonly Validator[];
  /** The identity may lack a strong validator, so the job's `unpinned` policy applies (refuse, reread, trust). */
  unpinnedPolicy: boolean;
  /** OSS can copy ranges of it server-side (UploadPartCopy) when source and destination share a region. */
  serverSideCopy: boolean;
  needs: readonly SourceNeed[];
  /** What is screened before any connection: the URL's host, the OSS endpoint, or the file source root. */
  screens: 'url-host' | 'oss-endpoint' | 'file-root';
  /** Job fields this kind takes. */
  jobFields: readonly SourceJobField[];
  /**
   * The most workers `workers: "auto"` gives a job of this kind, when one server carries every connection
   * (shared/plan.ts resolveWorkers). Absent: the size and the deployment decide.
   */
  autoWorkersCap?: number;
}

/** The SourceFingerprint fields (shared/job.ts) a stat() of a kind fills: the job id is hashed over them. */
export type IdentityField = 'size' | 'etag' | 'crc64' | 'mtimeMs';

export interface SourceScheme<K extends SourceKind = SourceKind> {
  /** URL scheme without the colon. */
  scheme: string;
  kind: K;
  /** How a URL of the scheme is written, for fixes. */
  example: string;
  /** The typed descriptor, or what is wrong with the URL. */
  parse(url: string): DescriptorOf<K> | UrlProblem;
  identity: { fields: readonly IdentityField[] };
  capabilities: SourceCapabilities;
}

/** An entry of any kind (a union, since an entry's parse answers its own kind's descriptor). */
export type AnySourceScheme = { [K in SourceKind]: SourceScheme<K> }[SourceKind];

function httpScheme(scheme: 'http' | 'https'): SourceScheme<'http'> {
  return {
    scheme,
    kind: 'http',
    example: `${scheme}://host/path`,
    parse(url) {
      let u: URL;
      try {
        u = new URL(url);
      } catch {
        return { problem: 'is not a URL', fix: `write ${scheme}://host/path` };
      }
      if (!u.hostname) return { problem: 'has no host', fix: `write ${scheme}://host/path` };
      return { kind: 'http', url };
    },
    // An OSS signed URL publishes its CRC-64; a plain server an ETag (strong or weak) and Last-Modified.
    identity: { fields: ['size', 'etag', 'crc64', 'mtimeMs'] },
    capabilities: {
      rangedReads: true,
      validators: ['crc64', 'etag', 'mtime', 'none'],
      unpinnedPolicy: true,
      serverSideCopy: false,
      needs: [],
      screens: 'url-host',
      jobFields: [],
    },
  };
}

/** The registry's pure entries, by scheme. */
export const SOURCE_SCHEMES = Object.freeze({
  http: httpScheme('http'),
  https: httpScheme('https'),
  oss: {
    scheme: 'oss',
    kind: 'oss',
    example: 'oss://bucket/key',
    parse(url) {
      const loc = parseOssUrl(url);
      return typeof loc === 'string' ? { problem: loc, fix: 'write oss://bucket/key' } : { kind: 'oss', url, ...loc };
    },
    identity: { fields: ['size', 'etag', 'crc64', 'mtimeMs'] },
    capabilities: {
      rangedReads: true,
      validators: ['crc64'],
      unpinnedPolicy: false,
      serverSideCopy: true,
      needs: ['ossCredentials'],
      screens: 'oss-endpoint',
      jobFields: ['sourceEndpoint', 'sourceRegion'],
    },
  },
  sftp: {
    scheme: 'sftp',
    kind: 'sftp',
    example: 'sftp://user@host/path',
    parse(url) {
      const loc = sftpLocation(url);
      return 'problem' in loc ? loc : { kind: 'sftp', url };
    },
    // SFTP v3 has whole-second mtimes and no checksum: size + mtime, checked on every read (functions/sources/sftp.ts).
    identity: { fields: ['size', 'mtimeMs'] },
    capabilities: {
      rangedReads: true,
      validators: ['mtime'],
      unpinnedPolicy: false,
      serverSideCopy: false,
      needs: ['sshPrivateKey', 'sshHostKeyPin'],
      screens: 'url-host',
      jobFields: ['sftpHostKeyFingerprint'],
      // One sshd serves every connection: its CPU encrypts all of them, and its MaxStartups (10:30:100 by
      // default) refuses handshakes that arrive together. 16 workers × 2 connections is already past 10.
      autoWorkersCap: 16,
    },
  },
  file: {
    scheme: 'file',
    kind: 'file',
    example: 'file:///absolute/path',
    parse(url) {
      const fix = 'write file:///absolute/path';
      let u: URL;
      try {
        u = new URL(url);
      } catch {
        return { problem: 'is not a URL', fix };
      }
      if (u.hostname !== '' && u.hostname !== 'localhost') return { problem: `names host ${u.hostname}; file:// sources are local`, fix };
      if (u.search || u.hash) return { problem: 'has a query or fragment', fix: 'remove everything after the path' };
      if (u.pathname.endsWith('/')) return { problem: 'does not name a file', fix: 'append the file name' };
      let path: string;
      try {
        path = fileURLToPath(u);
      } catch {
        return { problem: 'is not a file path (an encoded "/" or NUL)', fix };
      }
      return { kind: 'file', url, path };
    },
    // Version tag of (dev, inode, size, mtime ns) checked on every read, and the content's CRC-64 (functions/sources/file.ts).
    identity: { fields: ['size', 'etag', 'crc64', 'mtimeMs'] },
    capabilities: {
      rangedReads: true,
      validators: ['crc64'],
      unpinnedPolicy: false,
      serverSideCopy: false,
      needs: ['fileSourceRoot'],
      screens: 'file-root',
      jobFields: [],
    },
  },
} satisfies Record<string, AnySourceScheme>);

export type SourceSchemeName = keyof typeof SOURCE_SCHEMES;

const entries = (): AnySourceScheme[] => Object.values(SOURCE_SCHEMES);

/** The URL forms every scheme accepts, for fixes: "http://host/path, https://host/path, oss://bucket/key, …". */
export function sourceExamples(): string {
  return entries().map((e) => e.example).join(', ');
}

/** The scheme of a URL-shaped string (`scheme://…`), lower case, else undefined (a plain path). */
export function urlScheme(s: string): string | undefined {
  return /^([a-z][a-z0-9+.-]*):\/\//i.exec(s)?.[1]?.toLowerCase();
}

/** The registry entry for a source URL, or what is wrong with it (no URL; a scheme no entry takes). */
export function sourceSchemeOf(url: string): AnySourceScheme | UrlProblem {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) return { problem: 'is not a URL', fix: `use ${sourceExamples()}` };
  const entry = (SOURCE_SCHEMES as Record<string, AnySourceScheme>)[scheme];
  return entry ?? { problem: `scheme ${scheme}: is not supported`, fix: `use ${sourceExamples()}` };
}

/** A source URL → its typed descriptor, or what is wrong with it. */
export function parseSource(url: string): SourceDescriptor | UrlProblem {
  const entry = sourceSchemeOf(url);
  return 'problem' in entry ? entry : entry.parse(url);
}

/** Capabilities of a kind (http and https share theirs). */
export function capabilitiesOf(kind: SourceKind): SourceCapabilities {
  return entries().find((e) => e.kind === kind)!.capabilities;
}

/** Schemes whose sources take a job field, e.g. sourceEndpoint → ["oss"]. */
export function schemesTaking(field: SourceJobField): AnySourceScheme[] {
  return entries().filter((e) => e.capabilities.jobFields.includes(field));
}

/**
 * The problem with setting `field` for a source of `kind`, or undefined when the kind takes it: "only applies
 * to oss:// sources", fix "remove it, or use an oss://bucket/key source".
 */
export function jobFieldProblem(field: SourceJobField, kind: SourceKind): UrlProblem | undefined {
  if (capabilitiesOf(kind).jobFields.includes(field)) return undefined;
  const takers = schemesTaking(field);
  return {
    problem: `only applies to ${takers.map((e) => `${e.scheme}://`).join(' and ')} sources`,
    fix: `remove it, or use an ${takers.map((e) => e.example).join(' or ')} source`,
  };
}
