/**
 * Job status objects in OSS: `<statusLocation>/<jobId>.json` (design.md "Status object"). The coordinator
 * writes one as a job runs (upload id, plan, verified part receipts, outcome); a re-invoked coordinator reads
 * it to resume, and `ossferry status` reads it to show progress. It is only a *hint* for resume: the
 * destination's ListParts is the source of truth (SDKs that trust a local checkpoint resume wrongly) — a part counts as done only
 * when OSS lists it with the size the plan expects and the ETag of the receipt recorded here.
 */
import type OSS from 'ali-oss';
import { z } from 'zod';
import { crc64Wire } from '../../shared/crc64/wire.ts';
import { InvalidInputError, OssferryError } from '../../shared/errors.ts';
import { FUNCTION_ENV } from '../../shared/function-env.ts';
import { parseOssUrl } from '../../shared/job.ts';
import { bigintAsDecimal } from '../../shared/json.ts';
import { retry } from '../../shared/retry.ts';

/** Where status objects live. */
export interface StatusLocation {
  bucket: string;
  /** Key prefix without leading/trailing "/" ("" = bucket root). */
  prefix: string;
}

/** Parses `oss://bucket[/prefix]`; the error names OSSFERRY_STATUS_LOCATION (or `field`). */
export function parseStatusLocation(value: string, field: string = FUNCTION_ENV.STATUS_LOCATION): StatusLocation {
  const fix = 'set it to oss://<bucket>/<prefix>, e.g. oss://my-bucket/ossferry/jobs';
  if (!value.startsWith('oss://')) throw new InvalidInputError(field, `${JSON.stringify(value.slice(0, 80))} must start with oss://`, fix);
  const rest = value.slice('oss://'.length).replace(/\/+$/, '');
  const parsed = parseOssUrl(`oss://${rest.includes('/') ? rest : `${rest}/x`}`);
  if (typeof parsed === 'string') throw new InvalidInputError(field, parsed, fix);
  const prefix = rest.includes('/') ? rest.slice(rest.indexOf('/') + 1) : '';
  return { bucket: parsed.bucket, prefix };
}

export function statusKey(loc: StatusLocation, jobId: string): string {
  return `${loc.prefix ? `${loc.prefix}/` : ''}${jobId}.json`;
}

const receiptWire = z.strictObject({
  partNumber: z.number().int().min(1).max(10_000),
  etag: z.string().min(1),
  size: z.number().int().min(0),
  crc64: crc64Wire,
});

/** An archive task's verified result, kept so a resumed run reuses the task instead of compressing it again. */
const taskResultWire = z.strictObject({
  index: z.number().int().min(0),
  /** The task's input range starts here (a changed plan never matches). */
  start: z.number().int().min(0),
  uncompressedSize: z.number().int().min(0),
  uncompressedCrc64: crc64Wire,
  compressedSize: z.number().int().min(0),
  members: z.number().int().min(1),
  receipts: z.array(receiptWire).min(1),
});
export type TaskResultRecord = z.output<typeof taskResultWire>;

const errorWire = z.object({ name: z.string(), code: z.string().optional(), message: z.string() }).loose();

/**
 * `initiating`: the owner recorded its intent to start a multipart upload (before InitiateMultipartUpload,
 * so a lost response is found again); `running`: the upload exists and work is dispatched; `completing`:
 * Complete was sent; then `succeeded` or `failed`; `interrupted`: the owner ran out of time, resumable;
 * `cancelled`: `ossferry cancel` stopped it, upload aborted (terminal until re-submitted: ./cancel.ts).
 */
