/**
 * The job spec: what to move, where to, and how. A zod schema validates the wire form (JSON from the CLI,
 * an OSS event or an invocation) and turns it into a typed `Job`; every error is an InvalidInputError that
 * names the field and the fix. Also the deterministic job id (same source version + destination → same id,
 * so a re-run resumes instead of starting over; the destination's parts, not a local checkpoint, say what is done).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { DEFAULT_GZIP_LEVEL, type GzipLevel } from './archive-rules.ts';
import { objectOptionsProblem, objectOptionsSchema, sourceBaseName, type ObjectOptions } from './attributes.ts';
import { crc64FromWire } from './crc64/wire.ts';
import { InvalidInputError } from './errors.ts';
import { valueAt } from './issue-path.ts';
import { OSS } from './limits.ts';
import { endpointSyntax } from './oss-endpoint.ts';
import { ossUrl, parseOssUrl, type OssLocation } from './oss-url.ts';
import { DEFAULT_UNPINNED_POLICY, UNPINNED_POLICIES, type UnpinnedPolicy } from './pinning.ts';
import { jobFieldProblem, parseSource, sourceExamples, type SourceDescriptor, type SourceJobField } from './sources.ts';

export { ossUrl, parseOssUrl, type OssLocation };

/** Where the bytes come from: a descriptor of the source registry (shared/sources.ts). */
export type SourceRef = SourceDescriptor;

interface JobBase {
  source: SourceRef;
  destination: OssLocation;
  /** Part size in bytes, or 'auto' (shared/plan.ts choosePartSize). */
  partSize: number | 'auto';
  /** Upper bound on parallel worker instances; 'auto' grows with the size (shared/plan.ts resolveWorkers). */
  workers: number | 'auto';
  /** Parts each worker uploads at once. */
  streamsPerWorker: number;
  /** Replace an existing destination object. Off by default: Complete sends x-oss-forbid-overwrite. */
  overwrite: boolean;
  /** Fail before any upload when the source size differs. */
  expectedSize?: number;
  /** Fail verification when the whole-object CRC-64 differs. */
  expectedCrc64?: bigint;
  /**
   * SFTP host key pin (`SHA256:…` as `ssh-keygen -lf` prints it), sftp:// sources only. The private key is
   * never part of a job: it comes from the functions' env OSSFERRY_SFTP_PRIVATE_KEY (a secret in the cloud).
   */
  sftpHostKeyFingerprint?: string;
  /** What to do with a source that has no strong validator (shared/pinning.ts). Default refuse. */
  unpinned: UnpinnedPolicy;
  /** Attributes of the destination object: kept from the source, storage class, encryption, tags, ACL. */
  object: ObjectOptions;
  /**
   * A stable name for a source whose URL is not stable across runs (a local file the CLI serves on a random
   * port: `file:///abs/path`). It replaces the URL in the job id, so such jobs resume like any other.
   */
  sourceName?: string;
}

/** A validated job. `mode` discriminates: archive (gzip) carries its level. */
export type Job = (JobBase & { mode: 'copy' }) | (JobBase & { mode: 'archive'; gzipLevel: GzipLevel });

export const JOB_DEFAULTS = Object.freeze({ workers: 'auto' as const, streamsPerWorker: 8, maxWorkers: 300, maxStreams: 64 });

