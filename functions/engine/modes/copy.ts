/**
 * Copy mode: the source's bytes become the object unchanged. Plan: fixed-size parts (shared/plan.ts),
 * grouped each round into runs of consecutive missing parts per worker. A part is done when a worker's
 * receipt (its CRC-64 == OSS's) matches the plan. On resume ListParts is the truth: a listed part with its
 * planned size is reused when its CRC-64 is proven — by a receipt an earlier run recorded (same ETag and
 * size), or, when no receipt survived, by reading that source range again and comparing its CRC-64 with the
 * one OSS lists for the part (HashCrc64ecma). A part no proof covers is uploaded again: never trusted.
 */
import { crc64CombineParts } from '../../../shared/crc64/index.ts';
import { errorToJson, IntegrityError, OssferryError } from '../../../shared/errors.ts';
import { isPinned } from '../../../shared/pinning.ts';
import { choosePartSize, planJob, replanMissing, resolveWorkers, splitParts, type PartRange } from '../../../shared/plan.ts';
import { capabilitiesOf } from '../../../shared/sources.ts';
import { NO_REUSE, type CopyReport } from '../../../shared/report.ts';
import { taskSourceFor, taskToWire, type PartReceipt } from '../../../shared/task.ts';
import type { ListedPart } from '../../oss/types.ts';
import type { JobStatus } from '../../status/store.ts';
import { rangeCrc64 } from '../../sources/range-crc.ts';
import { SourceChangedError } from '../../sources/types.ts';
import { ossRetry } from '../oss-calls.ts';
import { initiateOf, objectMeta } from '../destination.ts';
import type { DestinationInfo, JobMode, ModeContext, ModePlan, RoundTask, RunFacts } from '../types.ts';
import { chooseCopyPath, SERVER_COPY_STREAMS, serverCopyRound } from './server-copy.ts';

/** Source ranges read again at once to prove listed parts without a receipt. */
const REREAD_CONCURRENCY = 4;

export const copyMode: JobMode = {
  alreadyDone(ctx, existing, prior) {
    return prior ? finishedEarlier(ctx, prior, existing) : undefined;
  },
  plan(ctx, resumeFrom) {
    return copyPlan(ctx, resumeFrom);
  },
};

