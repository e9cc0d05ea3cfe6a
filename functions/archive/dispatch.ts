/**
 * Archive task dispatch over the fc2 invoker: one sync invokeFunction per task, the answer parsed as an
 * ArchiveResult. Failures are classified like copy tasks (functions/coordinator/dispatch.ts), plus the
 * archive-only codes no re-dispatch can fix.
 */
import { errorToJson } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import { isRetryableError } from '../../shared/retry.ts';
import { classifyDispatchError, FATAL_WORKER_CODES } from '../coordinator/dispatch.ts';
import { FunctionInvocationError, type FcInvoker } from '../invoke/invoker.ts';
import type { ArchiveDispatchOutcome } from './job.ts';
import { parseArchiveResult, type ArchiveTaskWire } from './task.ts';

/** Worker error codes of archive tasks that no re-dispatch can fix. */
export const FATAL_ARCHIVE_CODES: ReadonlySet<string> = new Set(['ArchivePacking', 'HostKeyMismatch', 'SftpAuth']);

export function classifyArchiveDispatchError(err: unknown): ArchiveDispatchOutcome {
  if (err instanceof FunctionInvocationError && typeof err.body === 'object' && err.body.code !== undefined && FATAL_ARCHIVE_CODES.has(err.body.code)) {
    return { kind: 'fatal', error: err };
  }
  const code = (err as { code?: unknown })?.code;
  // Errors thrown in-process (not through fc2): the worker's own classification applies.
  if (typeof code === 'string' && (FATAL_ARCHIVE_CODES.has(code) || FATAL_WORKER_CODES.has(code))) return { kind: 'fatal', error: err };
  if (!(err instanceof FunctionInvocationError) && err instanceof Error && (err as { code?: unknown }).code !== undefined && !isRetryableError(err)) return { kind: 'fatal', error: err };
  const o = classifyDispatchError(err);
  return o.kind === 'result' ? { kind: 'retry', error: err } : o;
}

export interface FcArchiveDispatchOptions {
  invoker: FcInvoker;
  service: string;
  workerFunction: string;
  logger: Logger;
}

export function fcArchiveDispatcher(o: FcArchiveDispatchOptions): (task: ArchiveTaskWire, signal: AbortSignal) => Promise<ArchiveDispatchOutcome> {
  return async (task, signal) => {
    const log = o.logger.child({ parts: `${task.firstPartNumber}-${task.lastPartNumber}` });
    try {
      const raw = await o.invoker.invoke<unknown>(o.service, o.workerFunction, task, { signal });
      const result = parseArchiveResult(raw);
      log.debug('archive task returned', { parts: result.receipts.length, compressedSize: result.compressedSize });
      return { kind: 'result', result };
    } catch (err) {
      const outcome = classifyArchiveDispatchError(err);
      log.warn('archive worker invocation failed', { outcome: outcome.kind, error: errorToJson(err) });
      return outcome;
    }
  };
}
