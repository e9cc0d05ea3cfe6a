/**
 * Receipts in OSS (shared/receipt.ts): `<statusLocation>/<jobId>.receipt.json`, next to the job's status object.
 * The lifecycle writes one when a job succeeds (built from its journal and its report); `ossferry verify` reads it.
 */
import type OSS from 'ali-oss';
import type { JobReport } from '../../shared/report.ts';
import { parseReceipt, receiptToJson, type FoundReceipt, type Receipt } from '../../shared/receipt.ts';
import { retry } from '../../shared/retry.ts';
import { errorToJson } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import { STATUS_OSS_RETRY, type JobStatus, type StatusLocation, type StatusStore } from './store.ts';

export function receiptKey(loc: StatusLocation, jobId: string): string {
  return `${loc.prefix ? `${loc.prefix}/` : ''}${jobId}.receipt.json`;
}

/** The receipt of a succeeded job: its journal (parts, archive tasks, source identity) and its verified report. */
export function receiptOf(status: JobStatus, report: JobReport, completedAt: Date): Receipt {
  const { crc64: sourceCrc, ...identity } = status.sourceIdentity;
  const common = {
    kind: 'ossferry-receipt' as const,
    version: 1 as const,
    jobId: status.jobId,
    source: { url: status.source, ...identity, ...(sourceCrc !== undefined ? { crc64: sourceCrc } : {}) },
    parts: [...status.parts].sort((a, b) => a.partNumber - b.partNumber).map((p) => ({ partNumber: p.partNumber, size: p.size, crc64: p.crc64 })),
    completedAt: completedAt.toISOString(),
  };
  if (report.mode === 'copy') {
    return { mode: 'copy', ...common, object: { url: report.destination, size: report.size, etag: report.etag, crc64: report.crc64 }, ...(report.path ? { path: report.path } : {}) };
  }
  return {
    mode: 'archive',
    ...common,
    object: { url: report.destination, size: report.compressedSize, etag: report.etag, crc64: report.crc64 },
    uncompressed: { size: report.size, crc64: report.uncompressedCrc64 },
    tasks: [...(status.tasks ?? [])].sort((a, b) => a.index - b.index).map((t) => ({ index: t.index, start: t.start, size: t.uncompressedSize, crc64: t.uncompressedCrc64, compressedSize: t.compressedSize })),
  };
}

/** Writes the receipt (retrying transient failures); returns its oss:// location. */
export async function writeReceipt(client: OSS, loc: StatusLocation, receipt: Receipt): Promise<string> {
  const key = receiptKey(loc, receipt.jobId);
  await retry(() => client.put(key, Buffer.from(receiptToJson(receipt)), { mime: 'application/json' } as OSS.PutObjectOptions), STATUS_OSS_RETRY);
  return `oss://${loc.bucket}/${key}`;
}

/** Reads the receipt of `jobId`: none (not found), unusable (not JSON, not a receipt), or the receipt to check. */
export async function readReceipt(client: OSS, loc: StatusLocation, jobId: string): Promise<FoundReceipt> {
  const key = receiptKey(loc, jobId);
  let body: Buffer;
  try {
    body = (await client.get(key)).content as Buffer;
  } catch (err) {
    if ((err as { status?: number }).status === 404) return { kind: 'none', why: `no receipt at oss://${loc.bucket}/${key}` };
    throw err;
  }
  const parsed = parseReceipt(body.toString('utf8'));
  return typeof parsed === 'string' ? { kind: 'unusable', problem: `oss://${loc.bucket}/${key} is ${parsed}` } : { kind: 'receipt', receipt: parsed };
}

/**
 * Writes the job's receipt next to its status object; returns its location. A failed write does not fail a
 * verified job: it is logged, and `verify` then finds no receipt to check.
 */
export async function recordReceipt(store: StatusStore | undefined, status: JobStatus, report: JobReport, log: Logger): Promise<string | undefined> {
  if (!store?.client) return undefined;
  try {
    return await writeReceipt(store.client, store.location, receiptOf(status, report, new Date()));
  } catch (err) {
    log.error('writing the receipt failed; the object is verified, but verify will find no receipt for it', { error: errorToJson(err) });
    return undefined;
  }
}
