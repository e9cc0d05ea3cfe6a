/**
 * The archive job report in wire form (JSON from the coordinator: CRC-64 as decimal strings), parsed back
 * into ArchiveReport (bigint CRCs) by callers of the coordinator (local cloud, CLI). The copy report's
 * counterpart is functions/coordinator/report.ts.
 */
import { z } from 'zod';
import { crc64Wire } from '../../shared/crc64/wire.ts';
import { parseOrThrow } from '../../shared/job.ts';
import type { ArchiveReport } from './job.ts';

export const archiveReportSchema = z.strictObject({
  jobId: z.string(),
  source: z.string(),
  destination: z.string(),
  size: z.number(),
  compressedSize: z.number(),
  ratio: z.number(),
  gzipLevel: z.number(),
  memberSize: z.number(),
  parts: z.number(),
  tasks: z.number(),
  rounds: z.number(),
  seconds: z.number(),
  mbPerSecond: z.number(),
  crc64: crc64Wire,
  uncompressedCrc64: crc64Wire,
  etag: z.string(),
  uploadId: z.string(),
  verified: z.strictObject({
    combinedCrc64: crc64Wire,
    ossCrc64: crc64Wire,
    uncompressedCrc64: crc64Wire,
    sourceCrc64: crc64Wire.optional(),
  }),
  idempotencyKey: z.string().optional(),
  alreadyArchived: z.boolean().optional(),
  inProgress: z.boolean().optional(),
  sourceDeleted: z.boolean().optional(),
  sourceKeptReason: z.string().optional(),
});

/** Parses an archive report from its JSON form; throws InvalidInputError naming `report.<field>`. */
export function parseArchiveReport(input: unknown): ArchiveReport {
  return parseOrThrow(archiveReportSchema, input, {}, 'report') as ArchiveReport;
}

/** Whether a coordinator answer is an archive report (it carries compressedSize and the uncompressed CRC). */
export function isArchiveReportJson(input: unknown): boolean {
  return typeof input === 'object' && input !== null && 'compressedSize' in input && 'uncompressedCrc64' in input;
}
