/**
 * Archive mode: the source becomes one gzip object made of independent members, compressed by workers in
 * parallel. Plan: member-aligned input ranges, each with a reserved block of part numbers
 * (shared/archive-parts.ts planArchiveTasks: compressed sizes are unknown up front). A task is all or
 * nothing; its result carries its parts and the range's uncompressed size and CRC-64, combined across tasks
 * into the input's CRC, checked against the source's when it publishes one and recorded as metadata.
 * On resume, a task is reused when its recorded result's parts are all listed by ListParts with the same
 * ETag and size (the receipts prove their CRC-64; the uncompressed CRC comes with the recorded result).
 *
 * Metadata: OSS takes x-oss-meta-* only at Initiate. When the source publishes a CRC-64 (OSS sources, the
 * trigger path) the uncompressed CRC goes in at Initiate. Otherwise (HTTP, SFTP) the completed object's
 * metadata is replaced server-side after Complete (CopyObject onto itself with REPLACE pinned by If-Match;
 * a multipart UploadPartCopy onto itself above 1 GB), and the stamped object's CRC-64 is checked unchanged.
 * An object carrying this job's id but no `uncompressed-crc64` is an unfinished run of this job; replaced.
 */
import type OSS from 'ali-oss';
import { planArchiveTasks, validateCompletedParts, DEFAULT_ARCHIVE_MEMBER_SIZE, type ArchivePlan } from '../../../shared/archive-parts.ts';
import { resolveWorkers } from '../../../shared/plan.ts';
import { capabilitiesOf } from '../../../shared/sources.ts';
import { crc64Combine, crc64CombineParts } from '../../../shared/crc64/index.ts';
import { crc64FromWire } from '../../../shared/crc64/wire.ts';
import { IntegrityError, OssferryError } from '../../../shared/errors.ts';
import { normalizeEtag } from '../../../shared/events.ts';
import { ossUrl, type Job } from '../../../shared/job.ts';
import { OSS as LIMITS } from '../../../shared/limits.ts';
import { isPinned } from '../../../shared/pinning.ts';
import { NO_REUSE, type ArchiveReport } from '../../../shared/report.ts';
import { taskSourceFor, taskToWire, type ArchiveResult } from '../../../shared/task.ts';
import { ARCHIVE_META, OBJECT_META } from '../../../shared/verify.ts';
import type { JobStatus } from '../../status/store.ts';
import { headDestination, initiateOf, objectMeta } from '../destination.ts';
import { deleteArchivedVersion } from '../source-delete.ts';
import { header, ossRetry, type ResponseHeaders } from '../oss-calls.ts';
import type { DestinationInfo, EngineDeps, JobMode, JobOptions, ModeContext, ModePlan, RoundTask, RunFacts } from '../types.ts';

type ArchiveJob = Extract<Job, { mode: 'archive' }>;

export const archiveMode: JobMode = {
  alreadyDone(ctx, existing) {
    if (existing.meta[ARCHIVE_META.UNCOMPRESSED_CRC64] === undefined || existing.crc64 === undefined) return undefined;
    return alreadyArchivedReport(reportBase(ctx), existing, ctx.started, ctx.deps.now ?? Date.now);
  },
  sourceGone: archivedBeforeSourceWentAway,
  inProgress(ctx) {
    return { ...emptyReport(reportBase(ctx)), inProgress: true };
  },
  plan(ctx, resumeFrom) {
    return archivePlan(ctx, resumeFrom);
  },
};

interface ReportBase {
  jobId: string;
  source: string;
  destination: string;
  size: number;
  gzipLevel: number;
  idempotencyKey?: string;
}

function reportBase(ctx: ModeContext): ReportBase {
  const job = ctx.job as ArchiveJob;
  return { jobId: ctx.jobId, source: ctx.source, destination: ctx.destination, size: ctx.identity.size, gzipLevel: job.gzipLevel, ...(ctx.options.idempotencyKey ? { idempotencyKey: ctx.options.idempotencyKey } : {}) };
}

