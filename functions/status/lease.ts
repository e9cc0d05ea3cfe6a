/**
 * A job's lease in the status location, over OSS (decisions: shared/lease.ts). `acquireLease` lists the
 * job's lease objects and either takes the job by creating the next epoch create-only (x-oss-forbid-overwrite:
 * true — exactly one invocation can create it) or reports the live owner, after waiting up to `waitMs` for
 * it to expire or release. The owner's `JobLease` re-writes its epoch object every `heartbeatMs` and lists
 * again: a higher epoch fences it (`lost`, `signal` aborted); so does a heartbeat it could not confirm for
 * `ttlMs - margin` (its lease may have expired on the server). Release writes `lease-<epoch>.released`.
 */
import { randomBytes } from 'node:crypto';
import type OSS from 'ali-oss';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorToJson } from '../../shared/errors.ts';
import { decideLease, isFenced, leaseEpochOf, leaseKey, mayAct, type LeaseRecord } from '../../shared/lease.ts';
import type { Logger } from '../../shared/log.ts';
import { retry } from '../../shared/retry.ts';
import { LeaseLostError } from '../engine/errors.ts';
import { STATUS_OSS_RETRY, StatusObjectError, type StatusLocation } from './store.ts';

export const LEASE_DEFAULTS = Object.freeze({ ttlMs: 30_000, heartbeatMs: 5_000 });

export interface LeaseOptions {
  ttlMs?: number;
  heartbeatMs?: number;
  /** How long to wait for a live owner's lease to expire or be released. Default ttlMs + heartbeatMs. */
  waitMs?: number;
  logger: Logger;
  signal?: AbortSignal;
  now?: () => number;
}

export type LeaseOutcome = { kind: 'owner'; lease: JobLease } | { kind: 'held'; epoch: number; expiresInMs: number };

/** The status location's retry policy: lease objects live beside the status objects. */
const OSS_RETRY = STATUS_OSS_RETRY;
const isConflict = (err: unknown) => (err as { status?: number }).status === 409;

/** The job's lease objects and the OSS server's clock at the time of the listing. */
async function listLeases(client: OSS, loc: StatusLocation, jobId: string): Promise<{ records: LeaseRecord[]; serverNowMs: number }> {
  const prefix = leaseKey(loc.prefix, jobId, 1).replace(/lease-\d+\.json$/, 'lease-');
  const byEpoch = new Map<number, LeaseRecord>();
  const released = new Set<number>();
  let marker: string | undefined;
  let serverNowMs = Date.now();
  for (;;) {
    const r = await retry(() => client.list({ prefix, 'max-keys': 1000, ...(marker ? { marker } : {}) }, {}), OSS_RETRY);
    const date = Date.parse(String((r.res.headers as Record<string, string>).date ?? ''));
    if (Number.isFinite(date)) serverNowMs = date;
    for (const o of r.objects ?? []) {
      if (o.name.endsWith('.released')) {
        const e = leaseEpochOf(o.name.slice(0, -'.released'.length));
        if (e !== undefined) released.add(e);
        continue;
      }
      const e = leaseEpochOf(o.name);
      if (e !== undefined) byEpoch.set(e, { epoch: e, lastWriteMs: Date.parse(o.lastModified), released: false });
    }
    if (!r.isTruncated || !r.nextMarker) break;
    marker = r.nextMarker;
  }
  for (const e of released) {
    const rec = byEpoch.get(e);
    if (rec) rec.released = true;
  }
  return { records: [...byEpoch.values()], serverNowMs };
}

/**
 * Takes the job's lease, or reports who holds it. A status location that cannot be listed or written fails
 * here with StatusObjectError, before anything of the job has started.
 */
export async function acquireLease(client: OSS, loc: StatusLocation, jobId: string, o: LeaseOptions): Promise<LeaseOutcome> {
  try {
    return await acquire(client, loc, jobId, o);
  } catch (err) {
    if ((err as Error)?.name === 'AbortError' || err instanceof StatusObjectError) throw err;
    const where = `oss://${loc.bucket}/${leaseKey(loc.prefix, jobId, 1).replace(/lease-\d+\.json$/, 'lease-*')}`;
    throw new StatusObjectError(`writing status object (the job lease ${where}) failed: ${(err as Error).message}; nothing was started`, { cause: err });
  }
}

async function acquire(client: OSS, loc: StatusLocation, jobId: string, o: LeaseOptions): Promise<LeaseOutcome> {
  const ttlMs = o.ttlMs ?? LEASE_DEFAULTS.ttlMs;
  const heartbeatMs = o.heartbeatMs ?? Math.max(200, Math.min(LEASE_DEFAULTS.heartbeatMs, Math.floor(ttlMs / 4)));
  const waitUntil = Date.now() + (o.waitMs ?? ttlMs + heartbeatMs);
  const token = randomBytes(12).toString('hex');
  for (;;) {
    const { records, serverNowMs } = await listLeases(client, loc, jobId);
    const d = decideLease(records, serverNowMs, ttlMs);
    if (d.kind === 'take') {
      const key = leaseKey(loc.prefix, jobId, d.epoch);
      const sentAt = (o.now ?? Date.now)();
      const won = await createOnly(client, key, token);
      if (won) {
        const lease = new JobLease(client, loc, jobId, d.epoch, token, { ttlMs, heartbeatMs, logger: o.logger, now: o.now ?? Date.now }, sentAt);
        o.logger.info('job lease taken', { epoch: d.epoch, ttlMs });
        return { kind: 'owner', lease };
      }
      continue; // another invocation created this epoch first: decide again on a fresh listing
    }
    if (Date.now() >= waitUntil) return d;
    o.logger.info('job lease held by another invocation; waiting', { epoch: d.epoch, expiresInMs: d.expiresInMs });
    await sleep(Math.min(500, Math.max(50, d.expiresInMs)), undefined, o.signal ? { signal: o.signal } : {});
  }
}

