/**
 * The copy worker's transfer loop, independent of FC: for each part of the task, a ranged read pinned to the
 * source identity, streamed through the PartSink (CRC-64 computed on the way and compared with OSS's
 * x-oss-hash-crc64ecma), `streams` parts in flight. Failed parts are retried with exponential backoff and
 * full jitter when the failure may pass (network, 5xx, 429/SlowDown, CRC mismatch); 4xx logic errors and
 * a changed source fail the task at once. New parts stop a safety margin before the deadline and the
 * worker returns what it finished, so the coordinator re-dispatches only the rest (the
 * timeoutEarly pattern of the middy middleware).
 * Prefetch: once a part's source body has been read to its end (its last bytes are on their way to OSS and
 * the stream only waits for the upload's answer), the same stream takes its next part and sends that part's
 * source request, so the next upload starts on a body that is already flowing instead of after a round trip.
 * At most one part per stream is read ahead, and its body is held back by the source's own flow control
 * (a paused body buffers a few MiB at most), so memory stays bounded by streams × (part body buffers).
 */
import { InvalidInputError } from '../../shared/errors.ts';
import type { Readable } from 'node:stream';
import type { Logger } from '../../shared/log.ts';
import { DEFAULT_BACKOFF, isRetryableError, retry, type BackoffPolicy } from '../../shared/retry.ts';
import type { CopyResult, CopyTask, PartReceipt, WorkerError } from '../../shared/task.ts';
import type { PartRange } from '../../shared/plan.ts';
import type { PartSink } from '../oss/types.ts';
import { rereadMatches } from '../sources/range-crc.ts';
import { SourceUnavailableError, type RangeSource } from '../sources/types.ts';

export interface CopyWorkerDeps {
  /** Opens the task's source (functions/sources/index.ts openSource, with the task's endpoint/region hints). */
  openSource(url: string, hints: { endpoint?: string; region?: string }): RangeSource;
  /** A PartSink attached to the task's upload (functions/oss/part-sink.ts). */
  partSinkFor(task: CopyTask): PartSink;
  logger: Logger;
  now?: () => number;
  /** Aborts everything (FC pre-stop, caller gone): in-flight parts end up unfinished. */
  signal?: AbortSignal;
  /** Epoch ms the invocation must answer by (FcContext.deadlineMs); the task's deadlineMs also applies. */
  deadlineMs?: number;
  /** Stop starting parts this long before the deadline. Default: 10 % of the time left, within [5 s, 60 s]. */
  safetyMarginMs?: number;
  /** Retry policy per part. Default shared/retry.ts DEFAULT_BACKOFF. */
  retryPolicy?: BackoffPolicy;
  random?: () => number;
  /** Read each stream's next part ahead while the current one uploads (default true; env OSSFERRY_PREFETCH=off in the handler). */
  prefetch?: boolean;
}

/** A part whose source read was started ahead of its upload. */
interface Prefetched {
  part: PartRange;
  body: Promise<Readable>;
}

/** Abort reason for in-flight parts cut by the deadline. */
class DeadlineReached extends Error {
  constructor() {
    super('worker deadline reached');
    this.name = 'DeadlineReached';
  }
}

/**
 * Runs one task. Resolves with receipts for every verified part plus the unfinished part numbers and the
 * last error of each failed part. Rejects with the error itself (e.g. SourceChangedError, NoSuchUpload,
 * InvalidInputError) when the task cannot succeed on any retry; in-flight parts are cancelled first.
 */
