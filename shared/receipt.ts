/**
 * The verification receipt of a finished job: a JSON object next to its status object (`<jobId>.receipt.json`)
 * recording what was proven when the job ran — the source's identity, each part's size and CRC-64, their
 * combination == OSS's whole-object CRC-64, and for an archive the uncompressed size and CRC-64 and each task's
 * input CRC-64. `ossferry verify` checks an object against it later (pure checks here, I/O in cli/verify.ts), so the
 * proof outlives the job and survives gzip. A receipt is evidence to check, never trusted: one that does not
 * parse, names another object or job, or does not recombine is reported as a failed check and not used.
 */
import { z } from 'zod';
import { crc64CombineParts } from './crc64/index.ts';
import { crc64Wire } from './crc64/wire.ts';
import { toJsonValue } from './json.ts';
import { OBJECT_META, type Measured, type StoredObject, type VerifyCheck } from './verify.ts';

const size = z.number().int().min(0);

const partSchema = z.strictObject({ partNumber: z.number().int().min(1).max(10_000), size, crc64: crc64Wire });

const base = {
  kind: z.literal('ossferry-receipt'),
  version: z.literal(1),
  jobId: z.string().min(1),
  /** Source as reports show it, and the identity every read (or part copy) was pinned to. */
  source: z.strictObject({
    url: z.string(),
    size,
    etag: z.string().optional(),
    crc64: crc64Wire.optional(),
    mtimeMs: z.number().int().optional(),
  }),
  /** The object as OSS completed it. */
  object: z.strictObject({ url: z.string(), size, etag: z.string(), crc64: crc64Wire }),
  /** Every part, in order: combined they give object.crc64. */
  parts: z.array(partSchema).min(1),
  completedAt: z.string(),
};

export const copyReceiptSchema = z.strictObject({
  mode: z.literal('copy'),
  ...base,
  /** How the bytes went: server-side copy (UploadPartCopy) or streamed by workers. */
  path: z.enum(['server-copy', 'stream']).optional(),
});

export const archiveReceiptSchema = z.strictObject({
  mode: z.literal('archive'),
  ...base,
  /** The gzip stream's content: the source's bytes. */
  uncompressed: z.strictObject({ size, crc64: crc64Wire }),
  /** Each task's input range and its CRC-64, in order: combined they give uncompressed.crc64. */
  tasks: z.array(z.strictObject({ index: z.number().int().min(0), start: size, size, crc64: crc64Wire, compressedSize: size })).min(1),
});

export const receiptSchema = z.discriminatedUnion('mode', [copyReceiptSchema, archiveReceiptSchema]);
export type Receipt = z.output<typeof receiptSchema>;
export type CopyReceipt = z.output<typeof copyReceiptSchema>;
export type ArchiveReceipt = z.output<typeof archiveReceiptSchema>;

/** JSON text of a receipt (bigint → decimal string). */
export function receiptToJson(r: Receipt): string {
  return JSON.stringify(toJsonValue(r), null, 2);
}

/** Parses receipt text; a problem description instead of a receipt when it is not one. */
export function parseReceipt(text: string): Receipt | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  const r = receiptSchema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0];
    return `not an ossferry receipt (${i?.path.join('.') || '(root)'}: ${i?.message})`;
  }
  return r.data;
}

function check(what: string, expected: string | bigint | number | undefined, actual: string | bigint | number): VerifyCheck {
  const e = expected === undefined ? '(not recorded)' : String(expected);
  return { what, expected: e, actual: String(actual), ok: expected !== undefined && e === String(actual) };
}

/** What `verify` found at the job's receipt location. */
export type FoundReceipt = { kind: 'none'; why: string } | { kind: 'unusable'; problem: string } | { kind: 'receipt'; receipt: Receipt };

/** The receipt when it is this object's (names `target` and the job id the object carries); else undefined. */
export function receiptFor(found: FoundReceipt, target: string, o: StoredObject): Receipt | undefined {
  if (found.kind !== 'receipt') return undefined;
  const r = found.receipt;
  return r.object.url === target && r.jobId === o.meta[OBJECT_META.JOB_ID] ? r : undefined;
}

/**
 * The receipt's own consistency and its match with the object HEAD shows: it names this object and its job,
 * its parts recombine to its CRC-64 and add up to its size, which are the object's; for an archive, its task CRCs
 * recombine to the uncompressed CRC-64 and the object's recorded uncompressed values agree. An unusable receipt
 * is one failed check (and nothing else is taken from it).
 */
export function checkReceipt(found: FoundReceipt, target: string, o: StoredObject): VerifyCheck[] {
  if (found.kind === 'none') return [];
  if (found.kind === 'unusable') return [{ what: 'receipt', expected: 'an ossferry receipt of this object', actual: found.problem, ok: false }];
  const r = receiptFor(found, target, o);
  if (!r) {
    return [{ what: 'receipt', expected: `a receipt of ${target} (job ${o.meta[OBJECT_META.JOB_ID] ?? '?'})`, actual: `a receipt of ${found.receipt.object.url} (job ${found.receipt.jobId}): not this object's, not used`, ok: false }];
  }
  const combined = crc64CombineParts(r.parts);
  const out = [
    check('receipt parts recombined CRC-64 vs receipt object CRC-64', r.object.crc64, combined),
    check('receipt parts total size vs receipt object size', r.object.size, r.parts.reduce((a, p) => a + p.size, 0)),
    check('receipt object CRC-64 vs x-oss-hash-crc64ecma', r.object.crc64, o.crc64 ?? '(none)'),
    check('receipt object size vs Content-Length', r.object.size, o.size),
  ];
  if (r.mode === 'copy') {
    if (r.source.crc64 !== undefined) out.push(check('receipt source CRC-64 vs x-oss-hash-crc64ecma', r.source.crc64, o.crc64 ?? '(none)'));
    return out;
  }
  const tasks = [...r.tasks].sort((a, b) => a.index - b.index);
  out.push(
    check('receipt task input CRC-64s recombined vs receipt uncompressed CRC-64', r.uncompressed.crc64, crc64CombineParts(tasks)),
    check('receipt task input sizes total vs receipt uncompressed size', r.uncompressed.size, tasks.reduce((a, t) => a + t.size, 0)),
  );
  if (r.source.crc64 !== undefined) out.push(check('receipt source CRC-64 vs receipt uncompressed CRC-64', r.source.crc64, r.uncompressed.crc64));
  return out;
}

/**
 * The content measured elsewhere (the object read back — for an archive, decoded — or a local file) against the
 * receipt: what the job proved the object stands for.
 */
export function checkAgainstReceipt(r: Receipt, content: Measured, label: string): VerifyCheck[] {
  const want = r.mode === 'archive' ? r.uncompressed : r.object;
  const what = r.mode === 'archive' ? 'receipt uncompressed' : 'receipt object';
  return [check(`${label} size vs ${what} size`, want.size, content.size), check(`${label} CRC-64 vs ${what} CRC-64`, want.crc64, content.crc64)];
}