export const JOB_STATES = ['initiating', 'running', 'completing', 'succeeded', 'failed', 'interrupted', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

export const jobStatusSchema = z.strictObject({
  version: z.literal(1),
  jobId: z.string().min(1),
  mode: z.enum(['copy', 'archive']).optional(),
  state: z.enum(JOB_STATES),
  /** The lease epoch of the owner that wrote this (functions/status/lease.ts). */
  leaseEpoch: z.number().int().min(1).optional(),
  /** When the intent to initiate was recorded: uploads of the key initiated since then may be this job's strays. */
  intentAt: z.string().optional(),
  /** Safe display form of the source (no credentials, no query). */
  source: z.string(),
  sourceIdentity: z.strictObject({
    size: z.number().int().min(0),
    etag: z.string().optional(),
    crc64: crc64Wire.optional(),
    mtimeMs: z.number().int().optional(),
  }),
  destination: z.string(),
  uploadId: z.string().optional(),
  size: z.number().int().min(0),
  partSize: z.number().int().min(1),
  partCount: z.number().int().min(1),
  /** Verified receipts recorded so far (hints for resume; ListParts decides). */
  parts: z.array(receiptWire),
  /** Archive jobs: the verified result of each finished task. */
  tasks: z.array(taskResultWire).optional(),
  bytesDone: z.number().int().min(0),
  rounds: z.number().int().min(0),
  startedAt: z.string(),
  updatedAt: z.string(),
  /** Invocations of the coordinator for this job (1 = never resumed). */
  attempts: z.number().int().min(1),
  /** The final report (succeeded) — a JSON object, CRC values as decimal strings. */
  report: z.record(z.string(), z.unknown()).optional(),
  error: errorWire.optional(),
  aborted: z.boolean().optional(),
});

export type JobStatus = z.output<typeof jobStatusSchema>;

/** The JSON form of a status object (bigint → decimal string). */
export function jobStatusToJson(s: JobStatus): string {
  return JSON.stringify(s, bigintAsDecimal);
}

export class StatusObjectError extends OssferryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('StatusObject', message, options);
  }
}

export interface StatusStore {
  readonly location: StatusLocation;
  /** The client of the status bucket: the job lease (./lease.ts) lives beside the status objects. */
  readonly client?: OSS;
  /** undefined when there is no status object for the job. */
  read(jobId: string): Promise<JobStatus | undefined>;
  write(status: JobStatus): Promise<void>;
}

const isNotFound = (err: unknown) => {
  const e = err as { status?: number; code?: string };
  return e?.status === 404 && e.code === 'NoSuchKey';
};

/** Retry 5xx/429/network failures a few times (ali-oss itself does not retry HTTP errors). */
export const STATUS_OSS_RETRY = Object.freeze({ policy: Object.freeze({ baseMs: 100, maxMs: 2_000, maxAttempts: 6 }) });
const OSS_RETRY = STATUS_OSS_RETRY;

/** A status store over an ali-oss client for the status bucket. */
export function ossStatusStore(client: OSS, location: StatusLocation): StatusStore {
  return {
    location,
    client,
    async read(jobId) {
      const key = statusKey(location, jobId);
      let body: Buffer;
      try {
        body = await retry(
          async () => (await client.get(key)).content as Buffer,
          { ...OSS_RETRY, isRetryable: (e) => !isNotFound(e) && (e as { status?: number }).status !== 403 },
        );
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw new StatusObjectError(`reading status object oss://${location.bucket}/${key} failed: ${(err as Error).message}`, { cause: err });
      }
      let json: unknown;
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch (err) {
        throw new StatusObjectError(`status object oss://${location.bucket}/${key} is not JSON; delete it to start the job afresh`, { cause: err });
      }
      const r = jobStatusSchema.safeParse(json);
      if (!r.success) {
        throw new StatusObjectError(
          `status object oss://${location.bucket}/${key} is not a valid ossferry status (${r.error.issues[0]?.message}); delete it to start the job afresh`,
        );
      }
      // A valid status of another job at this key (copied or written by hand) is foreign: never trusted.
      if (r.data.jobId !== jobId) throw new StatusObjectError(`status object oss://${location.bucket}/${key} is foreign: it holds job ${r.data.jobId}, not ${jobId}; delete it to start the job afresh`);
      return r.data;
    },
    async write(status) {
      const key = statusKey(location, status.jobId);
      const body = Buffer.from(jobStatusToJson(status));
      try {
        await retry(() => client.put(key, body, { mime: 'application/json' } as OSS.PutObjectOptions), OSS_RETRY);
      } catch (err) {
        throw new StatusObjectError(`writing status object oss://${location.bucket}/${key} failed: ${(err as Error).message}`, { cause: err });
      }
    },
  };
}