const ossUrlString = z.string().superRefine((s, ctx) => {
  const r = parseOssUrl(s);
  if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s.slice(0, 80))} ${r}` });
});

// Any scheme of the source registry, parsed by its entry.
const sourceString = z.string().superRefine((s, ctx) => {
  const r = parseSource(s);
  if ('problem' in r) ctx.addIssue({ code: 'custom', message: r.problem });
});

// Shape only here; whether the endpoint may receive credentials is decided where they live (functions/sources/oss-endpoint.ts).
const endpointString = z.string().superRefine((s, ctx) => {
  const r = endpointSyntax(s);
  if (!r.ok) ctx.addIssue({ code: 'custom', message: r.detail });
});

/** `SHA256:` + unpadded base64 of a 32-byte digest, as `ssh-keygen -lf -E sha256` prints it. */
export const SFTP_FINGERPRINT_RE = /^SHA256:[A-Za-z0-9+/]{43}$/;

const intIn = (min: number, max: number) => z.number().int().min(min).max(max);

/** Wire form of a job (JSON). */
export const jobSpecSchema = z.strictObject({
  source: sourceString,
  sourceEndpoint: endpointString.optional(),
  sourceRegion: z.string().regex(/^(oss-)?[a-z]{2,}-[a-z0-9-]+$/).optional(),
  destination: ossUrlString,
  mode: z.enum(['copy', 'archive']).default('copy'),
  gzipLevel: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)]).optional(),
  partSize: z.union([z.literal('auto'), intIn(OSS.MIN_PART_SIZE, OSS.MAX_PART_SIZE)]).default('auto'),
  workers: z.union([z.literal('auto'), intIn(1, JOB_DEFAULTS.maxWorkers)]).default(JOB_DEFAULTS.workers),
  streamsPerWorker: intIn(1, JOB_DEFAULTS.maxStreams).default(JOB_DEFAULTS.streamsPerWorker),
  overwrite: z.boolean().default(false),
  expectedSize: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  expectedCrc64: z.string().optional(),
  unpinned: z.enum(UNPINNED_POLICIES).default(DEFAULT_UNPINNED_POLICY),
  object: objectOptionsSchema.optional(),
  sftpHostKeyFingerprint: z
    .string()
    .regex(SFTP_FINGERPRINT_RE, { message: 'is not a SHA256:<43 base64 characters> host key fingerprint' })
    .optional(),
  sourceName: z.string().min(1).max(2048).optional(),
});

/** The JSON a caller sends. */
export type JobSpecInput = z.input<typeof jobSpecSchema>;

/** How to fix each field; the message of every InvalidInputError ends with one of these. */
export const JOB_FIXES: Readonly<Record<string, string>> = Object.freeze({
  source: `use ${sourceExamples()} (sftp:// where SFTP is configured, file:// only where file sources are enabled)`,
  sourceEndpoint: 'use an OSS endpoint such as https://oss-cn-beijing.aliyuncs.com, only with an oss:// source',
  sourceRegion: 'use a region id such as cn-beijing or oss-cn-beijing, only with an oss:// source',
  destination: 'use oss://bucket/key with an existing bucket and a key without a leading "/"',
  mode: 'use "copy" or "archive"',
  gzipLevel: 'use 0, 1, 2 or 3, only with mode "archive"',
  partSize: `use "auto" or a byte count between ${OSS.MIN_PART_SIZE} (100 KB) and ${OSS.MAX_PART_SIZE} (5 GB)`,
  workers: `use "auto" (16 workers up to 2 GiB, one more per 128 MiB above) or a whole number between 1 and ${JOB_DEFAULTS.maxWorkers}`,
  streamsPerWorker: `use a whole number between 1 and ${JOB_DEFAULTS.maxStreams}`,
  overwrite: 'write true or false (default false: an existing destination is never replaced)',
  expectedSize: 'use the source size in bytes, or omit it',
  expectedCrc64: 'use the unsigned decimal CRC-64 (as in x-oss-hash-crc64ecma), or omit it',
  object:
    'use {"preserve": true|false, "storageClass": "Standard|IA|Archive|ColdArchive|DeepColdArchive", "serverSideEncryption": "AES256|KMS|SM4", "kmsKeyId": "…", "tags": {"k": "v"}, "acl": "default|private|public-read|public-read-write"} (CLI: --no-preserve, --storage-class, --sse, --sse-kms-key-id, --tag k=v, --acl)',
  unpinned: 'use "refuse" (default: an http(s) source without a strong ETag or CRC-64 is refused), "reread" (each uploaded range read again and compared) or "trust" (copied and marked unpinned)',
  sftpHostKeyFingerprint:
    'use the server host key fingerprint as `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` prints it (SHA256:<43 base64 characters>), only with an sftp:// source',
  sourceName: 'use a stable name for the source such as file:///absolute/path (1..2048 characters), or omit it',
});