function copyPlan(ctx: ModeContext, resumeFrom: JobStatus | undefined): ModePlan {
  const { job, jobId, identity, deps, log } = ctx;
  const path = chooseCopyPath(job, identity, deps.ossHints?.region, ctx.serverCopyable ?? false);
  const workers = resolveWorkers(job.workers, identity.size, deps.maxWorkers, capabilitiesOf(job.source.kind).autoWorkersCap);
  const planOptions = { partSize: job.partSize, maxWorkers: workers, streamsPerWorker: job.streamsPerWorker };
  // Server copy sizes parts for its own SERVER_COPY_STREAMS calls in flight; streaming for the job's workers × streams.
  const freshPartSize = path.path === 'server-copy' ? choosePartSize(identity.size, { partSize: job.partSize, maxWorkers: SERVER_COPY_STREAMS, streamsPerWorker: 1 }) : planJob(identity.size, planOptions).partSize;
  // Resuming keeps the earlier part size, so part boundaries match what OSS holds.
  const partSize = resumeFrom && resumeFrom.partSize >= 1 ? resumeFrom.partSize : freshPartSize;
  const parts: PartRange[] = splitParts(identity.size, partSize);
  const byNumber = new Map(parts.map((p) => [p.partNumber, p]));
  /** Bytes workers uploaded in this run (0 on the server-copy path). */
  let workerBytes = 0;
  const done = new Map<number, PartReceipt>();
  let reusedParts = 0;
  log.info('job planned', { mode: 'copy', path: path.path, ...(path.path === 'stream' ? { streamReason: path.reason } : {}), source: ctx.source, destination: ctx.destination, size: identity.size, partSize, parts: parts.length, workers, streamsPerWorker: job.streamsPerWorker });

  /** The result check of one task (a worker's, or a run of server-side part copies): receipts must match the plan. */
  const acceptFor = (taskParts: readonly PartRange[], byWorker: boolean): RoundTask['accept'] => {
    const inTask = new Set(taskParts.map((p) => p.partNumber));
    return (r) => {
      if (r.mode !== 'copy') return `answered a ${r.mode} result to a copy task`;
      if (r.fatal) throw new OssferryError(r.fatal.code, r.fatal.message);
      for (const rec of r.receipts) {
        const planned = byNumber.get(rec.partNumber);
        if (!planned || !inTask.has(rec.partNumber) || rec.size !== planned.end - planned.start) {
          log.error('receipt does not match its task; part will be uploaded again', { receipt: { partNumber: rec.partNumber, size: rec.size } });
          continue;
        }
        done.set(rec.partNumber, rec);
        if (byWorker) workerBytes += rec.size;
      }
      if (r.errors.length > 0 || r.unfinished.length > 0) log.warn('task returned unfinished parts', { unfinished: r.unfinished.length, errors: r.errors.slice(0, 5) });
      return undefined;
    };
  };

  return {
    partSize,
    partCount: parts.length,
    initiate: initiateOf(ctx, objectMeta(job, jobId, identity)),
    async resume(prior, listed) {
      const recorded = new Map(prior.parts.map((p) => [p.partNumber, p]));
      const toReread: Array<{ listed: ListedPart; planned: PartRange }> = [];
      let byReceipt = 0;
      for (const l of listed) {
        const planned = byNumber.get(l.partNumber);
        if (!planned || l.size !== planned.end - planned.start) continue;
        const rec = recorded.get(l.partNumber);
        if (rec && rec.etag === l.etag && rec.size === l.size && (l.crc64 === undefined || l.crc64 === rec.crc64)) {
          done.set(l.partNumber, { partNumber: rec.partNumber, etag: rec.etag, size: rec.size, crc64: rec.crc64 });
          byReceipt++;
        } else if (l.crc64 !== undefined && path.path === 'stream') toReread.push({ listed: l, planned }); // a server copy is redone, never read through here
      }
      let byReread = 0;
      if (toReread.length > 0) {
        const source = deps.openSource(job);
        try {
          const queue = [...toReread];
          await Promise.all(
            Array.from({ length: Math.min(REREAD_CONCURRENCY, queue.length) }, async () => {
              for (let item = queue.shift(); item; item = queue.shift()) {
                const { start, end } = item.planned;
                // A read that fails transiently is tried again (as workers do); one that keeps failing only
                // means this part is uploaded again. A changed source still fails the job (SourceChanged).
                let crc: bigint;
                try {
                  crc = await ossRetry(() => rangeCrc64(source, start, end, identity, deps.signal), deps.signal);
                } catch (err) {
                  if (err instanceof SourceChangedError || deps.signal?.aborted) throw err;
                  log.warn('listed part could not be read again; it is uploaded again', { partNumber: item.listed.partNumber, error: errorToJson(err) });
                  continue;
                }
                if (crc !== item.listed.crc64) {
                  log.warn('listed part differs from the source range; it is uploaded again', { partNumber: item.listed.partNumber });
                  continue;
                }
                done.set(item.listed.partNumber, { partNumber: item.listed.partNumber, etag: item.listed.etag, size: item.listed.size, crc64: crc });
                byReread++;
              }
            }),
          );
        } finally {
          await source.close().catch(() => undefined);
        }
      }
      reusedParts = done.size;
      return { parts: done.size, byReceipt, byReread };
    },
    round(uploadId, deadlineMs) {
      if (path.path === 'server-copy') {
        const missing = parts.filter((p) => !done.has(p.partNumber));
        return serverCopyRound({ job, deps, log, uploadId, etag: path.etag, missing, deadlineMs, source: ctx.source }).map(
          (t): RoundTask => ({ run: t.run, label: { firstPart: t.parts[0]!.partNumber, parts: t.parts.length, path: path.path }, accept: acceptFor(t.parts, false) }),
        );
      }
      return replanMissing(parts, done.keys(), planOptions).map((t): RoundTask => {
        return {
          wire: taskToWire({
            mode: 'copy',
            jobId,
            uploadId,
            destination: job.destination,
            source: taskSourceFor(job, identity, job.sftpHostKeyFingerprint),
            parts: t.parts,
            streams: job.streamsPerWorker,
            deadlineMs,
            ...(deps.ossHints ? { oss: deps.ossHints } : {}),
          }),
          label: { firstPart: t.parts[0]!.partNumber, parts: t.parts.length },
          accept: acceptFor(t.parts, true),
        };
      });
    },
    done: () => done.size === parts.length,
    missing() {
      const m = parts.filter((p) => !done.has(p.partNumber)).map((p) => p.partNumber);
      return `parts ${m.slice(0, 20).join(', ')}${m.length > 20 ? ' …' : ''}`;
    },
    journal() {
      const receipts = [...done.values()].sort((a, b) => a.partNumber - b.partNumber);
      return { parts: receipts, bytesDone: receipts.reduce((a, p) => a + p.size, 0) };
    },
    verify() {
      const receipts = parts.map((p) => done.get(p.partNumber)!);
      const total = receipts.reduce((a, p) => a + p.size, 0);
      if (total !== identity.size) throw new IntegrityError(`parts add up to ${total} bytes, the source has ${identity.size}`);
      const combined = crc64CombineParts(receipts);
      if (identity.crc64 !== undefined && combined !== identity.crc64) throw new IntegrityError(`combined CRC-64 of the parts ${combined} differs from the source's CRC-64 ${identity.crc64}`);
      if (job.expectedCrc64 !== undefined && combined !== job.expectedCrc64) throw new IntegrityError(`combined CRC-64 of the parts ${combined} differs from expectedCrc64 ${job.expectedCrc64}`);
      return { receipts, combined };
    },
    afterComplete: async (c) => ({ etag: c.etag }),
    async report(run: RunFacts): Promise<CopyReport> {
      const seconds = Math.max(((deps.now ?? Date.now)() - ctx.started) / 1000, 1e-6);
      return {
        mode: 'copy',
        jobId,
        source: ctx.source,
        destination: ctx.destination,
        size: identity.size,
        partSize,
        parts: parts.length,
        tasks: run.tasks,
        workers: run.peakWorkers,
        rounds: run.rounds,
        resumedParts: reusedParts,
        attempts: run.attempts,
        seconds: Math.round(seconds * 1000) / 1000,
        mbPerSecond: Math.round((identity.size / 1e6 / seconds) * 10) / 10,
        crc64: run.combinedCrc64,
        etag: run.etag,
        uploadId: run.uploadId,
        reused: run.reused,
        path: path.path,
        workerBytes,
        ...(ctx.unpinned ? { unpinned: true } : {}),
        ...(ctx.job.unpinned === 'reread' && !isPinned(ctx.identity) ? { reread: true } : {}),
        verified: {
          combinedCrc64: run.combinedCrc64,
          ossCrc64: run.ossCrc64,
          ...(identity.crc64 !== undefined ? { sourceCrc64: identity.crc64 } : {}),
          ...(job.expectedCrc64 !== undefined ? { expectedCrc64: job.expectedCrc64 } : {}),
        },
      };
    },
  };
}