function emptyReport(base: ReportBase): ArchiveReport {
  return { mode: 'archive', ...base, compressedSize: 0, ratio: 0, memberSize: 0, parts: 0, tasks: 0, rounds: 0, attempts: 0, seconds: 0, mbPerSecond: 0, crc64: 0n, uncompressedCrc64: 0n, etag: '', uploadId: '', reused: { ...NO_REUSE }, verified: { combinedCrc64: 0n, ossCrc64: 0n, uncompressedCrc64: 0n } };
}

function archivePlan(ctx: ModeContext, resumeFrom: JobStatus | undefined): ModePlan {
  const { jobId, identity, options, deps, log } = ctx;
  const job = ctx.job as ArchiveJob;
  const plan: ArchivePlan = planArchiveTasks({
    sourceSize: identity.size,
    maxTasks: resolveWorkers(job.workers, identity.size, deps.maxWorkers, capabilitiesOf(job.source.kind).autoWorkersCap),
    memberSize: options.memberSize ?? DEFAULT_ARCHIVE_MEMBER_SIZE,
    ...(options.partTarget !== undefined ? { partTarget: options.partTarget } : {}),
    ...(options.minTaskInput !== undefined ? { minTaskInput: options.minTaskInput } : {}),
  });
  log.info('archive job planned', { source: ctx.source, destination: ctx.destination, size: identity.size, tasks: plan.tasks.length, memberSize: plan.memberSize, partTarget: plan.partTarget, partsPerTask: plan.partsPerTask, gzipLevel: job.gzipLevel, resuming: resumeFrom !== undefined });
  const meta: Record<string, string> = {
    ...objectMeta(job, jobId, identity),
    [ARCHIVE_META.FORMAT]: 'gzip-members',
    [ARCHIVE_META.UNCOMPRESSED_SIZE]: String(identity.size),
    [ARCHIVE_META.MEMBER_SIZE]: String(plan.memberSize),
    [ARCHIVE_META.LEVEL]: String(job.gzipLevel),
  };
  if (identity.crc64 !== undefined) meta[ARCHIVE_META.UNCOMPRESSED_CRC64] = identity.crc64.toString(10);
  const initiate = initiateOf(ctx, meta);
  const results = new Map<number, ArchiveResult>();
  let uncompressedCrc = 0n;
  let compressedSize = 0;

  return {
    // The status records the part target and the number of tasks (compressed parts are unknown up front).
    partSize: plan.partTarget,
    partCount: plan.tasks.length,
    initiate,
    async resume(prior, listed) {
      const byNumber = new Map(listed.map((l) => [l.partNumber, l]));
      let parts = 0;
      for (const rec of prior.tasks ?? []) {
        const t = plan.tasks[rec.index];
        if (!t || t.start !== rec.start || t.end - t.start !== rec.uncompressedSize) continue;
        const intact = rec.receipts.every((r) => {
          const l = byNumber.get(r.partNumber);
          return r.partNumber >= t.firstPartNumber && r.partNumber <= t.lastPartNumber && l !== undefined && l.etag === r.etag && l.size === r.size && (l.crc64 === undefined || l.crc64 === r.crc64);
        });
        if (!intact) continue;
        results.set(t.index, { mode: 'archive', receipts: rec.receipts, uncompressedSize: rec.uncompressedSize, uncompressedCrc64: rec.uncompressedCrc64, compressedSize: rec.compressedSize, members: rec.members, seconds: 0 });
        parts += rec.receipts.length;
      }
      return { tasks: results.size, parts, byReceipt: parts };
    },
    round(uploadId, deadlineMs) {
      return plan.tasks
        .filter((t) => !results.has(t.index))
        .map((t): RoundTask => ({
          wire: taskToWire({
            mode: 'archive',
            jobId,
            uploadId,
            destination: job.destination,
            source: taskSourceFor(job, identity, job.sftpHostKeyFingerprint),
            start: t.start,
            end: t.end,
            firstPartNumber: t.firstPartNumber,
            lastPartNumber: t.lastPartNumber,
            isFinal: t.isFinal,
            memberSize: plan.memberSize,
            partTarget: plan.partTarget,
            gzipLevel: job.gzipLevel,
            concurrency: options.concurrency ?? Math.min(job.streamsPerWorker, 4),
            deadlineMs,
            ...(deps.ossHints ? { oss: deps.ossHints } : {}),
          }),
          label: { task: t.index },
          accept(r) {
            if (r.mode !== 'archive') return `answered a ${r.mode} result to an archive task`;
            const problem = checkResult(r, t);
            if (!problem) results.set(t.index, r);
            return problem;
          },
        }));
    },
    done: () => results.size === plan.tasks.length,
    missing: () =>
      `archive tasks ${plan.tasks
        .filter((t) => !results.has(t.index))
        .map((t) => `[${t.start}, ${t.end})`)
        .slice(0, 10)
        .join(', ')}`,
    journal() {
      const done = [...results.entries()].sort((a, b) => a[0] - b[0]);
      return {
        parts: done.flatMap(([, r]) => r.receipts),
        bytesDone: done.reduce((a, [, r]) => a + r.uncompressedSize, 0),
        tasks: done.map(([index, r]) => ({ index, start: plan.tasks[index]!.start, uncompressedSize: r.uncompressedSize, uncompressedCrc64: r.uncompressedCrc64, compressedSize: r.compressedSize, members: r.members, receipts: r.receipts })),
      };
    },
    verify() {
      const ordered = plan.tasks.map((t) => results.get(t.index)!);
      const receipts = ordered.flatMap((r) => r.receipts);
      validateCompletedParts(receipts);
      let size = 0;
      uncompressedCrc = 0n;
      for (const r of ordered) {
        uncompressedCrc = crc64Combine(uncompressedCrc, r.uncompressedCrc64, r.uncompressedSize);
        size += r.uncompressedSize;
      }
      if (size !== identity.size) throw new IntegrityError(`tasks compressed ${size} input bytes, the source has ${identity.size}`);
      if (identity.crc64 !== undefined && uncompressedCrc !== identity.crc64) throw new IntegrityError(`combined uncompressed CRC-64 ${uncompressedCrc} differs from the source's CRC-64 ${identity.crc64}`);
      if (job.expectedCrc64 !== undefined && uncompressedCrc !== job.expectedCrc64) throw new IntegrityError(`combined uncompressed CRC-64 ${uncompressedCrc} differs from expectedCrc64 ${job.expectedCrc64}`);
      compressedSize = receipts.reduce((a, p) => a + p.size, 0);
      return { receipts, combined: crc64CombineParts(receipts) };
    },
    async afterComplete(completed) {
      if (identity.crc64 !== undefined) return { etag: completed.etag };
      // The uncompressed CRC was not known at Initiate: record it now, keeping the bytes.
      let stamped: { etag: string; crc64?: bigint };
      try {
        stamped = await stampMetadata(deps.destinationClient, job.destination.bucket, job.destination.key, completed.etag, compressedSize, { meta: { ...initiate.meta, [ARCHIVE_META.UNCOMPRESSED_CRC64]: uncompressedCrc.toString(10) }, headers: initiate.headers }, options.copyObjectLimit);
      } catch (err) {
        throw new OssferryError('MetadataStamp', `the archive is complete and verified but recording x-oss-meta-${ARCHIVE_META.UNCOMPRESSED_CRC64} failed (${(err as Error).message}); re-run the job to replace it`, { cause: err });
      }
      if (stamped.crc64 !== completed.crc64) throw new IntegrityError(`after recording the uncompressed CRC-64 the object's CRC-64 is ${stamped.crc64 ?? 'missing'}, expected ${completed.crc64}; the object is left for inspection`);
      return { etag: stamped.etag };
    },
    async report(run: RunFacts): Promise<ArchiveReport> {
      let deleted: { sourceDeleted: boolean; sourceKeptReason?: string } | undefined;
      if (options.deleteSourceAfterVerify && options.deleteVersionId) deleted = await deleteArchivedVersion(job, deps, options.deleteVersionId, log);
      const seconds = Math.max(((deps.now ?? Date.now)() - ctx.started) / 1000, 1e-6);
      const receipts = plan.tasks.flatMap((t) => results.get(t.index)!.receipts);
      return {
        ...emptyReport(reportBase(ctx)),
        compressedSize,
        ratio: compressedSize > 0 ? Math.round((identity.size / compressedSize) * 1000) / 1000 : 0,
        memberSize: plan.memberSize,
        parts: receipts.length,
        tasks: run.tasks,
        rounds: run.rounds,
        attempts: run.attempts,
        seconds: Math.round(seconds * 1000) / 1000,
        mbPerSecond: Math.round((identity.size / 1e6 / seconds) * 10) / 10,
        crc64: run.combinedCrc64,
        uncompressedCrc64: uncompressedCrc,
        etag: run.etag,
        uploadId: run.uploadId,
        reused: run.reused,
        ...(ctx.unpinned ? { unpinned: true } : {}),
        ...(ctx.job.unpinned === 'reread' && !isPinned(ctx.identity) ? { reread: true } : {}),
        verified: { combinedCrc64: run.combinedCrc64, ossCrc64: run.ossCrc64, uncompressedCrc64: uncompressedCrc, ...(identity.crc64 !== undefined ? { sourceCrc64: identity.crc64 } : {}) },
        ...(deleted ?? {}),
      };
    },
  };
}

