/**
 * FC entry point of the worker role, for tasks of either mode: parses the event with the task schema
 * (shared/task.ts; `mode` selects copy or archive; a bad event → InvalidInputError naming `task.<field>`),
 * builds the dependencies from the FcContext (OSS credentials = the STS credentials FC injects; OSS endpoint
 * from env OSSFERRY_OSS_ENDPOINT or derived from the region) and runs the task: ./copy.ts or ./archive.ts.
 * The answer is the result in wire form (CRC-64 as decimal strings). A task that cannot succeed (changed
 * source, aborted upload, bad input) becomes a HandlerError carrying the original code, with `retryable`
 * from the shared classifier.
 */
import { InvalidInputError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import { parseTask, workerResultToWire, type ArchiveTask, type CopyTask, type WorkerResult, type WorkerTask } from '../../shared/task.ts';
import type { FcContext, Handler } from '../runtime/types.ts';
import { openSource, type SourceDeps } from '../sources/index.ts';
import { runArchiveTask, type ArchiveWorkerDeps } from './archive.ts';
import { runCopyTask, type CopyWorkerDeps } from './copy.ts';
import { taskDepsFromContext, taskFailure } from './fc-deps.ts';

/** Opens a task's source with the task's hints and SFTP host key pin (the private key stays in env, a secret). */
function taskSourceOpener(t: WorkerTask, deps: { logger: Logger; ossClientFor: SourceDeps['ossClientFor'] }, env: Record<string, string | undefined>, maxSockets: number, flushAfterMs?: number) {
  return (url: string, hints: { endpoint?: string; region?: string }) =>
    openSource(url, {
      logger: deps.logger,
      env,
      maxSockets,
      ...(flushAfterMs !== undefined ? { flushAfterMs } : {}),
      oss: hints,
      ...(t.source.hostKeyFingerprint !== undefined ? { hostKeyFingerprint: t.source.hostKeyFingerprint } : {}),
      ...(deps.ossClientFor ? { ossClientFor: deps.ossClientFor } : {}),
    });
}

/** `off` turns the copy worker's read-ahead off (bench:copy measures the pipeline with and without it). */
const PREFETCH_ENV = 'OSSFERRY_PREFETCH';
/** The copy worker's raw-transport flush (functions/sources/raw-http.ts flushAfterMs). */
export const COPY_FLUSH_AFTER_MS = 50;

/** The copy worker's dependencies from the FC context (exported for the local cloud and tests). */
export function copyWorkerDeps(task: CopyTask, context: FcContext, env: Record<string, string | undefined> = process.env): CopyWorkerDeps {
  const { ossClientFor, ...deps } = taskDepsFromContext(task, context, env);
  // Two source connections per stream: the part uploading and the next one read ahead (./copy.ts prefetch).
  // Bytes of a slow source go on to the upload after 50 ms instead of after a full 1 MiB chunk; sooner made a
  // CPU-starved worker (slow, not capped, reads) cut many small chunks and spend more CPU per byte.
  return { ...deps, prefetch: env[PREFETCH_ENV] !== 'off', openSource: taskSourceOpener(task, { logger: deps.logger, ossClientFor }, env, task.streams * 2, COPY_FLUSH_AFTER_MS) };
}

/** The archive worker's dependencies from the FC context. */
export function archiveWorkerDeps(task: ArchiveTask, context: FcContext, env: Record<string, string | undefined> = process.env): ArchiveWorkerDeps {
  const { ossClientFor, ...deps } = taskDepsFromContext(task, context, env);
  const open = taskSourceOpener(task, { logger: deps.logger, ossClientFor }, env, task.concurrency * 2);
  return { ...deps, openSource: (t) => open(t.source.url, { ...(t.source.endpoint ? { endpoint: t.source.endpoint } : {}), ...(t.source.region ? { region: t.source.region } : {}) }) };
}

export const handler: Handler = async (event, context) => {
  let json: unknown;
  try {
    json = JSON.parse(event.toString('utf8'));
  } catch (err) {
    throw new InvalidInputError('task', 'the event is not JSON', 'invoke the worker with a task object from shared/task.ts taskToWire()', { cause: err });
  }
  const task = parseTask(json);
  let result: WorkerResult;
  try {
    result = task.mode === 'archive' ? await runArchiveTask(task, archiveWorkerDeps(task, context)) : await runCopyTask(task, copyWorkerDeps(task, context));
  } catch (err) {
    throw taskFailure(err);
  }
  return workerResultToWire(result);
};
