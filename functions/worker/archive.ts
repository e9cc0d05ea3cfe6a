/**
 * The worker side of an archive job: `runArchiveTask(task, deps)` compresses the task's input range into
 * independent gzip members (ISA-L igzip, shared/gzip) and uploads them as multipart parts numbered inside
 * the task's reserved block (shared/archive-parts.ts: the packer holds back the last part and merges a
 * < 100 KB tail, so every non-last part of the object is ≥ 100 KB for any input; content is unchanged —
 * a part is just more concatenated members).
 *
 * Pipeline: `concurrency` members are read (one ranged read each, pinned to the source identity — several
 * parallel ranges per worker) and compressed on the libuv pool at once; finished members are consumed in
 * order, fed to the packer, and each closed part uploads while later members compress (`uploads` parts in
 * flight). Memory ≈ concurrency × memberSize + (uploads + 2) × partTarget.
 * The uncompressed CRC-64 of every member is combined in order into the task's CRC (crc64Combine), which the
 * coordinator combines across tasks into the whole input's CRC.
 *
 * All or nothing: the task either uploads every part and returns receipts, or throws (a re-dispatched task
 * re-uploads its block; parts are overwritten, and Complete lists only the receipts the coordinator kept).
 * Reads and uploads are retried with backoff when the failure may pass; SourceChanged and 4xx fail at once.
 */
import { Readable } from 'node:stream';
import { ArchivePartPacker, memberRanges, type PackedPart } from '../../shared/archive-parts.ts';
import { crc64, crc64Combine } from '../../shared/crc64/index.ts';
import { IntegrityError, OssferryError } from '../../shared/errors.ts';
import { gzipMemberAsync, type GzipLevel } from '../../shared/gzip/index.ts';
import type { Logger } from '../../shared/log.ts';
import { DEFAULT_BACKOFF, retry, type BackoffPolicy } from '../../shared/retry.ts';
import type { ArchiveResult, ArchiveTask, PartReceipt } from '../../shared/task.ts';
import type { PartSink } from '../oss/types.ts';
import { rereadMatches } from '../sources/range-crc.ts';
import type { RangeSource, SourceIdentity } from '../sources/types.ts';

export interface ArchiveWorkerDeps {
  /** Opens the task's source (functions/sources openSource, with hints and the SFTP host key pin). */
  openSource(task: ArchiveTask): RangeSource;
  /** A PartSink attached to the task's upload. */
  partSinkFor(task: ArchiveTask): PartSink;
  logger: Logger;
  signal?: AbortSignal;
  /** Epoch ms the invocation must answer by; the task's deadlineMs also applies. */
  deadlineMs?: number;
  retryPolicy?: BackoffPolicy;
  /** Parts uploading at once. Default 2. */
  uploads?: number;
  now?: () => number;
}

/** The task ran out of time before all parts were uploaded; the coordinator re-dispatches the whole task. */
export class ArchiveTaskTimeoutError extends OssferryError {
  constructor(message: string) {
    super('ArchiveTaskTimeout', message);
  }
}

interface Member {
  gz: Buffer;
  crc: bigint;
  len: number;
}

/** Reads [start, end) fully into one buffer; a short or long body is an IntegrityError (retried). */
async function readRange(source: RangeSource, start: number, end: number, pin: SourceIdentity, signal: AbortSignal): Promise<Buffer> {
  const out = Buffer.allocUnsafe(end - start);
  if (end === start) return out;
  const body = await source.read(start, end, pin, signal);
  let off = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (off + chunk.length > out.length) throw new IntegrityError(`source returned more than the ${end - start} bytes of range [${start}, ${end})`);
      chunk.copy(out, off);
      off += chunk.length;
    }
  } finally {
    body.destroy();
  }
  if (off !== out.length) throw new IntegrityError(`source returned ${off} of the ${end - start} bytes of range [${start}, ${end})`);
  return out;
}