/**
 * Replaces the metadata of `key` in place, keeping its bytes: CopyObject onto itself (≤ copyObjectLimit),
 * else a multipart copy onto itself (UploadPartCopy, ≤ 1 GB per part). Pinned to `etag` so an object
 * replaced meanwhile is never re-stamped. Returns the stamped object's CRC-64 and ETag.
 */
export async function stampMetadata(
  client: OSS,
  bucket: string,
  key: string,
  etag: string,
  size: number,
  written: { meta: Record<string, string>; headers: Record<string, string> },
  copyObjectLimit: number = LIMITS.MAX_COPY_OBJECT_SIZE,
): Promise<{ etag: string; crc64?: bigint }> {
  // Replacing metadata replaces the object's headers too: the Initiate headers go again (tags are copied by default).
  const { 'content-type': contentType, 'x-oss-tagging': _tags, ...headers } = written.headers;
  const meta = written.meta as unknown as OSS.UserMeta;
  const mime = contentType ? { mime: contentType } : {};
  if (size <= copyObjectLimit) {
    await ossRetry(() => client.copy(key, key, { meta, ...mime, headers: { ...headers, 'If-Match': etag } } as OSS.CopyObjectOptions));
  } else {
    const init = await ossRetry(() => client.initMultipartUpload(key, { meta, ...mime, headers }));
    const partSize = Math.max(LIMITS.MIN_PART_SIZE, Math.min(LIMITS.MAX_COPY_OBJECT_SIZE, Math.ceil(size / LIMITS.MAX_PART_NUMBER)));
    const done: Array<{ number: number; etag: string }> = [];
    try {
      for (let n = 1, s = 0; s < size; n++, s += partSize) {
        const end = Math.min(size, s + partSize);
        const r = await ossRetry(() =>
          client.uploadPartCopy(key, init.uploadId, n, `${s}-${end - 1}`, { sourceKey: key, sourceBucketName: bucket }, { headers: { 'x-oss-copy-source-if-match': etag } } as never),
        );
        done.push({ number: n, etag: r.etag });
      }
      await ossRetry(() => client.completeMultipartUpload(key, init.uploadId, done));
    } catch (err) {
      await client.abortMultipartUpload(key, init.uploadId).catch(() => undefined);
      throw err;
    }
  }
  const h = (await ossRetry(() => client.head(key))).res as unknown as { headers: ResponseHeaders };
  const crc = header(h.headers, 'x-oss-hash-crc64ecma');
  return { etag: header(h.headers, 'etag') ?? '', ...(crc !== undefined ? { crc64: crc64FromWire(crc, 'x-oss-hash-crc64ecma') } : {}) };
}