/**
 * Serialises writes and coalesces bursts: the coordinator calls `save()` after every worker result; at most
 * one PUT is in flight and the latest state wins. `flush()` waits for everything saved so far.
 */
export class StatusWriter {
  readonly #store: StatusStore | undefined;
  readonly #guard: (() => void) | undefined;
  #pending: JobStatus | undefined;
  #running: Promise<void> | undefined;
  #lastError: unknown;

  /** `guard` runs before every write and throws when this writer may no longer write (a fenced lease). */
  constructor(store: StatusStore | undefined, guard?: () => void) {
    this.#store = store;
    this.#guard = guard;
  }

  save(status: JobStatus): void {
    if (!this.#store) return;
    this.#pending = structuredClone(status);
    if (!this.#running) this.#start();
  }

  /**
   * #running is cleared in a later microtask, never inside #drain: a drain that ends synchronously (the guard
   * throws before any write) would clear it before it is assigned, leaving a settled promise that flush() awaits
   * forever in a loop that starves the event loop. A save() landing between the drain's end and that microtask
   * is picked up by a new drain.
   */
  #start(): void {
    const run: Promise<void> = this.#drain().finally(() => {
      if (this.#running !== run) return;
      this.#running = undefined;
      if (this.#pending) this.#start();
    });
    this.#running = run;
  }

  async #drain(): Promise<void> {
    while (this.#pending) {
      const s = this.#pending;
      this.#pending = undefined;
      try {
        this.#guard?.();
        await this.#store!.write(s);
      } catch (err) {
        this.#lastError = err;
      }
    }
  }

  /** Waits for queued writes; throws the last write error if `strict`. */
  async flush(strict = false): Promise<void> {
    while (this.#running) await this.#running;
    if (strict && this.#lastError) {
      const e = this.#lastError;
      this.#lastError = undefined;
      throw e;
    }
  }

  get lastError(): unknown {
    return this.#lastError;
  }
}

/** The ids of the jobs with a status object under the store's location (keys `<prefix>/j<32 hex>.json`). */
export async function listJobIds(store: StatusStore): Promise<string[]> {
  const client = store.client;
  if (!client) return [];
  const prefix = store.location.prefix ? `${store.location.prefix}/` : '';
  const ids: string[] = [];
  let marker: string | undefined;
  for (;;) {
    const r = await retry(() => client.list({ prefix, delimiter: '/', 'max-keys': 1000, ...(marker ? { marker } : {}) }, {}), OSS_RETRY);
    for (const o of r.objects ?? []) {
      const m = /\/?(j[0-9a-f]{32})\.json$/.exec(o.name);
      if (m && o.name === `${prefix}${m[1]}.json`) ids.push(m[1]!);
    }
    if (!r.isTruncated || !r.nextMarker) break;
    marker = r.nextMarker;
  }
  return ids;
}

/** Whether anything of the job exists in the status location besides its status object (a lease, a cancel request). */
export async function jobTracesExist(store: StatusStore, jobId: string): Promise<boolean> {
  if (!store.client) return false;
  const prefix = `${store.location.prefix ? `${store.location.prefix}/` : ''}${jobId}/`;
  const r = await retry(() => store.client!.list({ prefix, 'max-keys': 1 }, {}), OSS_RETRY);
  return (r.objects ?? []).length > 0;
}
