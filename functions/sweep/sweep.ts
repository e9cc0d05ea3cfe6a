/**
 * The sweep: aborts the open multipart uploads under the given destinations that no job will ever complete
 * (decisions: shared/sweep.ts). It reads every job's status object in the status location to learn which
 * job started which upload, lists the uploads of each destination (bucket[/prefix]) and, unless `dryRun`,
 * aborts those decided so. Meant to run on a timer, behind the jobs' own abort-on-failure.
 */
import type OSS from 'ali-oss';
import { errorToJson } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import { retry } from '../../shared/retry.ts';
import { decideSweep, type OpenUpload, type SweepDecision, type UploadJob } from '../../shared/sweep.ts';
import { isNoSuchUpload } from '../engine/abort.ts';
import { listJobIds, STATUS_OSS_RETRY, type StatusStore } from '../status/store.ts';

export interface SweepOptions {
  /** Where jobs record their uploads (status objects `<prefix>/<jobId>.json`). */
  status: StatusStore;
  /** Client for a destination bucket. */
  clientFor(bucket: string): OSS;
  /** Destinations to sweep: a bucket and an optional key prefix each. */
  destinations: ReadonlyArray<{ bucket: string; prefix?: string }>;
  /** Uploads initiated less than this long ago are kept. */
  olderThanMs: number;
  /** A non-terminal job whose status has not changed for this long is abandoned (default ABANDONED_AFTER_MS, 24 h). */
  abandonedAfterMs?: number;
  dryRun: boolean;
  logger: Logger;
  now?: () => number;
}

export interface SweepResult {
  decisions: Array<SweepDecision & { aborted?: boolean; error?: string }>;
  aborted: number;
  kept: number;
  failed: number;
}

/** uploadId → the job whose status object names it. */
async function jobsByUpload(store: StatusStore): Promise<Map<string, UploadJob>> {
  const out = new Map<string, UploadJob>();
  for (const id of await listJobIds(store)) {
    const s = await store.read(id).catch(() => undefined); // a foreign or corrupt status object names no upload
    if (s?.uploadId) out.set(s.uploadId, { jobId: s.jobId, state: s.state, ...(Number.isFinite(Date.parse(s.updatedAt)) ? { updatedAtMs: Date.parse(s.updatedAt) } : {}) });
  }
  return out;
}

async function openUploads(client: OSS, bucket: string, prefix: string): Promise<OpenUpload[]> {
  const out: OpenUpload[] = [];
  let keyMarker = '';
  let idMarker = '';
  for (;;) {
    const r = (await retry(() => client.listUploads({ prefix, 'max-uploads': 1000, ...(keyMarker ? { 'key-marker': keyMarker, 'upload-id-marker': idMarker } : {}) } as never), STATUS_OSS_RETRY)) as unknown as {
      uploads?: Array<{ name: string; uploadId: string; initiated: string }>;
      isTruncated?: boolean;
      nextKeyMarker?: string;
      nextUploadIdMarker?: string;
    };
    for (const u of r.uploads ?? []) out.push({ bucket, key: u.name, uploadId: u.uploadId, initiatedMs: Date.parse(u.initiated) });
    if (!r.isTruncated || !r.nextKeyMarker) break;
    keyMarker = r.nextKeyMarker;
    idMarker = r.nextUploadIdMarker ?? '';
  }
  return out;
}

export async function sweepUploads(o: SweepOptions): Promise<SweepResult> {
  const jobs = await jobsByUpload(o.status);
  const result: SweepResult = { decisions: [], aborted: 0, kept: 0, failed: 0 };
  for (const d of o.destinations) {
    const client = o.clientFor(d.bucket);
    const decisions = decideSweep(await openUploads(client, d.bucket, d.prefix ?? ''), jobs, (o.now ?? Date.now)(), o.olderThanMs, o.abandonedAfterMs);
    for (const dec of decisions) {
      if (dec.action === 'keep' || o.dryRun) {
        result.decisions.push(dec);
        if (dec.action === 'keep') result.kept++;
        continue;
      }
      try {
        await retry(() => client.abortMultipartUpload(dec.upload.key, dec.upload.uploadId), STATUS_OSS_RETRY);
        result.aborted++;
        result.decisions.push({ ...dec, aborted: true });
        o.logger.info('sweep aborted an upload', { bucket: dec.upload.bucket, key: dec.upload.key, uploadId: dec.upload.uploadId, reason: dec.reason });
      } catch (err) {
        if (isNoSuchUpload(err)) {
          // Another sweep (or the job itself) ended it between the listing and the abort: nothing is left open.
          result.aborted++;
          result.decisions.push({ ...dec, aborted: true });
          o.logger.info('sweep found the upload already gone', { bucket: dec.upload.bucket, key: dec.upload.key, uploadId: dec.upload.uploadId });
          continue;
        }
        result.failed++;
        result.decisions.push({ ...dec, aborted: false, error: (err as Error).message });
        o.logger.error('sweep could not abort an upload', { bucket: dec.upload.bucket, key: dec.upload.key, uploadId: dec.upload.uploadId, error: errorToJson(err) });
      }
    }
  }
  return result;
}