/** A redelivered event whose source was deleted after a verified archive: report it, do not fail. */
async function archivedBeforeSourceWentAway(job: Job, deps: EngineDeps, options: JobOptions, err: unknown, started: number): Promise<ArchiveReport | undefined> {
  const e = err as { status?: number; code?: string; cause?: { status?: number } };
  const notFound = e?.status === 404 || e?.code === 'NoSuchKey' || e?.cause?.status === 404 || /NoSuchKey|not found|404/i.test((err as Error)?.message ?? '');
  if (!notFound || options.sourceEtag === undefined || job.mode !== 'archive') return undefined;
  const existing = await headDestination(deps.destinationClient, job, deps.signal);
  const recorded = existing?.meta['source-etag'];
  if (!existing || recorded === undefined || normalizeEtag(recorded) !== normalizeEtag(options.sourceEtag) || existing.meta[ARCHIVE_META.UNCOMPRESSED_CRC64] === undefined) return undefined;
  const jobId = existing.meta[OBJECT_META.JOB_ID] ?? '';
  deps.logger.info('source is gone and its archive exists (redelivered event)', { jobId, destination: ossUrl(job.destination) });
  const base = { jobId, source: job.source.url, destination: ossUrl(job.destination), size: Number(existing.meta[ARCHIVE_META.UNCOMPRESSED_SIZE] ?? 0), gzipLevel: job.gzipLevel, ...(options.idempotencyKey ? { idempotencyKey: options.idempotencyKey } : {}) };
  return alreadyArchivedReport(base, existing, started, deps.now ?? Date.now);
}

