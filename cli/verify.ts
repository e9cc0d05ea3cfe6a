/**
 * `ossferry verify oss://bucket/key [--against FILE]`: proves an object against what it should hold, outside the
 * copy path. With --against, a local file's size and CRC-64 are compared with the object's (for an archive:
 * with the recorded uncompressed size and CRC-64) and nothing is downloaded. Without it, the object is read
 * back: its bytes against OSS's own x-oss-hash-crc64ecma, and an archive's decoded content (every gzip member,
 * Node zlib) against the recorded uncompressed size and CRC-64. When the job's receipt is found (next to its status
 * object: --status-location, --data-dir or OSSFERRY_STATUS_LOCATION), it is checked too: it must be this object's,
 * its parts must recombine to the object's CRC-64, and the content must match what it records (for an archive the
 * decoded bytes against its uncompressed CRC-64). Exit 0 verified, 1 a check failed, 2 bad input.
 */
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import type OSS from 'ali-oss';
import { crc64 } from '../shared/crc64/index.ts';
import { crc64FromWire } from '../shared/crc64/wire.ts';
import { InvalidInputError } from '../shared/errors.ts';
import { parseOssUrl } from '../shared/job.ts';
import { toJsonValue } from '../shared/json.ts';
import { checkAgainstReceipt, checkReceipt, receiptFor, type FoundReceipt } from '../shared/receipt.ts';
import { checkLocalFile, checkStoredBytes, isArchive, isUnpinned, OBJECT_META, type Measured, type StoredObject, type VerifyCheck } from '../shared/verify.ts';
import { readReceipt } from '../functions/status/receipt.ts';
import { parseStatusLocation } from '../functions/status/store.ts';
import { ossAccess, statusLocationOf, type OssAccessFlags } from './oss-access.ts';

export interface VerifyOptions extends OssAccessFlags {
  against?: string;
  json?: boolean;
  statusLocation?: string;
}

/** Reads a local file with large buffers, computing its size and CRC-64 (ISA-L). */
export async function measureFile(path: string): Promise<Measured> {
  const fh = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
    throw new InvalidInputError('--against', `cannot read ${JSON.stringify(path)} (${e.code ?? e.message})`, 'pass a readable local file', { cause: e });
  });
  try {
    const buf = Buffer.allocUnsafe(8 * 1024 * 1024);
    let size = 0;
    let crc = 0n;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, size);
      if (bytesRead === 0) return { size, crc64: crc };
      crc = crc64(buf.subarray(0, bytesRead), crc);
      size += bytesRead;
    }
  } finally {
    await fh.close();
  }
}

/** HEAD of the object: size, OSS's CRC-64 and the x-oss-meta-* values; undefined when it does not exist. */
export async function headStoredObject(client: OSS, key: string): Promise<StoredObject | undefined> {
  let res: OSS.HeadObjectResult;
  try {
    res = await client.head(key);
  } catch (e) {
    if ((e as { status?: number }).status === 404) return undefined;
    throw e;
  }
  const h = res.res.headers as Record<string, string | undefined>;
  const crc = h['x-oss-hash-crc64ecma'];
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (k.startsWith('x-oss-meta-') && v !== undefined) meta[k.slice('x-oss-meta-'.length)] = v;
  return { size: Number(h['content-length'] ?? 0), ...(crc !== undefined ? { crc64: crc64FromWire(crc, 'x-oss-hash-crc64ecma') } : {}), meta };
}

/**
 * Reads the object once: size and CRC-64 of its bytes and, with `gunzip`, of the decoded bytes. A stream that
 * does not decode yields `decodeError` (a failed check), not an exception; a body that ends early shows as a
 * size and CRC-64 that differ from HEAD's, and a failed connection is thrown.
 */
export async function readStoredBytes(client: OSS, key: string, gunzip: boolean): Promise<{ read: Measured; decoded?: Measured; decodeError?: string }> {
  const got = await client.getStream(key);
  const read = { size: 0, crc64: 0n };
  const decoded = { size: 0, crc64: 0n };
  const measure = (m: { size: number; crc64: bigint }) =>
    async function* (src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
      for await (const c of src) {
        m.crc64 = crc64(c, m.crc64);
        m.size += c.length;
        yield c;
      }
    };
  const drain = async (src: AsyncIterable<Buffer>) => {
    for await (const _c of src);
  };
  if (!gunzip) {
    await pipeline(got.stream as Readable, measure(read), drain);
    return { read };
  }
  try {
    // zlib's gunzip decodes every concatenated member (some decoders stop after the first).
    await pipeline(got.stream as Readable, measure(read), zlib.createGunzip(), measure(decoded), drain);
    return { read, decoded };
  } catch (e) {
    // zlib's own errors (Z_DATA_ERROR, Z_BUF_ERROR: corrupt or truncated gzip) are a failed check; I/O errors are
    // not. The decoder stopped the read part-way, so the stored bytes are measured again in full.
    if (!/^Z_/.test(String((e as NodeJS.ErrnoException).code))) throw e;
    return { read: (await readStoredBytes(client, key, false)).read, decodeError: (e as Error).message };
  }
}

