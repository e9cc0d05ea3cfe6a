/**
 * Superseded jobs: when a source changes after a run crashed, its next run is a new job (the id hashes the
 * source version) and the old job's upload would stay open forever. Every job records its destination in
 * the status location (`<prefix>/destinations/<hash of oss://bucket/key>/<jobId>`) before it initiates; a
 * job about to initiate looks up the other jobs of its destination and, for each that is not terminal and
 * whose lease it can take (no live owner), aborts that job's upload and marks it failed (Superseded). It goes
 * through the same lease as everything else, so a live job is never touched and nothing is read-then-written.
 */
import { createHash } from 'node:crypto';
import type OSS from 'ali-oss';
import { errorToJson, OssferryError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import { OssPartSink } from '../oss/part-sink.ts';
import { acquireLease } from '../status/lease.ts';
import { STATUS_OSS_RETRY, type StatusStore } from '../status/store.ts';
import { retry } from '../../shared/retry.ts';
import { TERMINAL_JOB_STATES } from '../../shared/sweep.ts';
import { abortUpload } from './abort.ts';


/** The prefix under which the jobs of one destination are recorded. */
export function destinationIndexPrefix(statusPrefix: string, destination: string): string {
  const h = createHash('sha256').update(destination).digest('hex').slice(0, 32);
  return `${statusPrefix ? `${statusPrefix}/` : ''}destinations/${h}/`;
}

/** Records that `jobId` writes to `destination` (idempotent; before its Initiate). */
export async function recordDestination(store: StatusStore, destination: string, jobId: string): Promise<void> {
  if (!store.client) return;
  const key = `${destinationIndexPrefix(store.location.prefix, destination)}${jobId}`;
  await retry(() => store.client!.put(key, Buffer.from(destination)), STATUS_OSS_RETRY);
}

/** The job superseded another: its upload was aborted and it was marked failed. */
export class SupersededError extends OssferryError {
  constructor(by: string) {
    super('Superseded', `a newer job (${by}) for the same destination took over; this job's upload was aborted. Fix: none needed, or submit this source again`);
  }
}

/**
 * Aborts the uploads of the other, abandoned jobs of `destination` (see above). Returns how many uploads
 * were aborted. Failures are logged, never thrown: the job itself goes on.
 */
export async function abortSupersededJobs(store: StatusStore, destinationClient: OSS, destination: { bucket: string; key: string; url: string }, jobId: string, log: Logger): Promise<number> {
  const client = store.client;
  if (!client) return 0;
  let aborted = 0;
  try {
    const prefix = destinationIndexPrefix(store.location.prefix, destination.url);
    const listed = await retry(() => client.list({ prefix, 'max-keys': 1000 }, {}), STATUS_OSS_RETRY);
    for (const o of listed.objects ?? []) {
      const other = o.name.slice(prefix.length);
      if (other === jobId || !/^j[0-9a-f]{32}$/.test(other)) continue;
      const s = await store.read(other).catch(() => undefined);
      if (!s || TERMINAL_JOB_STATES.has(s.state)) continue;
      const got = await acquireLease(client, store.location, other, { waitMs: 0, logger: log });
      if (got.kind !== 'owner') continue; // a live job: never touched
      try {
        const now = await store.read(other);
        if (!now || TERMINAL_JOB_STATES.has(now.state)) continue;
        let upload = true;
        if (now.uploadId) {
          upload = await abortUpload(new OssPartSink({ client: destinationClient, bucket: destination.bucket, key: destination.key, uploadId: now.uploadId, logger: log }), log);
          if (upload) aborted++;
        }
        got.lease.assertOwner();
        await store.write({ ...now, state: 'failed', error: errorToJson(new SupersededError(jobId)) as never, aborted: upload, updatedAt: new Date().toISOString() });
        log.warn('aborted the upload of a superseded job of this destination', { superseded: other, uploadId: now.uploadId });
      } finally {
        await got.lease.release();
      }
    }
  } catch (err) {
    log.error('looking for superseded jobs of this destination failed', { error: errorToJson(err) });
  }
  return aborted;
}

/** Before this job initiates: record its destination, then abort abandoned jobs' uploads there. */
export async function claimDestination(store: StatusStore, destinationClient: OSS, destination: { bucket: string; key: string; url: string }, jobId: string, log: Logger): Promise<number> {
  await recordDestination(store, destination.url, jobId);
  return abortSupersededJobs(store, destinationClient, destination, jobId, log);
}
