/**
 * Worker dispatch over the fc2 invoker (functions/invoke/invoker.ts): a sync `invokeFunction` per task of
 * either mode, the answer parsed by the mode of the task sent. The invoker already retries 429/5xx/network
 * failures and turns `x-fc-error-type` answers into FunctionInvocationError (fc2 resolves them as 200); here each
 * outcome is classified for the engine: a worker result, "re-dispatch" (crash, timeout, throttled past
 * retries) or fatal (bad input, source changed, access denied — retrying cannot help).
 */
import { errorToJson, OssferryError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import { isRetryableError } from '../../shared/retry.ts';
import { parseWorkerResult, type WorkerResult, type WorkerTaskWire } from '../../shared/task.ts';
import { FcInvokeError, FunctionInvocationError, type FcInvoker } from '../invoke/invoker.ts';

/** How one worker invocation ended, as the dispatcher classifies it. */
export type DispatchOutcome =
  | { kind: 'result'; result: WorkerResult }
  /** The invocation failed in a way a new invocation may fix (crash, timeout, throttling past retries). */
  | { kind: 'retry'; error: unknown }
  /** Retrying cannot help (bad input, source changed, access denied). */
  | { kind: 'fatal'; error: unknown };

/** Worker error codes no re-dispatch can fix (copy and archive tasks alike). */
export const FATAL_WORKER_CODES: ReadonlySet<string> = new Set([
  'ArchivePacking',
  'HostKeyMismatch',
  'SftpAuth',
  'SourceChanged',
  'InvalidInput',
  'SourceRefused',
  'AccessDenied',
  'InvalidAccessKeyId',
  'NoSuchBucket',
  'NoSuchUpload',
  'DestinationExists',
]);

/** A worker reported a failure no re-dispatch can fix; `code` is the worker's (e.g. SourceChanged). */
export class WorkerTaskError extends OssferryError {}

/** FC API answers (not function errors) that mean the call can never succeed as configured. */
const FATAL_FC_STATUS = new Set([400, 401, 403, 404]);

export interface FcDispatchOptions {
  invoker: FcInvoker;
  service: string;
  workerFunction: string;
  logger: Logger;
}

/**
 * Classifies a failed task: an fc2 answer (FunctionInvocationError carrying the worker's code, FcInvokeError)
 * or, for a task run in-process (tests), the worker's own error.
 */
export function classifyDispatchError(err: unknown): DispatchOutcome {
  if (err instanceof FunctionInvocationError) {
    const code = typeof err.body === 'object' ? err.body.code : undefined;
    if (code !== undefined && FATAL_WORKER_CODES.has(code)) {
      const message = typeof err.body === 'object' ? err.body.errorMessage : err.message;
      return { kind: 'fatal', error: new WorkerTaskError(code, `worker: ${message}`, { cause: err }) };
    }
    return { kind: 'retry', error: err };
  }
  if (err instanceof FcInvokeError) {
    if (err.status !== undefined && FATAL_FC_STATUS.has(err.status)) return { kind: 'fatal', error: err };
    return { kind: 'retry', error: err };
  }
  const name = (err as { name?: string })?.name;
  if (name === 'InvalidInputError') return { kind: 'fatal', error: err };
  // Errors thrown in-process: a coded error the shared classifier calls permanent cannot pass on retry.
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && (FATAL_WORKER_CODES.has(code) || (err instanceof Error && !isRetryableError(err)))) return { kind: 'fatal', error: err };
  return { kind: 'retry', error: err };
}

/** The part numbers a task covers, for logs. */
export function taskParts(task: WorkerTaskWire): string {
  if (task.mode === 'archive') return `${task.firstPartNumber}-${task.lastPartNumber}`;
  return `${task.parts[0]!.partNumber}-${task.parts[task.parts.length - 1]!.partNumber}`;
}

/** A `dispatch` for the engine that invokes the worker function synchronously through fc2. */
export function fcDispatcher(o: FcDispatchOptions): (task: WorkerTaskWire, signal: AbortSignal) => Promise<DispatchOutcome> {
  return async (task, signal) => {
    const log = o.logger.child({ mode: task.mode ?? 'copy', parts: taskParts(task) });
    try {
      const raw = await o.invoker.invoke<unknown>(o.service, o.workerFunction, task, { signal });
      const result = parseWorkerResult(raw, task.mode ?? 'copy');
      log.debug('worker task returned', { receipts: result.receipts.length });
      return { kind: 'result', result };
    } catch (err) {
      const outcome = classifyDispatchError(err);
      log.warn('worker invocation failed', { outcome: outcome.kind, error: errorToJson(err) });
      return outcome;
    }
  };
}
