/**
 * What a finished job reports (CLI, status object, function result), for both modes: a union discriminated
 * by `mode`. CRC-64 values are bigint in memory and decimal strings on the wire; `parseJobReport` converts
 * back. `reused` says what a resumed run took over from an earlier one and how each piece was proven.
 */
import { z } from 'zod';
import { crc64Wire } from './crc64/wire.ts';
import { parseOrThrow } from './job.ts';
import { toJsonValue } from './json.ts';

/** What this run took over from earlier runs of the job (nothing on a first run). */
export interface ReusedWork {
  /** Parts found in OSS (ListParts) with their planned size and a proven CRC-64. */
  parts: number;
  /** …proven by a receipt recorded by an earlier run (same ETag and size as listed). */
  byReceipt: number;
  /** …proven by OSS's listed CRC-64 equal to the CRC-64 of that source range, read again. */
  byReread: number;
  /** Archive: whole tasks whose recorded result matched what OSS lists. */
  tasks: number;
  /** A multipart upload an earlier run started and this run continued. */
  upload: boolean;
  /** Stray uploads of this job (e.g. a lost Initiate response) found and aborted. */
  strayUploadsAborted: number;
  /** Uploads of abandoned older jobs of the same destination (the source changed since) aborted. */
  supersededUploadsAborted: number;
}

export const NO_REUSE: Readonly<ReusedWork> = Object.freeze({ parts: 0, byReceipt: 0, byReread: 0, tasks: 0, upload: false, strayUploadsAborted: 0, supersededUploadsAborted: 0 });

interface ReportBase {
  jobId: string;
  /** Safe display form of the source (no credentials, no query string). */
  source: string;
  destination: string;
  size: number;
  parts: number;
  /** Worker invocations made (all rounds, this coordinator run). */
  tasks: number;
  /** Dispatch rounds (1 = everything done by the first dispatch). */
  rounds: number;
  /** Coordinator runs for this job (2+ = resumed). */
  attempts: number;
  seconds: number;
  /** Decimal megabytes per second (10^6 B/s) of input over this run's wall time. */
  mbPerSecond: number;
  /** Whole-object CRC-64 (== combine(part CRCs) == OSS's x-oss-hash-crc64ecma). */
  crc64: bigint;
  etag: string;
  uploadId: string;
  reused: ReusedWork;
  /** The source had no strong validator and the job trusted it (unpinned: trust): a change mid-copy would not have been seen. */
  unpinned?: boolean;
  /** The source had no strong validator and every uploaded range was read again and matched (unpinned: reread). */
  reread?: boolean;
  /** Where the job's verification receipt was written (oss://…/<jobId>.receipt.json, next to its status object). */
  receipt?: string;
}

export interface CopyReport extends ReportBase {
  mode: 'copy';
  partSize: number;
  /** Most worker invocations in flight at once. */
  workers: number;
  /** Parts found already uploaded and verified when this run started (resume) = reused.parts. */
  resumedParts: number;
  verified: { combinedCrc64: bigint; ossCrc64: bigint; sourceCrc64?: bigint; expectedCrc64?: bigint };
  /** The destination already held this job's verified object (a repeated invocation). */
  alreadyDone?: boolean;
  /** How the bytes went: OSS copied them server-side (UploadPartCopy, same region), or workers streamed them. */
  path?: 'server-copy' | 'stream';
  /** Bytes workers uploaded in this run (0 for a server copy). */
  workerBytes?: number;
}

export interface ArchiveReport extends ReportBase {
  mode: 'archive';
  compressedSize: number;
  /** size / compressedSize. */
  ratio: number;
  gzipLevel: number;
  memberSize: number;
  /** CRC-64 of the input == combine(per-task uncompressed CRCs) (== the source's CRC when published). */
  uncompressedCrc64: bigint;
  verified: { combinedCrc64: bigint; ossCrc64: bigint; uncompressedCrc64: bigint; sourceCrc64?: bigint };
  idempotencyKey?: string;
  /** The destination already held this archive: nothing was uploaded. */
  alreadyArchived?: boolean;
  /** Another live owner (fresh lease) runs this job: nothing was uploaded by this invocation. */
  inProgress?: boolean;
  /** deleteSourceAfterVerify outcome. */
  sourceDeleted?: boolean;
  sourceKeptReason?: string;
}

export type JobReport = CopyReport | ArchiveReport;

const reusedSchema = z.strictObject({
  parts: z.number(),
  byReceipt: z.number(),
  byReread: z.number(),
  tasks: z.number(),
  upload: z.boolean(),
  strayUploadsAborted: z.number(),
  supersededUploadsAborted: z.number(),
});

const base = {
  jobId: z.string(),
  source: z.string(),
  destination: z.string(),
  size: z.number(),
  parts: z.number(),
  tasks: z.number(),
  rounds: z.number(),
  attempts: z.number(),
  seconds: z.number(),
  mbPerSecond: z.number(),
  crc64: crc64Wire,
  etag: z.string(),
  uploadId: z.string(),
  reused: reusedSchema,
  unpinned: z.boolean().optional(),
  reread: z.boolean().optional(),
  receipt: z.string().optional(),
};

export const copyReportSchema = z.strictObject({
  mode: z.literal('copy'),
  ...base,
  partSize: z.number(),
  workers: z.number(),
  resumedParts: z.number(),
  verified: z.strictObject({ combinedCrc64: crc64Wire, ossCrc64: crc64Wire, sourceCrc64: crc64Wire.optional(), expectedCrc64: crc64Wire.optional() }),
  alreadyDone: z.boolean().optional(),
  path: z.enum(['server-copy', 'stream']).optional(),
  workerBytes: z.number().optional(),
});

export const archiveReportSchema = z.strictObject({
  mode: z.literal('archive'),
  ...base,
  compressedSize: z.number(),
  ratio: z.number(),
  gzipLevel: z.number(),
  memberSize: z.number(),
  uncompressedCrc64: crc64Wire,
  verified: z.strictObject({ combinedCrc64: crc64Wire, ossCrc64: crc64Wire, uncompressedCrc64: crc64Wire, sourceCrc64: crc64Wire.optional() }),
  idempotencyKey: z.string().optional(),
  alreadyArchived: z.boolean().optional(),
  inProgress: z.boolean().optional(),
  sourceDeleted: z.boolean().optional(),
  sourceKeptReason: z.string().optional(),
});

export const jobReportSchema = z.discriminatedUnion('mode', [copyReportSchema, archiveReportSchema]);

/** Parses a report of either mode from its JSON form (e.g. a coordinator's answer); names `report.<field>`. */
export function parseJobReport(input: unknown): JobReport {
  return parseOrThrow(jobReportSchema, input, { mode: 'a report carries mode "copy" or "archive"' }, 'report') as JobReport;
}

/** JSON-safe copy of a report (bigint → decimal string). */
export function jobReportToJson(r: JobReport): Record<string, unknown> {
  return toJsonValue(r);
}
