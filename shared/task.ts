/**
 * What the coordinator sends a worker (a task) and what the worker sends back (receipts, unfinished parts,
 * errors). One schema for coordinator, worker and tests, so they agree by construction. CRC-64 values are
 * decimal strings on the wire and bigint after parsing (docs/CONVENTIONS.md "Values"); the `*ToWire`
 * functions do the reverse for outgoing JSON (JSON.stringify cannot serialise bigint).
 */
import { z } from 'zod';
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

/** Task fields the copy task (below) and the archive task (functions/archive/task.ts) share. */
export const taskJobIdSchema = z.string().min(1).max(128);
export const taskUploadIdSchema = z.string().min(1).max(256);
export const taskDestinationSchema = z.strictObject({ bucket: z.string().min(1), key: z.string().min(1) });
export const taskSourceSchema = z.strictObject({
  /** http(s)://…, oss://bucket/key or sftp://… — may carry a signature: never log it, use safeUrl(). */
  url: z.string().min(1),
  identity: sourceIdentitySchema,
  /** OSS sources in another region/endpoint. */
  endpoint: z.string().optional(),
  region: z.string().optional(),
  /** SFTP host key pin from the job (sftpHostKeyFingerprint, `SHA256:…`); else env OSSFERRY_SFTP_HOST_KEYS. */
  hostKeyFingerprint: z.string().regex(SFTP_FINGERPRINT_RE).optional(),
});
/** Epoch ms by which the worker must have answered; the FC invocation deadline also applies. */
export const taskDeadlineMsSchema = z.number().int().positive().optional();
/** Destination OSS endpoint/region hints (else the worker's env / FC region). */
export const taskOssHintsSchema = z.strictObject({ endpoint: z.string().optional(), region: z.string().optional() }).optional();

export const taskSchema = z
  .strictObject({
    jobId: taskJobIdSchema,
    uploadId: taskUploadIdSchema,
    destination: taskDestinationSchema,
    source: taskSourceSchema,
    parts: z.array(partRangeSchema).min(1).max(OSS.MAX_PART_NUMBER),
    streams: z.number().int().min(1).max(64),
    mode: z.enum(['copy', 'archive']).default('copy'),
    gzipLevel: z.number().int().min(0).max(3).optional(),
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

/** A validated worker task (bigint CRCs). */
export type WorkerTask = z.output<typeof taskSchema>;
/** The JSON form of a task. */
export type WorkerTaskWire = z.input<typeof taskSchema>;

/** Fixes for the shared task fields (jobId, uploadId, destination, source), in the order of the schemas. */
export const TASK_SHARED_FIXES: Readonly<Record<string, string>> = Object.freeze({
  jobId: 'send the job id from jobIdFor()',
  uploadId: 'send the UploadId returned by InitiateMultipartUpload',
  destination: 'send {bucket, key} of the destination object',
  'source.url': 'send the source URL (http(s)://, oss:// or sftp://)',
  'source.identity': 'send the identity returned by the source stat(): {size, etag?, crc64?, mtimeMs?}',
});

export const TASK_FIXES: Readonly<Record<string, string>> = Object.freeze({
  ...TASK_SHARED_FIXES,
  'source.identity.crc64': 'send the CRC-64 as an unsigned decimal string',
  'source.hostKeyFingerprint': 'send the SHA256:… host key fingerprint of the job, or omit it',
  source: 'send {url, identity}',
  parts: 'send 1..10000 parts {partNumber, start, end} in ascending part order, within the source size',
  streams: 'send a whole number of parallel parts between 1 and 64',
  mode: 'use "copy" or "archive"',
  gzipLevel: 'use 0..3',
  deadlineMs: 'send an epoch time in ms, or omit it',
  oss: 'send {endpoint?, region?}',
});

/** Parses a task (e.g. the invocation event); throws InvalidInputError naming `task.<field>` and the fix. */
export function parseTask(input: unknown): WorkerTask {
  return parseOrThrow(taskSchema, input, TASK_FIXES, 'task');
}

/** A task's source before the wire (bigint CRC). */
export interface TaskSource {
  url: string;
  identity: SourceFingerprint;
  endpoint?: string;
  region?: string;
  hostKeyFingerprint?: string;
}

/** The task source for a job's source at `identity`: OSS endpoint/region hints and the SFTP host key pin. */
export function taskSourceFor(job: Job, identity: SourceFingerprint, hostKeyFingerprint: string | undefined): TaskSource {
  return {
    url: job.source.url,
    identity,
    ...(job.source.kind === 'oss' && job.source.endpoint ? { endpoint: job.source.endpoint } : {}),
    ...(job.source.kind === 'oss' && job.source.region ? { region: job.source.region } : {}),
    ...(hostKeyFingerprint ? { hostKeyFingerprint } : {}),
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

/** Builds the wire form of a task (bigint CRC → decimal string). */
export function taskToWire(task: {
  jobId: string;
  uploadId: string;
  destination: OssLocation;
  source: TaskSource;
  parts: readonly PartRange[];
  streams: number;
  mode?: 'copy' | 'archive';
  gzipLevel?: number;
  deadlineMs?: number;
  oss?: { endpoint?: string; region?: string };
}): WorkerTaskWire {
  return {
    ...task,
    parts: task.parts.map((p) => ({ partNumber: p.partNumber, start: p.start, end: p.end })),
    source: taskSourceToWire(task.source),
  };
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

export const workerResultSchema = z.strictObject({
  receipts: z.array(receiptSchema),
  /** Part numbers not uploaded (deadline, failure, abort): the coordinator re-dispatches them. */
  unfinished: z.array(z.number().int()),
  errors: z.array(workerErrorSchema),
  /** Set when the task failed as a whole for a reason retries cannot fix (e.g. SourceChanged). */
  fatal: workerErrorSchema.optional(),
});

/** A worker's answer (bigint CRCs). */
export type WorkerResult = z.output<typeof workerResultSchema>;
export type WorkerResultWire = z.input<typeof workerResultSchema>;

/** Parses a worker's answer; throws InvalidInputError naming `result.<field>`. */
export function parseWorkerResult(input: unknown): WorkerResult {
  return parseOrThrow(workerResultSchema, input, { receipts: 'receipts are {partNumber, etag, size, crc64}', unfinished: 'part numbers', errors: '{code, message, retryable}' }, 'result');
}

/** Receipt → JSON form. */
export function receiptToWire(r: PartReceipt): z.input<typeof receiptSchema> {
  return { partNumber: r.partNumber, etag: r.etag, size: r.size, crc64: crc64ToWire(r.crc64) };
}

/** Worker result → JSON form. */
export function workerResultToWire(r: WorkerResult): WorkerResultWire {
  const out: WorkerResultWire = { receipts: r.receipts.map(receiptToWire), unfinished: [...r.unfinished], errors: r.errors.map((e) => ({ ...e })) };
  if (r.fatal) out.fatal = { ...r.fatal };
  return out;
}
