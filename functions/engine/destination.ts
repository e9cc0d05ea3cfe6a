/**
 * The destination object and its multipart uploads, as the lifecycle needs them: HEAD (what is there and
 * whose it is), the provenance metadata every mode writes, Complete that survives its own retry, and the
 * search for stray uploads of the job's key (an Initiate whose response was lost).
 */
import type OSS from 'ali-oss';
import { destinationHeaders, destinationMeta } from '../../shared/attributes.ts';
import { crc64FromWire } from '../../shared/crc64/wire.ts';
import { errorToJson, IntegrityError, InvalidInputError } from '../../shared/errors.ts';
import type { Job } from '../../shared/job.ts';
import { safeUrl, type Logger } from '../../shared/log.ts';
import type { PartReceipt } from '../../shared/task.ts';
import { OBJECT_META } from '../../shared/verify.ts';
import { DestinationExistsError, type PartSink } from '../oss/types.ts';
import type { SourceIdentity } from '../sources/types.ts';
import { isNoSuchUpload } from './abort.ts';
import { header, ossRetry, type ResponseHeaders } from './oss-calls.ts';
import type { DestinationInfo, ModeContext } from './types.ts';

export function missingBucket(job: Job, cause: unknown): InvalidInputError {
  return new InvalidInputError('destination', `bucket ${job.destination.bucket} does not exist`, 'create the bucket first or choose an existing one', { cause });
}

/** HEAD the destination; undefined when it does not exist. A missing bucket is bad input. */
export async function headDestination(client: OSS, job: Job, signal?: AbortSignal): Promise<DestinationInfo | undefined> {
  try {
    const r = await ossRetry(() => client.head(job.destination.key), signal);
    const h = (r.res as unknown as { headers: ResponseHeaders }).headers;
    const crc = header(h, 'x-oss-hash-crc64ecma');
    const out: DestinationInfo = { size: Number(header(h, 'content-length') ?? 0), meta: (r.meta ?? {}) as Record<string, string> };
    if (crc !== undefined) out.crc64 = crc64FromWire(crc, 'x-oss-hash-crc64ecma');
    const etag = header(h, 'etag');
    if (etag !== undefined) out.etag = etag;
    return out;
  } catch (err) {
    const e = err as { status?: number; code?: string };
    if (e.status === 404 && e.code === 'NoSuchBucket') throw missingBucket(job, err);
    if (e.status === 404) return undefined;
    throw err;
  }
}

/** Object metadata recording where the bytes came from (x-oss-meta-*). Values are ASCII-safe. */
export function objectMeta(job: Job, jobId: string, identity: SourceIdentity): Record<string, string> {
  const ascii = (s: string) => s.replace(/[^\x20-\x7e]/g, '?').slice(0, 1024);
  const meta: Record<string, string> = {
    [OBJECT_META.JOB_ID]: jobId,
    'source-url': ascii(safeUrl(job.source.url) === '[unparseable url]' ? job.source.url.split('?')[0]! : safeUrl(job.source.url)),
    [OBJECT_META.SOURCE_SIZE]: String(identity.size),
  };
  if (identity.etag !== undefined) meta['source-etag'] = ascii(identity.etag);
  if (identity.crc64 !== undefined) meta[OBJECT_META.SOURCE_CRC64] = identity.crc64.toString(10);
  if (identity.mtimeMs !== undefined) meta['source-mtime-ms'] = String(identity.mtimeMs);
  return meta;
}

/**
 * What Initiate carries: the source's attributes as the job's object options say (shared/attributes.ts), then the
 * mode's own metadata (which wins over a source's metadata of the same name), and the unpinned label.
 */
export function initiateOf(ctx: ModeContext, modeMeta: Record<string, string>): { meta: Record<string, string>; headers: Record<string, string> } {
  const write = { mode: ctx.job.mode, ...(ctx.attributes ? { source: ctx.attributes } : {}), options: ctx.job.object };
  const meta = { ...destinationMeta(write), ...modeMeta };
  if (ctx.unpinned) meta[OBJECT_META.UNPINNED] = 'true';
  return { meta, headers: destinationHeaders({ ...write, key: ctx.job.destination.key }) };
}

/**
 * Complete with retries. A retried Complete whose first attempt already succeeded answers NoSuchUpload (or
 * FileAlreadyExists with forbid-overwrite): then the object is ours if its metadata carries this job id.
 */
export async function completeOnce(sink: PartSink, client: OSS, receipts: PartReceipt[], job: Job, jobId: string, overwrite: boolean, signal?: AbortSignal): Promise<{ etag: string; crc64?: bigint }> {
  let attempt = 0;
  try {
    return await ossRetry(() => {
      attempt++;
      return sink.complete(receipts, { overwrite, ...(signal ? { signal } : {}) });
    });
  } catch (err) {
    if (attempt > 1 && (isNoSuchUpload(err) || err instanceof DestinationExistsError)) {
      const obj = await headDestination(client, job, signal);
      if (obj && obj.meta[OBJECT_META.JOB_ID] === jobId) return { etag: obj.etag ?? '', ...(obj.crc64 !== undefined ? { crc64: obj.crc64 } : {}) };
    }
    throw err;
  }
}

/** OSS's Initiated time has second resolution and the two clocks differ: look this far before the intent. */
const INTENT_SKEW_MS = 5_000;

/**
 * Aborts the multipart uploads of `key` initiated since `sinceIso` (the job's recorded intent) other than
 * `keep`: the leftovers of an Initiate whose response was lost, here or in a run that crashed before
 * recording its upload id. Only the lease owner initiates uploads of this job, so they are this job's.
 * Returns how many were aborted; failures are logged (the sweep removes what is left).
 */
export async function abortStrayUploads(client: OSS, key: string, sinceIso: string, keep: string | undefined, log: Logger): Promise<number> {
  const since = Date.parse(sinceIso) - INTENT_SKEW_MS;
  let aborted = 0;
  try {
    const r = (await ossRetry(() => client.listUploads({ prefix: key, 'max-uploads': 1000 } as never))) as unknown as { uploads?: Array<{ name: string; uploadId: string; initiated: string }> };
    for (const u of r.uploads ?? []) {
      if (u.name !== key || u.uploadId === keep || !(Date.parse(u.initiated) >= since)) continue;
      await ossRetry(() => client.abortMultipartUpload(key, u.uploadId));
      aborted++;
      log.warn('aborted a stray multipart upload of this job (an Initiate whose answer was lost)', { uploadId: u.uploadId, initiated: u.initiated });
    }
  } catch (err) {
    log.error('looking for stray multipart uploads failed', { error: errorToJson(err) });
  }
  return aborted;
}

/** A completed object whose CRC-64 is not what was sent: deleted; the error says so (or that it must be). */
export async function removeUnverified(client: OSS, key: string, ossCrc64: bigint | undefined, combined: bigint): Promise<IntegrityError> {
  const problem = ossCrc64 === undefined ? 'OSS returned no whole-object CRC-64' : `OSS's CRC-64 ${ossCrc64} differs from the combined part CRC-64 ${combined}`;
  const removed = await ossRetry(() => client.delete(key)).then(() => true, () => false);
  return new IntegrityError(`${problem}; the completed object was ${removed ? 'deleted' : 'NOT deleted (delete it by hand)'}`);
}