export interface VerifyOutcome {
  target: string;
  archive: boolean;
  /** The object says it was copied unpinned: the checks prove the bytes, not that they are one source version. */
  unpinned: boolean;
  stored: StoredObject;
  /** Where the job's receipt was looked for and what was found (checked, absent, unusable). */
  receipt: string;
  checks: VerifyCheck[];
  verified: boolean;
}

/**
 * Checks `key` against `against` (the content it should hold, measured elsewhere: a local file) and, with
 * `read`, reads it back (see the module comment). Throws for a missing object and for I/O failures.
 */
export async function verifyObject(
  client: OSS,
  target: string,
  key: string,
  how: { against?: Measured; read?: boolean; receipt?: (jobId: string) => Promise<FoundReceipt> },
): Promise<VerifyOutcome> {
  const stored = await headStoredObject(client, key);
  if (!stored) throw new InvalidInputError('target', `${target} does not exist`, 'check the bucket and key (ossferry copy prints the destination)');
  const archive = isArchive(stored);
  const jobId = stored.meta[OBJECT_META.JOB_ID];
  const found: FoundReceipt = !how.receipt ? { kind: 'none', why: 'no status location given' } : !jobId ? { kind: 'none', why: 'the object names no ossferry job' } : await how.receipt(jobId);
  // A receipt is used only once it is shown to be this object's (checkReceipt reports one that is not).
  const receipt = receiptFor(found, target, stored);
  const checks: VerifyCheck[] = [...checkReceipt(found, target, stored)];
  if (how.against) {
    checks.push(...checkLocalFile(stored, how.against));
    if (receipt) checks.push(...checkAgainstReceipt(receipt, how.against, 'local file'));
  }
  if (how.read) {
    const r = await readStoredBytes(client, key, archive);
    checks.push(...checkStoredBytes(stored, r.read, r.decodeError ?? r.decoded));
    const content = archive ? r.decoded : r.read;
    if (receipt && content && !r.decodeError) checks.push(...checkAgainstReceipt(receipt, content, archive ? 'decoded content' : 'bytes read'));
  }
  const receiptNote = found.kind === 'none' ? `none (${found.why})` : found.kind === 'unusable' ? `unusable: ${found.problem}` : receipt ? 'checked' : 'not this object\'s: not used';
  return { target, archive, unpinned: isUnpinned(stored), stored, receipt: receiptNote, checks, verified: checks.length > 0 && checks.every((c) => c.ok) };
}

export async function verifyCommand(target: string, o: VerifyOptions): Promise<number> {
  const dest = parseOssUrl(target);
  if (typeof dest === 'string') throw new InvalidInputError('target', `${JSON.stringify(target)} ${dest}`, 'use oss://bucket/key');
  const access = await ossAccess(o, 'ossferry copy');
  try {
    // With --against nothing is downloaded; without it the object is read back.
    const how = o.against !== undefined ? { against: await measureFile(o.against) } : { read: true };
    const location = statusLocationOf(o);
    const loc = location !== undefined ? parseStatusLocation(location, '--status-location') : undefined;
    const receipt = loc ? (jobId: string) => readReceipt(access.client(loc.bucket), loc, jobId) : undefined;
    const outcome = await verifyObject(access.client(dest.bucket), target, dest.key, { ...how, ...(receipt ? { receipt } : {}) });
    printVerify(outcome, o.json);
    return outcome.verified ? 0 : 1;
  } finally {
    await access.close();
  }
}

export function printVerify(v: VerifyOutcome, json = false): void {
  if (json) {
    const { stored: _stored, ...rest } = v;
    process.stdout.write(JSON.stringify(toJsonValue(rest)) + '\n');
    return;
  }
  const w = Math.max(...v.checks.map((c) => c.what.length));
  process.stdout.write(`\n  ${v.target}${v.archive ? ' (ossferry archive: gzip members)' : ''}\n`);
  for (const c of v.checks) process.stdout.write(`  ${c.ok ? 'ok  ' : 'FAIL'}  ${c.what.padEnd(w)}  ${c.ok ? c.actual : `expected ${c.expected}, got ${c.actual}`}\n`);
  process.stdout.write(`\n  receipt  ${v.receipt}\n`);
  if (v.unpinned) process.stdout.write(`\n  note  the source had no strong validator and was copied unpinned (unpinned: trust): a change during the copy would not have been seen\n`);
  process.stdout.write(`\n  ${v.verified ? 'verified' : 'VERIFICATION FAILED'}\n\n`);
}
