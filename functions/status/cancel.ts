/**
 * Cancel requests in the status location: `<prefix>/<jobId>/cancel.json`, beside the job's lease objects.
 * `ossferry cancel` creates one (create-only: a second cancel finds the first); the job's owner polls for it
 * (functions/engine/cancel.ts). While the request exists the job is cancelled: a re-delivered or retried
 * invocation stops at once instead of starting again. An explicit re-submit (`ossferry copy` of the same job)
 * withdraws the request first — that is the one way a cancelled job runs again.
 */
import type OSS from 'ali-oss';
import { z } from 'zod';
import { retry } from '../../shared/retry.ts';
import { STATUS_OSS_RETRY, type StatusLocation } from './store.ts';

export const cancelRequestSchema = z.object({ version: z.literal(1), jobId: z.string(), requestedAt: z.string() });
export type CancelRequest = z.output<typeof cancelRequestSchema>;

export function cancelKey(loc: StatusLocation, jobId: string): string {
  return `${loc.prefix ? `${loc.prefix}/` : ''}${jobId}/cancel.json`;
}

const status = (e: unknown) => (e as { status?: number })?.status;
const permanent = (e: unknown) => status(e) === 404 || status(e) === 403 || status(e) === 409;

/**
 * The job's cancel request, or undefined. A request that is not ours (not JSON, another job id) still counts
 * as a request: cancelling is the safe reading of an object someone put at that key.
 */
export async function readCancelRequest(client: OSS, loc: StatusLocation, jobId: string): Promise<CancelRequest | undefined> {
  let body: Buffer;
  try {
    body = await retry(async () => (await client.get(cancelKey(loc, jobId))).content as Buffer, { ...STATUS_OSS_RETRY, isRetryable: (e) => !permanent(e) });
  } catch (err) {
    if (status(err) === 404) return undefined;
    throw err;
  }
  try {
    return cancelRequestSchema.parse(JSON.parse(body.toString('utf8')));
  } catch {
    return { version: 1, jobId, requestedAt: 'unknown (unreadable cancel request)' };
  }
}

/** Writes the cancel request create-only; `existing` when one was already there. */
export async function requestCancel(client: OSS, loc: StatusLocation, jobId: string, now: Date = new Date()): Promise<{ created: boolean; request: CancelRequest }> {
  const request: CancelRequest = { version: 1, jobId, requestedAt: now.toISOString() };
  try {
    await retry(
      () => client.put(cancelKey(loc, jobId), Buffer.from(JSON.stringify(request)), { headers: { 'x-oss-forbid-overwrite': 'true' }, mime: 'application/json' } as OSS.PutObjectOptions),
      { ...STATUS_OSS_RETRY, isRetryable: (e) => !permanent(e) },
    );
    return { created: true, request };
  } catch (err) {
    if (status(err) !== 409) throw err;
    return { created: false, request: (await readCancelRequest(client, loc, jobId)) ?? request };
  }
}

/** Removes the cancel request (an explicit re-submit). */
export async function withdrawCancel(client: OSS, loc: StatusLocation, jobId: string): Promise<void> {
  await retry(() => client.delete(cancelKey(loc, jobId)), { ...STATUS_OSS_RETRY, isRetryable: (e) => !permanent(e) });
}
