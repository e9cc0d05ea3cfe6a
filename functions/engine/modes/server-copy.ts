/**
 * The server-copy strategy of copy mode: an oss:// source in the destination's region is copied by OSS itself
 * (UploadPartCopy), part by part, from the coordinator — no bytes pass through a worker or the coordinator, and
 * no worker is invoked. Each part is pinned to the source's ETag (x-oss-copy-source-if-match: a change answers
 * 412 and the job fails cleanly), its CRC-64 is the one OSS states for the part (ListParts), and the lifecycle
 * then checks the combined CRC-64 against the source's and OSS's whole-object one, as for streamed parts.
 *
 * Same region is known without a probe: the job names no source endpoint and no other region, so the source
 * client is the destination's (same endpoint, same credentials). Same account is not needed: the source HEAD
 * already succeeded with these credentials, and UploadPartCopy needs exactly that read permission on the source.
 */
import { OssferryError } from '../../../shared/errors.ts';
import type { Job } from '../../../shared/job.ts';
import type { Logger } from '../../../shared/log.ts';
import { groupIntoTasks, type PartRange } from '../../../shared/plan.ts';
import { isRetryableError } from '../../../shared/retry.ts';
import type { PartReceipt, WorkerError } from '../../../shared/task.ts';
import { OssPartSink } from '../../oss/part-sink.ts';
import { SourceChangedError, type SourceIdentity } from '../../sources/types.ts';
import type { DispatchOutcome } from '../dispatch.ts';
import { ossRetry } from '../oss-calls.ts';
import type { EngineDeps } from '../types.ts';

/** Which path a copy job's bytes take: OSS copies them server-side, or workers stream them. */
export type CopyPath = 'server-copy' | 'stream';

/** UploadPartCopy calls in flight at once (each a run of consecutive parts, one at a time). */
export const SERVER_COPY_STREAMS = 16;

export type PathChoice = { path: 'server-copy'; etag: string } | { path: 'stream'; reason: string };

/**
 * Decides the path of a copy job (pure): server copy only for an oss:// source the destination's client can read
 * in place (no sourceEndpoint, no other sourceRegion), that OSS can copy (`serverCopyable`: not Appendable), pinned
 * by an ETag and publishing a CRC-64 to prove the result against; everything else streams.
 */
export function chooseCopyPath(job: Job, identity: SourceIdentity, functionRegion: string | undefined, serverCopyable: boolean): PathChoice {
  const s = job.source;
  if (job.mode !== 'copy') return { path: 'stream', reason: 'archive mode compresses the bytes' };
  if (s.kind !== 'oss') return { path: 'stream', reason: `a ${s.kind} source` };
  if (!serverCopyable) return { path: 'stream', reason: 'OSS cannot copy this object server-side (an Appendable object)' };
  if (s.endpoint !== undefined) return { path: 'stream', reason: 'the job names a sourceEndpoint (another region or OSS service)' };
  if (s.region !== undefined && s.region !== functionRegion) return { path: 'stream', reason: `sourceRegion ${s.region} is not the destination's region ${functionRegion ?? '(unknown)'}` };
  if (identity.size === 0) return { path: 'stream', reason: 'an empty source has no byte range to copy' };
  if (identity.etag === undefined) return { path: 'stream', reason: 'the source HEAD gave no ETag to pin the copy to' };
  if (identity.crc64 === undefined) return { path: 'stream', reason: 'the source publishes no CRC-64 to prove the copy against' };
  return { path: 'server-copy', etag: identity.etag };
}

/** A copy-source answer that means the source is not the version planned (412 PreconditionFailed, or gone). */
function sourceChanged(err: unknown, source: string, partNumber: number): SourceChangedError | undefined {
  const e = err as { status?: number; code?: string };
  if (e?.status === 412) return new SourceChangedError(`${source} changed since the job was planned (UploadPartCopy of part ${partNumber}: 412 PreconditionFailed on x-oss-copy-source-if-match). Fix: run the job again to copy the new version`, { cause: err });
  if (e?.status === 404 && e.code === 'NoSuchKey') return new SourceChangedError(`${source} is gone (UploadPartCopy of part ${partNumber}: NoSuchKey)`, { cause: err });
  return undefined;
}

export interface ServerCopyRound {
  job: Job;
  deps: EngineDeps;
  log: Logger;
  uploadId: string;
  etag: string;
  /** Parts still missing, ascending. */
  missing: readonly PartRange[];
  /** Parts are not started at or after this instant (what is left goes to the next round). */
  deadlineMs: number;
  /** Display form of the source for messages. */
  source: string;
}

/**
 * One round of server-side part copies: up to SERVER_COPY_STREAMS runs of consecutive parts, each a function the
 * lifecycle runs in place of a worker dispatch. Its answer has the worker result's shape, so the copy plan's
 * result check applies unchanged. A changed source or any other permanent error is fatal; a transient one that
 * outlasts the retries leaves the part for the next round.
 */
export function serverCopyRound(r: ServerCopyRound): Array<{ parts: PartRange[]; run(signal: AbortSignal): Promise<DispatchOutcome> }> {
  const { job, deps, log } = r;
  const now = deps.now ?? Date.now;
  const sink = new OssPartSink({ client: deps.destinationClient, bucket: job.destination.bucket, key: job.destination.key, uploadId: r.uploadId, logger: log });
  const src = job.source as Extract<Job['source'], { kind: 'oss' }>;
  const copySource = { bucket: src.bucket, key: src.key, etag: r.etag };
  return groupIntoTasks(r.missing, { maxWorkers: SERVER_COPY_STREAMS, streamsPerWorker: 1 }).map((t) => ({
    parts: t.parts,
    async run(signal: AbortSignal): Promise<DispatchOutcome> {
      const receipts: PartReceipt[] = [];
      const unfinished: number[] = [];
      const errors: WorkerError[] = [];
      for (const p of t.parts) {
        if (signal.aborted || now() >= r.deadlineMs || errors.length > 0) {
          unfinished.push(p.partNumber);
          continue;
        }
        try {
          const copied = await ossRetry(() => sink.copyPart(p.partNumber, copySource, p.start, p.end), signal);
          receipts.push({ partNumber: p.partNumber, ...copied });
        } catch (err) {
          const changed = sourceChanged(err, r.source, p.partNumber);
          if (changed) return { kind: 'fatal', error: changed };
          if (signal.aborted || (err instanceof Error && !isRetryableError(err))) return { kind: 'fatal', error: err };
          unfinished.push(p.partNumber);
          errors.push({ partNumber: p.partNumber, code: err instanceof OssferryError ? err.code : ((err as { code?: string }).code ?? 'UploadPartCopy'), message: (err as Error).message, retryable: true });
        }
      }
      return { kind: 'result', result: { mode: 'copy', receipts, unfinished, errors } };
    },
  }));
}