/** Runs one archive task to completion; throws when it cannot (after retries), uploading nothing further. */
export async function runArchiveTask(task: ArchiveTask, deps: ArchiveWorkerDeps): Promise<ArchiveResult> {
  const now = deps.now ?? Date.now;
  const started = now();
  const log = deps.logger.child({ jobId: task.jobId, task: `${task.firstPartNumber}-${task.lastPartNumber}` });
  const deadline = Math.min(task.deadlineMs ?? Infinity, deps.deadlineMs ?? Infinity);
  const policy = deps.retryPolicy ?? DEFAULT_BACKOFF;
  const level = task.gzipLevel as GzipLevel;
  const ranges = memberRanges(task, task.memberSize);
  const maxUploads = Math.max(1, deps.uploads ?? 2);

  const cancel = new AbortController();
  const onOuterAbort = () => cancel.abort(deps.signal?.reason);
  if (deps.signal?.aborted) onOuterAbort();
  deps.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const timer = Number.isFinite(deadline)
    ? setTimeout(() => cancel.abort(new ArchiveTaskTimeoutError(`archive task [${task.start}, ${task.end}) did not finish before its deadline`)), Math.max(0, deadline - now()))
    : undefined;
  timer?.unref();

  const source = deps.openSource(task);
  const sink = deps.partSinkFor(task);
  const pin = task.source.identity;
  const retryOpts = (what: string) => ({
    policy,
    signal: cancel.signal,
    onRetry: (err: unknown, n: number, delayMs: number) =>
      log.warn(`${what} retry`, { retry: n, delayMs, error: { name: (err as Error).name, code: (err as { code?: unknown }).code, message: (err as Error).message } }),
  });

  // Members start lazily, at most `concurrency` ahead of the one being consumed.
  const members: Array<Promise<Member> | undefined> = new Array(ranges.length);
  const startMember = (i: number): Promise<Member> => {
    const [s, e] = ranges[i]!;
    const p = retry(async () => {
      const data = await readRange(source, s, e, pin, cancel.signal);
      const crc = crc64(data);
      const gz = await gzipMemberAsync(data, level);
      return { gz, crc, len: e - s };
    }, retryOpts(`member [${s}, ${e})`));
    p.catch(() => undefined); // observed when consumed; avoid unhandled rejections for members never reached
    return p;
  };

  const packer = new ArchivePartPacker({
    firstPartNumber: task.firstPartNumber,
    lastPartNumber: task.lastPartNumber,
    targetPartSize: task.partTarget,
    isFinalTask: task.isFinal,
  });
  const held = new Map<number, Buffer>(); // compressed members not yet uploaded
  const receipts: PartReceipt[] = [];
  const inFlight = new Set<Promise<void>>();
  let uploadError: unknown;

  const upload = (part: PackedPart): Promise<void> => {
    const bufs: Buffer[] = [];
    for (let m = part.firstMember; m < part.endMember; m++) {
      bufs.push(held.get(m)!);
      held.delete(m);
    }
    const p = retry(async () => {
      const up = await sink.uploadPart(part.partNumber, Readable.from(bufs, { objectMode: false }), part.size, cancel.signal);
      return up;
    }, retryOpts(`part ${part.partNumber}`)).then(
      (up) => {
        receipts.push({ partNumber: part.partNumber, etag: up.etag, size: part.size, crc64: up.crc64 });
      },
      (err: unknown) => {
        uploadError ??= err;
        cancel.abort(err);
      },
    );
    const tracked = p.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    return tracked;
  };
  const submit = async (parts: PackedPart[]) => {
    for (const part of parts) {
      while (inFlight.size >= maxUploads) await Promise.race(inFlight);
      if (uploadError !== undefined) throw uploadError;
      void upload(part);
    }
  };

  let crc = 0n;
  let inputBytes = 0;
  let compressed = 0;
  try {
    for (let i = 0; i < ranges.length; i++) {
      for (let j = i; j < Math.min(ranges.length, i + task.concurrency); j++) members[j] ??= startMember(j);
      const m = await members[i]!;
      members[i] = undefined;
      if (uploadError !== undefined) throw uploadError;
      crc = crc64Combine(crc, m.crc, m.len);
      inputBytes += m.len;
      compressed += m.gz.length;
      held.set(i, m.gz);
      await submit(packer.add(m.gz.length));
    }
    await submit(packer.finish());
    await Promise.all(inFlight);
    if (uploadError !== undefined) throw uploadError;
    if (task.source.reread) await rereadMatches(source, task.start, task.end, pin, crc, 'task input', cancel.signal);
  } catch (err) {
    cancel.abort(err);
    await Promise.allSettled(inFlight);
    const reason = cancel.signal.reason instanceof ArchiveTaskTimeoutError ? cancel.signal.reason : (uploadError ?? err);
    log.error('archive task failed', { error: { name: (reason as Error).name, code: (reason as { code?: unknown }).code, message: (reason as Error).message }, partsDone: receipts.length });
    throw reason;
  } finally {
    if (timer) clearTimeout(timer);
    deps.signal?.removeEventListener('abort', onOuterAbort);
    await source.close().catch(() => undefined);
  }
  if (inputBytes !== task.end - task.start) throw new IntegrityError(`compressed ${inputBytes} input bytes, the task range has ${task.end - task.start}`);
  receipts.sort((a, b) => a.partNumber - b.partNumber);
  const seconds = Math.max(0, (now() - started) / 1000);
  log.info('archive task finished', { input: inputBytes, compressed, parts: receipts.length, members: ranges.length, seconds, ratio: compressed > 0 ? inputBytes / compressed : 0 });
  return { mode: 'archive', receipts, uncompressedSize: inputBytes, uncompressedCrc64: crc, compressedSize: compressed, members: ranges.length, seconds };
}