function checkResult(r: ArchiveResult, t: { start: number; end: number; firstPartNumber: number; lastPartNumber: number }): string | undefined {
  if (r.uncompressedSize !== t.end - t.start) return `uncompressedSize ${r.uncompressedSize} ≠ task range ${t.end - t.start}`;
  let prev = 0;
  for (const p of r.receipts) {
    if (p.partNumber < t.firstPartNumber || p.partNumber > t.lastPartNumber) return `part ${p.partNumber} outside the block ${t.firstPartNumber}-${t.lastPartNumber}`;
    if (p.partNumber <= prev) return 'part numbers not ascending';
    prev = p.partNumber;
  }
  if (r.receipts.reduce((a, p) => a + p.size, 0) !== r.compressedSize) return 'compressedSize ≠ sum of part sizes';
  return undefined;
}

function alreadyArchivedReport(base: ReportBase, existing: DestinationInfo, started: number, now: () => number): ArchiveReport {
  const uncompressed = existing.meta[ARCHIVE_META.UNCOMPRESSED_CRC64];
  const u = uncompressed !== undefined ? crc64FromWire(uncompressed, `x-oss-meta-${ARCHIVE_META.UNCOMPRESSED_CRC64}`) : 0n;
  const crc = existing.crc64 ?? 0n;
  return {
    ...emptyReport(base),
    compressedSize: existing.size,
    ratio: existing.size > 0 ? Math.round((base.size / existing.size) * 1000) / 1000 : 0,
    memberSize: Number(existing.meta[ARCHIVE_META.MEMBER_SIZE] ?? 0),
    seconds: Math.round(((now() - started) / 1000) * 1000) / 1000,
    crc64: crc,
    uncompressedCrc64: u,
    etag: existing.etag ?? '',
    verified: { combinedCrc64: crc, ossCrc64: crc, uncompressedCrc64: u },
    alreadyArchived: true,
  };
}