export async function runCopyTask(task: CopyTask, deps: CopyWorkerDeps): Promise<CopyResult> {
  if (task.mode !== 'copy') {
    throw new InvalidInputError('task.mode', `"${String(task.mode)}" is not a copy task`, 'run archive tasks with runArchiveTask (functions/worker/archive.ts)');
  }
  const now = deps.now ?? Date.now;
  const log = deps.logger.child({ jobId: task.jobId });
  const started = now();
  const deadline = Math.min(task.deadlineMs ?? Infinity, deps.deadlineMs ?? Infinity);
  const margin = deps.safetyMarginMs ?? (Number.isFinite(deadline) ? Math.min(60_000, Math.max(5_000, 0.1 * (deadline - started))) : 0);
  const stopAt = deadline - margin;
  // In-flight parts are cut shortly before the hard deadline so the answer still gets out.
  const hardStop = deadline - Math.min(2_000, margin / 2);

  const cancel = new AbortController();
  const onOuterAbort = () => cancel.abort(deps.signal?.reason);
  if (deps.signal?.aborted) onOuterAbort();
  deps.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const timer = Number.isFinite(hardStop) ? setTimeout(() => cancel.abort(new DeadlineReached()), Math.max(0, hardStop - now())) : undefined;
  timer?.unref();

  const source = deps.openSource(task.source.url, { ...(task.source.endpoint ? { endpoint: task.source.endpoint } : {}), ...(task.source.region ? { region: task.source.region } : {}) });
  const sink = deps.partSinkFor(task);
  const pin = task.source.identity;
  const receipts: PartReceipt[] = [];
  const errors: WorkerError[] = [];
  let fatal: unknown;
  const queue: PartRange[] = [...task.parts];

  const prefetch = deps.prefetch ?? true;
  const startRead = (part: PartRange): Prefetched => {
    const body = source.read(part.start, part.end, pin, cancel.signal).then((b) => {
      // Until the upload pipes it (and listens), a body that breaks while waiting (abort, reset) must not
      // become an uncaught 'error': the upload sees the failure when it reads the body.
      b.on('error', () => undefined);
      return b;
    });
    // Observed when the stream gets to the part (or discarded); never an unhandled rejection meanwhile.
    body.catch(() => undefined);
    return { part, body };
  };
  /** A read-ahead part the stream will not upload: its body is closed, the part stays unfinished. */
  const discard = (p: Prefetched) => void p.body.then((b) => b.destroy(), () => undefined);

  /** One attempt; `first` is the part's read-ahead body (first attempt only), `onBodyEnd` starts the next read. */
  const uploadOnce = async (part: PartRange, first: Promise<Readable> | undefined, onBodyEnd: () => void): Promise<PartReceipt> => {
    const size = part.end - part.start;
    const body = await (first ?? source.read(part.start, part.end, pin, cancel.signal));
    // A read-ahead body that broke while it waited has already emitted its error: piping it would wait forever.
    if (body.errored || body.destroyed) throw body.errored ?? new SourceUnavailableError(`${source.displayUrl}: part ${part.partNumber}'s body closed before its upload`);
    body.once('end', onBodyEnd);
    try {
      const up = await sink.uploadPart(part.partNumber, body, size, cancel.signal);
      if (task.source.reread) await rereadMatches(source, part.start, part.end, pin, up.crc64, `part ${part.partNumber}`, cancel.signal);
      return { partNumber: part.partNumber, etag: up.etag, size, crc64: up.crc64 };
    } finally {
      body.off('end', onBodyEnd);
      body.destroy();
    }
  };

  const stopped = () => fatal !== undefined || cancel.signal.aborted || now() >= stopAt;

  const runner = async () => {
    let next: Prefetched | undefined;
    try {
      for (;;) {
        if (stopped()) return;
        const cur: Prefetched | { part: PartRange | undefined; body?: undefined } = next ?? { part: queue.shift() };
        next = undefined;
        const part = cur.part;
        if (!part) return;
        let first = cur.body;
        const readAhead = () => {
          if (!prefetch || next || stopped()) return;
          const p = queue.shift();
          if (p) next = startRead(p);
        };
        try {
          const receipt = await retry(
            () => {
              const body = first;
              first = undefined;
              return uploadOnce(part, body, readAhead);
            },
            {
              policy: deps.retryPolicy ?? DEFAULT_BACKOFF,
              signal: cancel.signal,
              deadlineMs: stopAt,
              now,
              ...(deps.random ? { random: deps.random } : {}),
              onRetry: (err, n, delayMs) =>
                log.warn('part retry', { partNumber: part.partNumber, retry: n, delayMs, error: { name: (err as Error).name, code: (err as { code?: unknown }).code, message: (err as Error).message } }),
            },
          );
          receipts.push(receipt);
        } catch (err) {
          if (cancel.signal.aborted) return;
          if (!isRetryableError(err)) {
            fatal = err;
            cancel.abort(err);
            return;
          }
          errors.push({ partNumber: part.partNumber, code: String((err as { code?: unknown }).code ?? (err as Error).name ?? 'Error'), message: (err as Error).message ?? String(err), retryable: true });
          log.warn('part failed', { partNumber: part.partNumber, error: errors.at(-1) });
        } finally {
          // A read-ahead body the retry never used (e.g. the deadline passed first).
          if (first) discard({ part, body: first });
        }
      }
    } finally {
      if (next) discard(next);
    }
  };

  try {
    await Promise.all(Array.from({ length: Math.min(task.streams, task.parts.length) }, runner));
  } finally {
    if (timer) clearTimeout(timer);
    deps.signal?.removeEventListener('abort', onOuterAbort);
    await source.close();
  }
  if (fatal !== undefined) {
    log.error('task failed', { error: fatal, done: receipts.length, parts: task.parts.length });
    throw fatal;
  }
  receipts.sort((a, b) => a.partNumber - b.partNumber);
  const doneSet = new Set(receipts.map((r) => r.partNumber));
  const unfinished = task.parts.map((p) => p.partNumber).filter((n) => !doneSet.has(n));
  // Not `bytes`: the parts already logged theirs (part sink), and the dashboard sums that field.
  const taskBytes = receipts.reduce((s, r) => s + r.size, 0);
  log.info('task finished', { done: receipts.length, unfinished: unfinished.length, failed: errors.length, taskBytes, ms: now() - started, stoppedEarly: cancel.signal.aborted || now() >= stopAt });
  return { mode: 'copy', receipts, unfinished, errors };
}