function pathString(root: string, path: readonly PropertyKey[]): string {
  let out = root;
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

/**
 * Parses `input` with `schema`; on failure throws InvalidInputError for the first issue, naming the full
 * field path (prefixed with `root`) and the fix from `fixes` (looked up by the dotted path without array
 * indices, then by its first segment).
 */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  input: unknown,
  fixes: Readonly<Record<string, string>>,
  root = '',
): z.output<S> {
  const res = schema.safeParse(input);
  if (res.success) return res.data;
  const issue = res.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const field = pathString(root, [...issue.path, issue.keys[0]!]);
    throw new InvalidInputError(field, 'is not a known field', `remove it; known fields: ${Object.keys(fixes).join(', ')}`);
  }
  const field = pathString(root, issue.path) || root || '(input)';
  const dotted = issue.path.filter((p) => typeof p !== 'number').map(String).join('.');
  const fix = fixes[dotted] ?? fixes[String(issue.path[0] ?? '')] ?? 'see the schema documentation';
  const missing = issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined;
  throw new InvalidInputError(field, missing ? 'is required' : issue.message, fix);
}

/**
 * Validates a job spec and returns the typed job. Throws InvalidInputError naming the field and the fix,
 * e.g. `destination: "s3://b/k" must start with oss://. Fix: use oss://bucket/key …`.
 */
export function parseJob(input: unknown): Job {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new InvalidInputError('job', 'must be a JSON object', 'send {"source": "...", "destination": "oss://bucket/key"}');
  }
  // A source the registry refuses is reported with its own entry's fix (e.g. "write file:///absolute/path").
  const raw = (input as { source?: unknown }).source;
  const sourceProblem = typeof raw === 'string' ? parseSource(raw) : undefined;
  if (sourceProblem && 'problem' in sourceProblem) throw new InvalidInputError('source', sourceProblem.problem, sourceProblem.fix);
  const spec = parseOrThrow(jobSpecSchema, input, JOB_FIXES);
  const source = parseSource(spec.source) as SourceRef;
  for (const field of ['sourceEndpoint', 'sourceRegion', 'sftpHostKeyFingerprint'] as const satisfies readonly SourceJobField[]) {
    const problem = spec[field] === undefined ? undefined : jobFieldProblem(field, source.kind);
    if (problem) throw new InvalidInputError(field, problem.problem, problem.fix);
  }
  if (source.kind === 'oss') {
    if (spec.sourceEndpoint !== undefined) source.endpoint = spec.sourceEndpoint;
    if (spec.sourceRegion !== undefined) source.region = spec.sourceRegion.replace(/^oss-/, '');
  }
  if (spec.mode === 'copy' && spec.gzipLevel !== undefined) {
    throw new InvalidInputError('gzipLevel', 'only applies to mode "archive"', 'remove gzipLevel, or set mode to "archive"');
  }
  const destination = parseOssUrl(spec.destination) as OssLocation;
  if (destination.key.endsWith('/')) {
    // A "directory" destination takes the source's base name (and .gz for an archive).
    const base = sourceBaseName(spec.source);
    if (base === undefined) throw new InvalidInputError('destination', `ends in "/" but the source ${JSON.stringify(spec.source.slice(0, 80))} has no file name`, 'name the destination object in full');
    destination.key += spec.mode === 'archive' && !base.endsWith('.gz') ? `${base}.gz` : base;
    if (Buffer.byteLength(destination.key) > OSS.MAX_KEY_BYTES) throw new InvalidInputError('destination', `with the source name added is longer than ${OSS.MAX_KEY_BYTES} bytes`, 'use a shorter prefix or name the object in full');
  }
  const object = objectOptionsSchema.parse(spec.object ?? {});
  const objectProblem = objectOptionsProblem(object);
  if (objectProblem) throw new InvalidInputError(objectProblem.field, objectProblem.problem, objectProblem.fix);
  if (source.kind === 'oss' && source.bucket === destination.bucket && source.key === destination.key && source.endpoint === undefined) {
    throw new InvalidInputError('destination', 'is the same object as the source', 'choose a different destination key');
  }
  const base: JobBase = {
    source,
    destination,
    partSize: spec.partSize,
    workers: spec.workers,
    streamsPerWorker: spec.streamsPerWorker,
    overwrite: spec.overwrite,
    unpinned: spec.unpinned,
    object,
  };
  if (spec.expectedSize !== undefined) base.expectedSize = spec.expectedSize;
  if (spec.expectedCrc64 !== undefined) base.expectedCrc64 = crc64FromWire(spec.expectedCrc64, 'expectedCrc64');
  if (spec.sftpHostKeyFingerprint !== undefined) base.sftpHostKeyFingerprint = spec.sftpHostKeyFingerprint;
  if (spec.sourceName !== undefined) base.sourceName = spec.sourceName;
  return spec.mode === 'archive'
    ? { ...base, mode: 'archive', gzipLevel: spec.gzipLevel ?? DEFAULT_GZIP_LEVEL }
    : { ...base, mode: 'copy' };
}

