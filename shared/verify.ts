/**
 * `ossferry verify`: what a stored object must match, decided from facts gathered elsewhere (pure, no I/O).
 * A copy must match its own x-oss-hash-crc64ecma and size (and the source CRC-64 recorded at copy time, when the
 * source had one); an archive's decoded content must match the uncompressed size and CRC-64 ossferry recorded
 * as metadata (users want a verify command, and the uncompressed CRC is the only end-to-end check that survives compression).
 */
import { crc64FromWire } from './crc64/wire.ts';

/** x-oss-meta-* keys (without the prefix) that ossferry records on the objects it writes. */
export const OBJECT_META = Object.freeze({
  JOB_ID: 'ossferry-job-id',
  SOURCE_SIZE: 'source-size',
  SOURCE_CRC64: 'source-crc64',
  /** "true" when the job copied a source without a strong validator under unpinned: trust (shared/pinning.ts). */
  UNPINNED: 'ossferry-unpinned',
});

/** x-oss-meta-* keys an archive carries besides the source identity. */
export const ARCHIVE_META = Object.freeze({
  UNCOMPRESSED_SIZE: 'uncompressed-size',
  UNCOMPRESSED_CRC64: 'uncompressed-crc64',
  FORMAT: 'ossferry-format',
  MEMBER_SIZE: 'gzip-member-size',
  LEVEL: 'gzip-level',
});

/** What HEAD says about the object. `meta` keys are lower case without the x-oss-meta- prefix. */
export interface StoredObject {
  size: number;
  /** x-oss-hash-crc64ecma; undefined when OSS sent none (objects written before CRC-64 existed). */
  crc64?: bigint;
  meta: Readonly<Record<string, string>>;
}

/** Size and CRC-64 of a byte stream that was actually read (a local file, the object, its decoded content). */
export interface Measured {
  size: number;
  crc64: bigint;
}

export interface VerifyCheck {
  /** What was compared, e.g. "local file CRC-64 vs x-oss-hash-crc64ecma". */
  what: string;
  expected: string;
  actual: string;
  ok: boolean;
}

/** Copied from a source without a strong validator under unpinned: trust: its bytes can verify and still mix two versions. */
export function isUnpinned(o: StoredObject): boolean {
  return o.meta[OBJECT_META.UNPINNED] === 'true';
}

/** An ossferry archive: gzip members whose uncompressed size and CRC-64 are recorded as metadata. */
export function isArchive(o: StoredObject): boolean {
  return o.meta[ARCHIVE_META.FORMAT] === 'gzip-members' || o.meta[ARCHIVE_META.UNCOMPRESSED_CRC64] !== undefined;
}

function check(what: string, expected: string | bigint | number | undefined, actual: string | bigint | number): VerifyCheck {
  const e = expected === undefined ? '(not recorded)' : String(expected);
  return { what, expected: e, actual: String(actual), ok: expected !== undefined && e === String(actual) };
}

/** A metadata CRC-64 as bigint; a malformed value stays a string so the check shows it and fails. */
function metaCrc(o: StoredObject, key: string): bigint | string | undefined {
  const v = o.meta[key];
  if (v === undefined) return undefined;
  try {
    return crc64FromWire(v, `x-oss-meta-${key}`);
  } catch {
    return `${v} (malformed)`;
  }
}

/** The content an ossferry object stands for: for an archive its uncompressed bytes, for a copy the object. */
function contentChecks(o: StoredObject, got: Measured, label: string): VerifyCheck[] {
  if (isArchive(o)) {
    return [
      check(`${label} size vs x-oss-meta-${ARCHIVE_META.UNCOMPRESSED_SIZE}`, o.meta[ARCHIVE_META.UNCOMPRESSED_SIZE], got.size),
      check(`${label} CRC-64 vs x-oss-meta-${ARCHIVE_META.UNCOMPRESSED_CRC64}`, metaCrc(o, ARCHIVE_META.UNCOMPRESSED_CRC64), got.crc64),
    ];
  }
  const out = [check(`${label} size vs Content-Length`, o.size, got.size), check(`${label} CRC-64 vs x-oss-hash-crc64ecma`, o.crc64, got.crc64)];
  const source = metaCrc(o, OBJECT_META.SOURCE_CRC64);
  if (source !== undefined) out.push(check(`${label} CRC-64 vs x-oss-meta-${OBJECT_META.SOURCE_CRC64}`, source, got.crc64));
  return out;
}

/** A local file that should be what the object holds (for an archive: the file before compression). */
export function checkLocalFile(o: StoredObject, file: Measured): VerifyCheck[] {
  return contentChecks(o, file, 'local file');
}

/**
 * The object read back: its bytes against OSS's own size and CRC-64, and for an archive the decoded bytes
 * (`decoded`, every gzip member) against the recorded uncompressed size and CRC-64; `decoded` is the decoder's
 * error message when the gzip stream does not decode.
 */
export function checkStoredBytes(o: StoredObject, read: Measured, decoded?: Measured | string): VerifyCheck[] {
  const out = [check('bytes read size vs Content-Length', o.size, read.size), check('bytes read CRC-64 vs x-oss-hash-crc64ecma', o.crc64, read.crc64)];
  if (!isArchive(o)) {
    const source = metaCrc(o, OBJECT_META.SOURCE_CRC64);
    if (source !== undefined) out.push(check(`bytes read CRC-64 vs x-oss-meta-${OBJECT_META.SOURCE_CRC64}`, source, read.crc64));
    return out;
  }
  if (decoded === undefined || typeof decoded === 'string') return [...out, { what: 'gzip decode', expected: 'every member decodes', actual: decoded ?? 'not decoded', ok: false }];
  return [...out, ...contentChecks(o, decoded, 'decoded content')];
}
