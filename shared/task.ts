/**
 * What the coordinator sends a worker (a task) and what the worker sends back (its result), for both job
 * modes: one schema module for coordinator, worker and tests, so they agree by construction. Tasks and
 * results are unions discriminated by `mode`:
 * - copy: a run of planned parts `{partNumber, start, end}`; the result lists receipts, unfinished parts and
 *   errors (the coordinator re-dispatches what is missing).
 * - archive: one member-aligned input range [start, end) plus a reserved block of part numbers
 *   (shared/archive-parts.ts planArchiveTasks: compressed part sizes are unknown when it is planned); the
 *   result carries the parts and the range's *uncompressed* size and CRC-64, which the coordinator combines.
 * CRC-64 values are decimal strings on the wire and bigint after parsing (docs/CONVENTIONS.md "Values"); the
 * `*ToWire` functions do the reverse for outgoing JSON (JSON.stringify cannot serialise bigint).
 */
import { isPinned } from './pinning.ts';
import { parseSource, sourceExamples } from './sources.ts';
import { z } from 'zod';
import { MAX_ARCHIVE_MEMBER_SIZE, MAX_ARCHIVE_PART_TARGET } from './archive-parts.ts';
import { crc64ToWire, crc64Wire } from './crc64/wire.ts';
import { parseOrThrow, SFTP_FINGERPRINT_RE, type Job, type OssLocation, type SourceFingerprint } from './job.ts';
import { OSS } from './limits.ts';
import type { PartRange } from './plan.ts';

const safeInt = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const partRangeSchema = z
  .strictObject({
    partNumber: z.number().int().min(OSS.MIN_PART_NUMBER).max(OSS.MAX_PART_NUMBER),
    start: safeInt,
    end: safeInt,
  })
  .refine((p) => p.end >= p.start && p.end - p.start <= OSS.MAX_PART_SIZE, {
    message: 'end must be ≥ start and the part at most 5 GB',
    path: ['end'],
  });

export const sourceIdentitySchema = z.strictObject({
  size: safeInt,
  etag: z.string().min(1).optional(),
  crc64: crc64Wire.optional(),
  mtimeMs: z.number().int().optional(),
});

/** Task fields the copy task and the archive task share. */
export const taskJobIdSchema = z.string().min(1).max(128);
export const taskUploadIdSchema = z.string().min(1).max(256);
export const taskDestinationSchema = z.strictObject({ bucket: z.string().min(1), key: z.string().min(1) });
export const taskSourceSchema = z.strictObject({
  /** A URL of the source registry (shared/sources.ts) — may carry a signature: never log it, use safeUrl(). */
  url: z.string().min(1).superRefine((s, ctx) => {
    const r = parseSource(s);
    if ('problem' in r) ctx.addIssue({ code: 'custom', message: r.problem });
  }),
  identity: sourceIdentitySchema,
  /** OSS sources in another region/endpoint. */
  endpoint: z.string().optional(),
  region: z.string().optional(),
  /** SFTP host key pin from the job (sftpHostKeyFingerprint, `SHA256:…`); else env OSSFERRY_SFTP_HOST_KEYS. */
  hostKeyFingerprint: z.string().regex(SFTP_FINGERPRINT_RE).optional(),
  /** unpinned: reread — the source has no strong validator: each uploaded range is read again and its CRC-64 compared. */
  reread: z.literal(true).optional(),
});
/** Epoch ms by which the worker must have answered; the FC invocation deadline also applies. */
export const taskDeadlineMsSchema = z.number().int().positive().optional();
/** Destination OSS endpoint/region hints (else the worker's env / FC region). */
export const taskOssHintsSchema = z.strictObject({ endpoint: z.string().optional(), region: z.string().optional() }).optional();

export const copyTaskSchema = z
  .strictObject({
    mode: z.literal('copy').default('copy'),
    jobId: taskJobIdSchema,
    uploadId: taskUploadIdSchema,
    destination: taskDestinationSchema,
    source: taskSourceSchema,
    parts: z.array(partRangeSchema).min(1).max(OSS.MAX_PART_NUMBER),
    streams: z.number().int().min(1).max(64),
    deadlineMs: taskDeadlineMsSchema,
    oss: taskOssHintsSchema,
  })
  .superRefine((t, ctx) => {
    let prev = 0;
    t.parts.forEach((p, i) => {
      if (p.partNumber <= prev) {
        ctx.addIssue({ code: 'custom', path: ['parts', i, 'partNumber'], message: 'part numbers must be strictly ascending' });
      }
      if (p.end > t.source.identity.size) {
        ctx.addIssue({ code: 'custom', path: ['parts', i, 'end'], message: `is beyond the source size ${t.source.identity.size}` });
      }
      prev = p.partNumber;
    });
  });

