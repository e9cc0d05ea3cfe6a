/**
 * FC entry point of the worker role: parses the event with the task schema (bad event → InvalidInputError
 * naming `task.<field>`), builds the dependencies from the FcContext (OSS credentials = the STS credentials
 * FC injects, context.credentials; OSS endpoint from env OSSFERRY_OSS_ENDPOINT or derived from the region)
 * and runs runWorkerTask. The answer is the worker result in wire form (CRC-64 as decimal strings).
 * A task that cannot succeed (changed source, aborted upload, bad input) becomes a HandlerError carrying
 * the original code, with `retryable` from the shared classifier.
 */
import { InvalidInputError } from '../../shared/errors.ts';
import { handleArchiveTask } from '../archive/handler.ts';
import { isArchiveTaskPayload } from '../archive/task.ts';
import { parseTask, workerResultToWire, type WorkerTask } from '../../shared/task.ts';
import type { FcContext, Handler } from '../runtime/types.ts';
import { openSource } from '../sources/index.ts';
import { taskDepsFromContext, taskFailure } from './fc-deps.ts';
import { runWorkerTask, type WorkerDeps } from './run.ts';

/** Builds the worker's dependencies from the FC context (exported for the local cloud and tests). */
export function workerDepsFromContext(task: WorkerTask, context: FcContext, env: Record<string, string | undefined> = process.env): WorkerDeps {
  const { ossClientFor, ...deps } = taskDepsFromContext(task, context, env);
  return {
    ...deps,
    openSource: (url, hints) =>
      openSource(url, {
        logger: deps.logger,
        env,
        maxSockets: task.streams * 2,
        oss: hints,
        // The job's SFTP host key pin travels in the task; the private key stays in env (a secret).
        ...(task.source.hostKeyFingerprint !== undefined ? { hostKeyFingerprint: task.source.hostKeyFingerprint } : {}),
        ossClientFor,
      }),
  };
}

export const handler: Handler = async (event, context) => {
  let json: unknown;
  try {
    json = JSON.parse(event.toString('utf8'));
  } catch (err) {
    throw new InvalidInputError('task', 'the event is not JSON', 'invoke the worker with a task object from shared/task.ts taskToWire()', { cause: err });
  }
  // Archive tasks (mode "archive" with a part block) are run by functions/archive.
  if (isArchiveTaskPayload(json)) return handleArchiveTask(json, context);
  const task = parseTask(json);
  try {
    const result = await runWorkerTask(task, workerDepsFromContext(task, context));
    return workerResultToWire(result);
  } catch (err) {
    throw taskFailure(err);
  }
};
