/**
 * Worker dispatch over the fc2 invoker (functions/invoke/invoker.ts): a sync `invokeFunction` per task.
 * The invoker already retries 429/5xx/network failures and turns `x-fc-error-type` answers into
 * FunctionInvocationError (fc-platform.md §3.5); here each outcome is classified for the coordinator:
 * a worker result, "re-dispatch the parts" (crash, timeout, throttled past retries) or fatal (bad input,
 * source changed, access denied — retrying cannot help).
 */
import { errorToJson, OssferryError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import { parseWorkerResult, type WorkerTaskWire } from '../../shared/task.ts';
import { FcInvokeError, FunctionInvocationError, type FcInvoker } from '../invoke/invoker.ts';
import type { DispatchOutcome } from './run.ts';

/** Worker error codes no re-dispatch can fix. */
export const FATAL_WORKER_CODES: ReadonlySet<string> = new Set([
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
  return { kind: 'retry', error: err };
}

/** A `dispatch` for CoordinatorDeps that invokes the worker function synchronously through fc2. */
export function fcDispatcher(o: FcDispatchOptions): (task: WorkerTaskWire, signal: AbortSignal) => Promise<DispatchOutcome> {
  return async (task, signal) => {
    const first = task.parts[0]!.partNumber;
    const last = task.parts[task.parts.length - 1]!.partNumber;
    const log = o.logger.child({ parts: `${first}-${last}` });
    try {
      const raw = await o.invoker.invoke<unknown>(o.service, o.workerFunction, task, { signal });
      const result = parseWorkerResult(raw);
      log.debug('worker task returned', { receipts: result.receipts.length, unfinished: result.unfinished.length });
      return { kind: 'result', result };
    } catch (err) {
      const outcome = classifyDispatchError(err);
      log.warn('worker invocation failed', { outcome: outcome.kind, error: errorToJson(err) });
      return outcome;
    }
  };
}