/** A validated copy task (bigint CRCs). */
export type CopyTask = z.output<typeof copyTaskSchema>;
export type CopyTaskWire = z.input<typeof copyTaskSchema>;

/** Fixes for the shared task fields (jobId, uploadId, destination, source), in the order of the schemas. */
export const TASK_SHARED_FIXES: Readonly<Record<string, string>> = Object.freeze({
  jobId: 'send the job id from jobIdFor()',
  uploadId: 'send the UploadId returned by InitiateMultipartUpload',
  destination: 'send {bucket, key} of the destination object',
  'source.url': `send the job's source URL (${sourceExamples()})`,
  'source.identity': 'send the identity returned by the source stat(): {size, etag?, crc64?, mtimeMs?}',
});

export const COPY_TASK_FIXES: Readonly<Record<string, string>> = Object.freeze({
  ...TASK_SHARED_FIXES,
  'source.identity.crc64': 'send the CRC-64 as an unsigned decimal string',
  'source.hostKeyFingerprint': 'send the SHA256:… host key fingerprint of the job, or omit it',
  source: 'send {url, identity}',
  parts: 'send 1..10000 parts {partNumber, start, end} in ascending part order, within the source size',
  streams: 'send a whole number of parallel parts between 1 and 64',
  mode: 'use "copy" or "archive"',
  deadlineMs: 'send an epoch time in ms, or omit it',
  oss: 'send {endpoint?, region?}',
});

/** Parses a copy task; throws InvalidInputError naming `task.<field>` and the fix. */
export function parseCopyTask(input: unknown): CopyTask {
  return parseOrThrow(copyTaskSchema, input, COPY_TASK_FIXES, 'task');
}

/** A task's source before the wire (bigint CRC). */
export interface TaskSource {
  url: string;
  identity: SourceFingerprint;
  endpoint?: string;
  region?: string;
  hostKeyFingerprint?: string;
  reread?: true;
}

/** The task source for a job's source at `identity`: OSS endpoint/region hints and the SFTP host key pin. */
export function taskSourceFor(job: Job, identity: SourceFingerprint, hostKeyFingerprint: string | undefined): TaskSource {
  return {
    url: job.source.url,
    identity,
    ...(job.source.kind === 'oss' && job.source.endpoint ? { endpoint: job.source.endpoint } : {}),
    ...(job.source.kind === 'oss' && job.source.region ? { region: job.source.region } : {}),
    ...(hostKeyFingerprint ? { hostKeyFingerprint } : {}),
    ...(job.unpinned === 'reread' && !isPinned(identity) ? { reread: true as const } : {}),
  };
}

/** Task source → JSON form (bigint CRC → decimal string). */
export function taskSourceToWire(source: TaskSource): z.input<typeof taskSourceSchema> {
  const { crc64, ...identity } = source.identity;
  return { ...source, identity: crc64 === undefined ? identity : { ...identity, crc64: crc64ToWire(crc64) } };
}

/**
 * The `deadlineMs` of the tasks of one dispatch round: inside the worker's timeout, with a margin of 10 %
 * (at least 2 s) for the answer, never under 5 s; and 20 s before the coordinator's own deadline, if any.
 */
export function taskDeadlineMs(nowMs: number, workerTimeoutSeconds: number, coordinatorDeadlineMs?: number): number {
  const deadline = nowMs + Math.max(5_000, workerTimeoutSeconds * 1000 - Math.max(2_000, workerTimeoutSeconds * 100));
  return coordinatorDeadlineMs !== undefined ? Math.min(deadline, coordinatorDeadlineMs - 20_000) : deadline;
}

/** A copy task before the wire. */
export interface CopyTaskInput {
  mode: 'copy';
  jobId: string;
  uploadId: string;
  destination: OssLocation;
  source: TaskSource;
  parts: readonly PartRange[];
  streams: number;
  deadlineMs?: number;
  oss?: { endpoint?: string; region?: string };
}

export const receiptSchema = z.strictObject({
  partNumber: z.number().int().min(OSS.MIN_PART_NUMBER).max(OSS.MAX_PART_NUMBER),
  /** The part ETag exactly as OSS returned it (quoted), needed for Complete. */
  etag: z.string().min(1),
  size: safeInt,
  crc64: crc64Wire,
});

/** A part uploaded and verified (our CRC == OSS's x-oss-hash-crc64ecma). */
export type PartReceipt = z.output<typeof receiptSchema>;

export const workerErrorSchema = z.strictObject({
  partNumber: z.number().int().optional(),
  code: z.string(),
  message: z.string(),
  retryable: z.boolean(),
});
export type WorkerError = z.output<typeof workerErrorSchema>;

