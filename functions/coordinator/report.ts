/**
 * What a finished job reports (CLI, status object, function result) and the named error of a failed one.
 * CRC-64 values are bigint in memory and decimal strings on the wire; `parseCopyReport` converts back.
 */
import { z } from 'zod';
import { crc64Wire } from '../../shared/crc64/wire.ts';
import { OssferryError } from '../../shared/errors.ts';
import { parseOrThrow } from '../../shared/job.ts';
import { toJsonValue } from '../../shared/json.ts';

export interface CopyReport {
  jobId: string;
  /** Safe display form of the source (no credentials, no query string). */
  source: string;
  destination: string;
  size: number;
  partSize: number;
  parts: number;
  /** Worker invocations made (all rounds, this coordinator run). */
  tasks: number;
  /** Most worker invocations in flight at once. */
  workers: number;
  /** Dispatch rounds (1 = every part done by the first dispatch). */
  rounds: number;
  /** Parts found already uploaded and verified when this run started (resume). */
  resumedParts: number;
  /** Coordinator runs for this job (2+ = resumed). */
  attempts: number;
  seconds: number;
  /** Decimal megabytes per second (10^6 B/s) over this run's wall time. */
  mbPerSecond: number;
  /** Whole-object CRC-64 (== combine(part CRCs) == OSS's x-oss-hash-crc64ecma). */
  crc64: bigint;
  etag: string;
  uploadId: string;
  verified: { combinedCrc64: bigint; ossCrc64: bigint; sourceCrc64?: bigint; expectedCrc64?: bigint };
  /** The destination already held this job's verified object (a repeated invocation). */
  alreadyDone?: boolean;
}

export const copyReportSchema = z.strictObject({
  jobId: z.string(),
  source: z.string(),
  destination: z.string(),
  size: z.number(),
  partSize: z.number(),
  parts: z.number(),
  tasks: z.number(),
  workers: z.number(),
  rounds: z.number(),
  resumedParts: z.number(),
  attempts: z.number(),
  seconds: z.number(),
  mbPerSecond: z.number(),
  crc64: crc64Wire,
  etag: z.string(),
  uploadId: z.string(),
  verified: z.strictObject({
    combinedCrc64: crc64Wire,
    ossCrc64: crc64Wire,
    sourceCrc64: crc64Wire.optional(),
    expectedCrc64: crc64Wire.optional(),
  }),
  alreadyDone: z.boolean().optional(),
});

/** Parses a report from its JSON form (e.g. a coordinator's invocation result). */
export function parseCopyReport(input: unknown): CopyReport {
  return parseOrThrow(copyReportSchema, input, {}, 'report') as CopyReport;
}

/** JSON-safe copy of a report (bigint → decimal string). */
export function copyReportToJson(r: CopyReport): Record<string, unknown> {
  return toJsonValue(r);
}

/**
 * A job ended without a verified object. `cause` is the reason; `aborted` says whether the multipart upload
 * was aborted (true = no parts left behind), `uploadId` which one. The destination is untouched unless the
 * message says otherwise.
 */
export class JobFailedError extends OssferryError {
  readonly jobId: string | undefined;
  readonly uploadId: string | undefined;
  readonly aborted: boolean;
  /** The code of the underlying cause (e.g. SourceChanged, DestinationExists, InvalidInput). */
  readonly causeCode: string;
  constructor(args: { jobId?: string; uploadId?: string; aborted: boolean; cause: unknown; message: string }) {
    super('JobFailed', args.message, { cause: args.cause });
    this.jobId = args.jobId;
    this.uploadId = args.uploadId;
    this.aborted = args.aborted;
    const c = (args.cause as { code?: unknown })?.code;
    this.causeCode = typeof c === 'string' ? c : ((args.cause as Error)?.name ?? 'Error');
  }
}
