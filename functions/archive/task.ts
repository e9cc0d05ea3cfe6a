/**
 * The archive task (coordinator → worker) and its result (worker → coordinator). Archive tasks differ from
 * copy tasks (shared/task.ts): a task is one input range [start, end) plus a reserved block of part numbers
 * (shared/archive-parts.ts planArchiveTasks), because compressed part sizes are unknown when it is planned.
 * The result carries the parts (compressed bytes, CRC-64 as OSS stored them) and the task's *uncompressed*
 * size and CRC-64, which the coordinator combines into the whole input's CRC (object metadata).
 * Wire form: `mode: "archive"` plus these fields; CRC-64 values are decimal strings (docs/CONVENTIONS.md).
 */
import { z } from 'zod';
import { crc64ToWire, crc64Wire } from '../../shared/crc64/wire.ts';
import { MAX_ARCHIVE_MEMBER_SIZE, MAX_ARCHIVE_PART_TARGET } from '../../shared/archive-parts.ts';
import { parseOrThrow, type OssLocation } from '../../shared/job.ts';
import { OSS } from '../../shared/limits.ts';
import {
  receiptSchema,
  receiptToWire,
  taskDeadlineMsSchema,
  taskDestinationSchema,
  taskJobIdSchema,
  taskOssHintsSchema,
  TASK_SHARED_FIXES,
  taskSourceSchema,
  taskSourceToWire,
  taskUploadIdSchema,
  type PartReceipt,
  type TaskSource,
} from '../../shared/task.ts';

const safeInt = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const partNumber = z.number().int().min(OSS.MIN_PART_NUMBER).max(OSS.MAX_PART_NUMBER);

export const archiveTaskSchema = z
  .strictObject({
    mode: z.literal('archive'),
    jobId: taskJobIdSchema,
    uploadId: taskUploadIdSchema,
    destination: taskDestinationSchema,
    source: taskSourceSchema,
    /** Input range [start, end), member-aligned (planArchiveTasks). */
    start: safeInt,
    end: safeInt,
    /** This task's part-number block, inclusive. */
    firstPartNumber: partNumber,
    lastPartNumber: partNumber,
    /** The job's last task: its last part may be < 100 KB. */
    isFinal: z.boolean(),
    memberSize: z.number().int().min(64 * 1024).max(MAX_ARCHIVE_MEMBER_SIZE),
    partTarget: z.number().int().min(OSS.MIN_PART_SIZE).max(MAX_ARCHIVE_PART_TARGET),
    gzipLevel: z.number().int().min(0).max(3),
    /** Members read and compressed at once. */
    concurrency: z.number().int().min(1).max(64),
    deadlineMs: taskDeadlineMsSchema,
    oss: taskOssHintsSchema,
  })
  .superRefine((t, ctx) => {
    if (t.end < t.start) ctx.addIssue({ code: 'custom', path: ['end'], message: 'must be ≥ start' });
    if (t.end > t.source.identity.size) ctx.addIssue({ code: 'custom', path: ['end'], message: `is beyond the source size ${t.source.identity.size}` });
    if (t.lastPartNumber < t.firstPartNumber) ctx.addIssue({ code: 'custom', path: ['lastPartNumber'], message: 'must be ≥ firstPartNumber' });
    if (t.start % t.memberSize !== 0) ctx.addIssue({ code: 'custom', path: ['start'], message: 'must be a multiple of memberSize' });
  });

export type ArchiveTask = z.output<typeof archiveTaskSchema>;
export type ArchiveTaskWire = z.input<typeof archiveTaskSchema>;

export const ARCHIVE_TASK_FIXES: Readonly<Record<string, string>> = Object.freeze({
  mode: 'send mode "archive" (copy tasks use shared/task.ts)',
  ...TASK_SHARED_FIXES,
  'source.hostKeyFingerprint': 'send the SHA256:… host key fingerprint, or omit it',
  source: 'send {url, identity}',
  start: 'send the task range from planArchiveTasks',
  end: 'send the task range from planArchiveTasks',
  firstPartNumber: 'send the task part block from planArchiveTasks',
  lastPartNumber: 'send the task part block from planArchiveTasks',
  isFinal: 'send true for the job’s last task only',
  memberSize: `send 65536..${MAX_ARCHIVE_MEMBER_SIZE} (default 8 MiB)`,
  partTarget: `send ${OSS.MIN_PART_SIZE}..${MAX_ARCHIVE_PART_TARGET} (the plan partTarget)`,
  gzipLevel: 'use 0..3',
  concurrency: 'send 1..64 members in flight',
  deadlineMs: 'send an epoch time in ms, or omit it',
  oss: 'send {endpoint?, region?}',
});

/** Parses an archive task; throws InvalidInputError naming `task.<field>` and the fix. */
export function parseArchiveTask(input: unknown): ArchiveTask {
  return parseOrThrow(archiveTaskSchema, input, ARCHIVE_TASK_FIXES, 'task');
}

/** Whether an invocation payload is an archive task (the worker handler dispatches on it). */
export function isArchiveTaskPayload(json: unknown): boolean {
  return json !== null && typeof json === 'object' && (json as { mode?: unknown }).mode === 'archive' && 'firstPartNumber' in json;
}

export function archiveTaskToWire(t: Omit<ArchiveTask, 'source'> & { source: TaskSource; destination: OssLocation }): ArchiveTaskWire {
  return { ...t, source: taskSourceToWire(t.source) };
}

export const archiveResultSchema = z.strictObject({
  /** Uploaded and verified parts, ascending (sizes and CRCs of the compressed bytes). */
  receipts: z.array(receiptSchema).min(1),
  /** Input bytes compressed: end - start. */
  uncompressedSize: safeInt,
  /** CRC-64 of the input range [start, end). */
  uncompressedCrc64: crc64Wire,
  /** Sum of the receipts' sizes. */
  compressedSize: safeInt,
  members: z.number().int().min(1),
  seconds: z.number().min(0),
});

export type ArchiveResult = z.output<typeof archiveResultSchema>;
export type ArchiveResultWire = z.input<typeof archiveResultSchema>;

export function parseArchiveResult(input: unknown): ArchiveResult {
  return parseOrThrow(archiveResultSchema, input, { receipts: 'receipts are {partNumber, etag, size, crc64}', uncompressedCrc64: 'a decimal CRC-64' }, 'result');
}

export function archiveResultToWire(r: ArchiveResult): ArchiveResultWire {
  return { ...r, receipts: r.receipts.map((x: PartReceipt) => receiptToWire(x)), uncompressedCrc64: crc64ToWire(r.uncompressedCrc64) };
}