/** A report for a job whose verified object is already at the destination (a repeated invocation). */
function finishedEarlier(ctx: ModeContext, prior: JobStatus, existing: DestinationInfo): CopyReport | undefined {
  if (prior.state !== 'succeeded' && prior.state !== 'completing') return undefined;
  if (existing.size !== prior.size || existing.crc64 === undefined) return undefined;
  const receipts = [...prior.parts].sort((a, b) => a.partNumber - b.partNumber);
  if (receipts.length !== prior.partCount) return undefined;
  const combined = crc64CombineParts(receipts);
  if (combined !== existing.crc64) return undefined;
  return {
    mode: 'copy',
    jobId: ctx.jobId,
    source: prior.source,
    destination: prior.destination,
    size: prior.size,
    partSize: prior.partSize,
    parts: prior.partCount,
    tasks: 0,
    workers: 0,
    rounds: 0,
    resumedParts: prior.partCount,
    attempts: prior.attempts + 1,
    seconds: 0,
    mbPerSecond: 0,
    crc64: combined,
    etag: existing.etag ?? '',
    uploadId: prior.uploadId ?? '',
    reused: { ...NO_REUSE, parts: prior.partCount, byReceipt: prior.partCount },
    verified: { combinedCrc64: combined, ossCrc64: existing.crc64, ...(prior.sourceIdentity.crc64 !== undefined ? { sourceCrc64: prior.sourceIdentity.crc64 } : {}) },
    alreadyDone: true,
  };
}