export const copyResultSchema = z.strictObject({
  mode: z.literal('copy').default('copy'),
  receipts: z.array(receiptSchema),
  /** Part numbers not uploaded (deadline, failure, abort): the coordinator re-dispatches them. */
  unfinished: z.array(z.number().int()),
  errors: z.array(workerErrorSchema),
  /** Set when the task failed as a whole for a reason retries cannot fix (e.g. SourceChanged). */
  fatal: workerErrorSchema.optional(),
});

/** A copy worker's answer (bigint CRCs). */
export type CopyResult = z.output<typeof copyResultSchema>;
export type CopyResultWire = z.input<typeof copyResultSchema>;

/** Receipt → JSON form. */
export function receiptToWire(r: PartReceipt): z.input<typeof receiptSchema> {
  return { partNumber: r.partNumber, etag: r.etag, size: r.size, crc64: crc64ToWire(r.crc64) };
}

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
/** An archive task before the wire. */
export type ArchiveTaskInput = Omit<ArchiveTask, 'source'> & { source: TaskSource };

export const ARCHIVE_TASK_FIXES: Readonly<Record<string, string>> = Object.freeze({
  mode: 'use "copy" or "archive"',
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

export const archiveResultSchema = z.strictObject({
  mode: z.literal('archive').default('archive'),
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

/** A task of either mode, validated. */
export type WorkerTask = CopyTask | ArchiveTask;
/** The JSON form of a task of either mode. */
export type WorkerTaskWire = CopyTaskWire | ArchiveTaskWire;
/** A worker's answer of either mode. */
export type WorkerResult = CopyResult | ArchiveResult;
export type WorkerResultWire = CopyResultWire | ArchiveResultWire;
/** The job modes, as tasks, results and reports name them. */
export type JobMode = WorkerTask['mode'];

/**
 * Parses a task of either mode (the worker's invocation event): `mode` selects the schema ("copy" when
 * absent). Throws InvalidInputError naming `task.<field>` and the fix.
 */
export function parseTask(input: unknown): WorkerTask {
  const mode = input !== null && typeof input === 'object' ? (input as { mode?: unknown }).mode : undefined;
  return mode === 'archive' ? parseArchiveTask(input) : parseCopyTask(input);
}

/** Builds the wire form of a task of either mode (bigint CRC → decimal string). */
export function taskToWire(task: CopyTaskInput): CopyTaskWire;
export function taskToWire(task: ArchiveTaskInput): ArchiveTaskWire;
export function taskToWire(task: CopyTaskInput | ArchiveTaskInput): WorkerTaskWire;
export function taskToWire(task: CopyTaskInput | ArchiveTaskInput): WorkerTaskWire {
  if (task.mode === 'archive') return { ...task, source: taskSourceToWire(task.source) };
  return { ...task, parts: task.parts.map((p) => ({ partNumber: p.partNumber, start: p.start, end: p.end })), source: taskSourceToWire(task.source) };
}

const RESULT_FIXES = { receipts: 'receipts are {partNumber, etag, size, crc64}', unfinished: 'part numbers', errors: '{code, message, retryable}', uncompressedCrc64: 'a decimal CRC-64' };

/** Parses the answer to a task of `mode` (the dispatcher knows the mode it sent); names `result.<field>`. */
export function parseWorkerResult(input: unknown, mode: 'copy'): CopyResult;
export function parseWorkerResult(input: unknown, mode: 'archive'): ArchiveResult;
export function parseWorkerResult(input: unknown, mode: JobMode): WorkerResult;
export function parseWorkerResult(input: unknown, mode: JobMode): WorkerResult {
  return mode === 'archive' ? parseOrThrow(archiveResultSchema, input, RESULT_FIXES, 'result') : parseOrThrow(copyResultSchema, input, RESULT_FIXES, 'result');
}

/** Worker result of either mode → JSON form. */
export function workerResultToWire(r: CopyResult): CopyResultWire;
export function workerResultToWire(r: ArchiveResult): ArchiveResultWire;
export function workerResultToWire(r: WorkerResult): WorkerResultWire;
export function workerResultToWire(r: WorkerResult): WorkerResultWire {
  if (r.mode === 'archive') return { ...r, receipts: r.receipts.map(receiptToWire), uncompressedCrc64: crc64ToWire(r.uncompressedCrc64) };
  const out: CopyResultWire = { mode: 'copy', receipts: r.receipts.map(receiptToWire), unfinished: [...r.unfinished], errors: r.errors.map((e) => ({ ...e })) };
  if (r.fatal) out.fatal = { ...r.fatal };
  return out;
}
