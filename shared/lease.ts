/**
 * Job ownership decisions, pure (the OSS I/O is functions/status/lease.ts). A job's lease is a series of
 * objects `<statusPrefix>/<jobId>/lease-<epoch>.json`, each created with a create-only write (PutObject with
 * `x-oss-forbid-overwrite: true`): creating epoch N is a compare-and-set that exactly one invocation wins.
 * The owner re-writes its own epoch object as a heartbeat; its freshness is judged on the OSS server's clock
 * (the object's Last-Modified against the Date of the listing response), so coordinator clocks never matter.
 *
 * - The highest epoch owns the job while its heartbeat is fresh and it was not released.
 * - Anyone else takes over only by creating epoch max + 1 once that lease expired or was released.
 * - An owner that sees a higher epoch than its own is fenced: it must not complete, abort or write status.
 */

/** One lease object as a listing shows it. */
export interface LeaseRecord {
  epoch: number;
  /** Server time of the last write (Last-Modified), ms since epoch. */
  lastWriteMs: number;
  /** The owner gave the job up (finished or failed); the next invocation may take over at once. */
  released: boolean;
}

export type LeaseDecision =
  /** Nobody owns the job: try to create `epoch`. */
  | { kind: 'take'; epoch: number }
  /** `epoch` owns the job; its lease expires in `expiresInMs` unless renewed. */
  | { kind: 'held'; epoch: number; expiresInMs: number };

/** Whether `r` still owns the job at server time `nowMs`. */
export function isLive(r: LeaseRecord, nowMs: number, ttlMs: number): boolean {
  return !r.released && nowMs - r.lastWriteMs < ttlMs;
}

/** What an invocation that wants the job should do, given every lease object and the server's clock. */
export function decideLease(records: readonly LeaseRecord[], nowMs: number, ttlMs: number): LeaseDecision {
  let top: LeaseRecord | undefined;
  for (const r of records) if (!top || r.epoch > top.epoch) top = r;
  if (!top) return { kind: 'take', epoch: 1 };
  // Last-Modified and Date have second resolution: a write stamped after the listing counts as just now.
  if (isLive(top, nowMs, ttlMs)) return { kind: 'held', epoch: top.epoch, expiresInMs: ttlMs - Math.max(0, nowMs - top.lastWriteMs) };
  return { kind: 'take', epoch: top.epoch + 1 };
}

/** Whether the owner of `epoch` has been fenced: a later invocation created a higher epoch. */
export function isFenced(records: readonly LeaseRecord[], epoch: number): boolean {
  return records.some((r) => r.epoch > epoch);
}

/**
 * Whether an owner may still act (Initiate, Complete, abort, status write) at local time `nowMs`, given the
 * local time its last heartbeat was confirmed. It stops a margin before its lease could expire on the
 * server, so a successor (who waits the full TTL on the server's clock) never overlaps with it.
 */
export function mayAct(lastConfirmedMs: number, nowMs: number, ttlMs: number, marginMs: number): boolean {
  return nowMs - lastConfirmedMs < ttlMs - marginMs;
}

const EPOCH_DIGITS = 10;

/** The key of a lease object. Epochs are zero-padded so keys list in epoch order. */
export function leaseKey(prefix: string, jobId: string, epoch: number): string {
  return `${prefix ? `${prefix}/` : ''}${jobId}/lease-${String(epoch).padStart(EPOCH_DIGITS, '0')}.json`;
}

/** The epoch of a lease object key, or undefined for any other key. */
export function leaseEpochOf(key: string): number | undefined {
  const m = /\/lease-(\d{1,10})\.json$/.exec(key);
  if (!m) return undefined;
  const n = Number(m[1]);
  return n >= 1 ? n : undefined;
}