/** Creates `key` only if absent. True when this call (or its lost-response retry: same token) created it. */
async function createOnly(client: OSS, key: string, token: string): Promise<boolean> {
  const body = Buffer.from(JSON.stringify({ token, at: new Date().toISOString() }));
  try {
    await retry(() => client.put(key, body, { headers: { 'x-oss-forbid-overwrite': 'true' }, mime: 'application/json' } as OSS.PutObjectOptions), {
      ...OSS_RETRY,
      isRetryable: (e) => !isConflict(e) && (e as { status?: number }).status !== 403,
    });
    return true;
  } catch (err) {
    if (!isConflict(err)) throw err;
    // A retried create whose first attempt landed answers 409 too: the object's token says whose it is.
    const existing = await retry(() => client.get(key), OSS_RETRY).catch(() => undefined);
    return existing !== undefined && (existing.content as Buffer).toString('utf8').includes(`"token":"${token}"`);
  }
}

/** An owned lease: heartbeat, fencing, release. */
export class JobLease {
  readonly epoch: number;
  readonly #client: OSS;
  readonly #loc: StatusLocation;
  readonly #jobId: string;
  readonly #token: string;
  readonly #o: { ttlMs: number; heartbeatMs: number; logger: Logger; now: () => number };
  readonly #ctl = new AbortController();
  #confirmedAt: number;
  #lost: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #beat: Promise<void> | undefined;

  constructor(client: OSS, loc: StatusLocation, jobId: string, epoch: number, token: string, o: { ttlMs: number; heartbeatMs: number; logger: Logger; now: () => number }, confirmedAt: number) {
    this.#client = client;
    this.#loc = loc;
    this.#jobId = jobId;
    this.epoch = epoch;
    this.#token = token;
    this.#o = o;
    this.#confirmedAt = confirmedAt;
    this.#timer = setInterval(() => {
      this.#beat ??= this.#heartbeat().finally(() => (this.#beat = undefined));
    }, o.heartbeatMs);
    this.#timer.unref();
  }

  /** Aborted when the lease is lost (fenced or unconfirmed): everything the owner does should stop. */
  get signal(): AbortSignal {
    return this.#ctl.signal;
  }

  /** Throws LeaseLostError unless this owner may still act (no higher epoch seen, heartbeat confirmed recently). */
  assertOwner(): void {
    const margin = Math.min(this.#o.ttlMs / 3, 2 * this.#o.heartbeatMs);
    if (this.#lost === undefined && !mayAct(this.#confirmedAt, this.#o.now(), this.#o.ttlMs, margin)) {
      this.#lose(`no heartbeat confirmed for ${this.#o.now() - this.#confirmedAt} ms`);
    }
    if (this.#lost !== undefined) throw new LeaseLostError(this.#jobId, this.#lost);
  }

  /** Before a step that must not run twice (Initiate, Complete, abort): list again, then assertOwner. */
  async confirm(): Promise<void> {
    this.assertOwner();
    const { records } = await listLeases(this.#client, this.#loc, this.#jobId);
    if (isFenced(records, this.epoch)) this.#lose(`epoch ${Math.max(...records.map((r) => r.epoch))} took over from epoch ${this.epoch}`);
    this.assertOwner();
  }

  async #heartbeat(): Promise<void> {
    if (this.#lost !== undefined) return;
    const sentAt = this.#o.now();
    try {
      const body = Buffer.from(JSON.stringify({ token: this.#token, at: new Date().toISOString() }));
      await this.#client.put(leaseKey(this.#loc.prefix, this.#jobId, this.epoch), body, { mime: 'application/json' } as OSS.PutObjectOptions);
      const { records } = await listLeases(this.#client, this.#loc, this.#jobId);
      if (isFenced(records, this.epoch)) this.#lose(`a later invocation took the job over from epoch ${this.epoch}`);
      else this.#confirmedAt = sentAt;
    } catch (err) {
      this.#o.logger.warn('lease heartbeat failed', { epoch: this.epoch, error: errorToJson(err) });
    }
  }

  #lose(why: string): void {
    if (this.#lost !== undefined) return;
    this.#lost = why;
    this.#o.logger.error('job lease lost; stopping without touching the upload or the status', { epoch: this.epoch, why });
    this.#stop();
    this.#ctl.abort(new LeaseLostError(this.#jobId, why));
  }

  #stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Gives the job up (finished or failed): the next invocation may take over at once. Never throws. */
  async release(): Promise<void> {
    this.#stop();
    await this.#beat?.catch(() => undefined);
    if (this.#lost !== undefined) return;
    const key = `${leaseKey(this.#loc.prefix, this.#jobId, this.epoch)}.released`;
    await retry(() => this.#client.put(key, Buffer.from('{}'), { mime: 'application/json' } as OSS.PutObjectOptions), OSS_RETRY).catch((err: unknown) =>
      this.#o.logger.warn('lease release failed; the lease expires on its own', { epoch: this.epoch, error: errorToJson(err) }),
    );
    // Released: whatever of this run is still in flight may no longer write status.
    this.#lost = `epoch ${this.epoch} was released`;
  }

  /** Stops heartbeating without releasing (tests: a crash). */
  abandon(): void {
    this.#stop();
  }
}
