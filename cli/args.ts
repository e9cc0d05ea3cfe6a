/**
 * Parsing and checking of CLI values: sizes ("1GiB", "100MB", "4096"), whole numbers, and the job spec a
 * command line describes. Every problem is an InvalidInputError naming the flag and the fix.
 */
import { InvalidInputError } from '../shared/errors.ts';
import { SFTP_FINGERPRINT_RE, type JobSpecInput } from '../shared/job.ts';
import { OBJECT_ACLS, SSE_ALGORITHMS, STORAGE_CLASSES, type ObjectOptionsInput } from '../shared/attributes.ts';
import { UNPINNED_POLICIES, type UnpinnedPolicy } from '../shared/pinning.ts';
import { jobFieldProblem, parseSource, urlScheme } from '../shared/sources.ts';

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};

/** "1GiB" → 1073741824; "1.5MB" → 1500000; "4096" → 4096. */
export function parseSize(flag: string, text: string): number {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m?.[2]?.toLowerCase() ?? '';
  if (!m || !(unit in UNITS)) {
    throw new InvalidInputError(flag, `${JSON.stringify(text)} is not a size`, 'use a byte count or a number with a unit: B, KB, KiB, MB, MiB, GB, GiB (e.g. 1GiB)');
  }
  const n = Math.round(Number(m[1]) * UNITS[unit]!);
  if (!Number.isSafeInteger(n)) throw new InvalidInputError(flag, `${text} is too large`, 'use a smaller size');
  return n;
}

export function parseWhole(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\s*[0-9]+\s*$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new InvalidInputError(flag, `${JSON.stringify(text)} is not a whole number between ${min} and ${max}`, `pass e.g. ${flag} ${Math.min(max, Math.max(min, 4))}`);
  }
  return n;
}

export interface TransferFlags {
  partSize?: string;
  workers?: string;
  streams?: string;
  overwrite?: boolean;
  expectedSize?: string;
  expectedCrc64?: string;
  sourceEndpoint?: string;
  sourceRegion?: string;
  /** Archive mode: gzip into independent members. */
  gzip?: boolean;
  gzipLevel?: string;
  /** SFTP host key pin → job sftpHostKeyFingerprint. */
  sftpHostKey?: string;
  /** Unpinned-source policy → job unpinned. */
  unpinned?: string;
  /** Destination object attributes → job object. `preserve` is false with --no-preserve. */
  preserve?: boolean;
  storageClass?: string;
  sse?: string;
  sseKmsKeyId?: string;
  tag?: string[];
  acl?: string;
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new InvalidInputError(flag, `${JSON.stringify(value)} is not one of ${allowed.join(', ')}`, `pass e.g. ${flag} ${allowed[0]}`);
  return value as T;
}

/** The job's `object` field from the attribute flags; undefined when none was given. */
function objectFromFlags(f: TransferFlags): ObjectOptionsInput | undefined {
  const o: ObjectOptionsInput = {};
  if (f.preserve === false) o.preserve = false;
  if (f.storageClass !== undefined) o.storageClass = oneOf('--storage-class', f.storageClass, STORAGE_CLASSES);
  if (f.sse !== undefined) o.serverSideEncryption = oneOf('--sse', f.sse, SSE_ALGORITHMS);
  if (f.sseKmsKeyId !== undefined) o.kmsKeyId = f.sseKmsKeyId;
  if (f.acl !== undefined) o.acl = oneOf('--acl', f.acl, OBJECT_ACLS);
  for (const t of f.tag ?? []) {
    const eq = t.indexOf('=');
    if (eq <= 0) throw new InvalidInputError('--tag', `${JSON.stringify(t)} is not key=value`, 'pass e.g. --tag project=alpha (repeat for more tags)');
    (o.tags ??= {})[t.slice(0, eq)] = t.slice(eq + 1);
  }
  return Object.keys(o).length > 0 ? o : undefined;
}

/** The job spec for `ossferry copy`; the coordinator validates it again (shared/job.ts). */
export function jobSpecFromFlags(source: string, destination: string, f: TransferFlags): JobSpecInput {
  const spec: JobSpecInput = { source, destination };
  if (f.partSize !== undefined) spec.partSize = f.partSize === 'auto' ? 'auto' : parseSize('--part-size', f.partSize);
  if (f.workers !== undefined) spec.workers = f.workers === 'auto' ? 'auto' : parseWhole('--workers', f.workers, 1, 300);
  if (f.streams !== undefined) spec.streamsPerWorker = parseWhole('--streams', f.streams, 1, 64);
  if (f.overwrite) spec.overwrite = true;
  if (f.expectedSize !== undefined) spec.expectedSize = parseSize('--expected-size', f.expectedSize);
  if (f.expectedCrc64 !== undefined) {
    if (!/^[0-9]{1,20}$/.test(f.expectedCrc64)) {
      throw new InvalidInputError('--expected-crc64', `${JSON.stringify(f.expectedCrc64)} is not a decimal CRC-64`, 'pass the unsigned decimal value, as in x-oss-hash-crc64ecma');
    }
    spec.expectedCrc64 = f.expectedCrc64;
  }
  if (f.sourceEndpoint !== undefined) spec.sourceEndpoint = f.sourceEndpoint;
  if (f.sourceRegion !== undefined) spec.sourceRegion = f.sourceRegion;
  const object = objectFromFlags(f);
  if (object !== undefined) spec.object = object;
  if (f.unpinned !== undefined) {
    if (!(UNPINNED_POLICIES as readonly string[]).includes(f.unpinned)) {
      throw new InvalidInputError('--unpinned', `${JSON.stringify(f.unpinned)} is not a policy`, `pass ${UNPINNED_POLICIES.slice(0, -1).join(', ')} or ${UNPINNED_POLICIES.at(-1)}`);
    }
    spec.unpinned = f.unpinned as UnpinnedPolicy;
  }
  if (f.gzipLevel !== undefined && !f.gzip) {
    throw new InvalidInputError('--gzip-level', 'only applies with --gzip', 'add --gzip (archive mode), or remove --gzip-level');
  }
  if (f.gzip) {
    spec.mode = 'archive';
    if (f.gzipLevel !== undefined) spec.gzipLevel = parseWhole('--gzip-level', f.gzipLevel, 0, 3) as 0 | 1 | 2 | 3;
  }
  if (f.sftpHostKey !== undefined) {
    // A plain path is a local file; a URL the registry does not take is refused by the job schema.
    const parsed = parseSource(source);
    const kind = 'problem' in parsed ? (urlScheme(source) === undefined ? 'file' : undefined) : parsed.kind;
    const problem = kind === undefined ? undefined : jobFieldProblem('sftpHostKeyFingerprint', kind);
    if (problem) throw new InvalidInputError('--sftp-host-key', problem.problem, problem.fix);
    if (!SFTP_FINGERPRINT_RE.test(f.sftpHostKey)) {
      throw new InvalidInputError(
        '--sftp-host-key',
        `${JSON.stringify(f.sftpHostKey.slice(0, 80))} is not a SHA256 host key fingerprint`,
        'pass SHA256:<43 base64 characters> as `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` prints it on the server',
      );
    }
    spec.sftpHostKeyFingerprint = f.sftpHostKey;
  }
  return spec;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(2)} ${units[i]}`;
}