/** What identifies one version of a source (the RangeSource `SourceIdentity`, functions/sources/types.ts). */
export interface SourceFingerprint {
  /** Total size in bytes. */
  size: number;
  /**
   * ETag (HTTP/OSS; a strong one is quoted and sent as If-Match on every ranged read), or a kind's own
   * version tag (a local file's `file:<dev>:<ino>:<size>:<mtime ns>`), checked on every read.
   */
  etag?: string;
  /** Whole-object CRC-64 when the source publishes one (OSS `x-oss-hash-crc64ecma`). */
  crc64?: bigint;
  /** Modification time in ms since epoch (SFTP; HTTP Last-Modified when no ETag). */
  mtimeMs?: number;
}

// Query parameters that carry a signature or its expiry: a re-signed URL is the same source.
const SIGNING_PARAMS = /^(x-amz-.*|x-oss-(signature.*|credential|date|expires|security-token|signature-version|additional-headers)|signature|expires|ossaccesskeyid|security-token|awsaccesskeyid)$/i;

/** A URL with userinfo and signing parameters removed: stable across re-signing, safe to hash. */
export function stableSourceUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    for (const k of [...u.searchParams.keys()]) if (SIGNING_PARAMS.test(k)) u.searchParams.delete(k);
    u.searchParams.sort();
    return u.toString();
  } catch {
    return url;
  }
}

/** What a job does with the source, beyond where it comes from and goes to: part of the job's identity. */
export interface JobHow {
  mode: 'copy' | 'archive';
  gzipLevel?: number;
}

/**
 * Deterministic job id: sha256 over the source's name (its URL without credentials or signature, or the
 * job's `sourceName`), its version (size, ETag, CRC-64, mtime), the destination, the mode and the options
 * that change the result (gzip level). Same inputs → same id → the coordinator finds the earlier status
 * object, lease and upload and resumes. 32 lowercase hex characters prefixed with "j".
 */
export function jobIdFor(source: { url: string; identity: SourceFingerprint }, destination: OssLocation | string, how: JobHow = { mode: 'copy' }): string {
  const dest = typeof destination === 'string' ? destination : ossUrl(destination);
  const id = source.identity;
  const material = JSON.stringify([
    'ossferry-job-v2',
    stableSourceUrl(source.url),
    id.size,
    id.etag ?? null,
    id.crc64 === undefined ? null : id.crc64.toString(10),
    id.mtimeMs ?? null,
    dest,
    how.mode,
    how.mode === 'archive' ? (how.gzipLevel ?? null) : null,
  ]);
  return 'j' + createHash('sha256').update(material).digest('hex').slice(0, 32);
}

/** The id of `job` at source version `identity`. */
export function jobIdOf(job: Job, identity: SourceFingerprint): string {
  return jobIdFor({ url: job.sourceName ?? job.source.url, identity }, job.destination, job.mode === 'archive' ? { mode: 'archive', gzipLevel: job.gzipLevel } : { mode: 'copy' });
}
