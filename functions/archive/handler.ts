/**
 * FC adapters for archive jobs, called from the role handlers (functions/worker/handler.ts dispatches on
 * an archive task payload, functions/coordinator/handler.ts on mode "archive" and on OSS trigger bodies):
 * - `handleArchiveTask(json, context)`: worker side — parse, build deps from the FcContext (STS credentials,
 *   OSS endpoint from env or region), run, answer the result in wire form.
 * - `archiveJobDeps(copyDeps, ctx, env)`: coordinator side — the copy job's dependencies plus the archive
 *   dispatcher over the same fc2 invoker.
 */
import { FUNCTION_ENV } from '../../shared/function-env.ts';
import { createFcInvoker, invokerOptionsFromContext } from '../invoke/invoker.ts';
import { createOssClient } from '../oss/client.ts';
import type { FcContext } from '../runtime/types.ts';
import { taskDepsFromContext, taskFailure } from '../worker/fc-deps.ts';
import type { CoordinatorDeps } from '../coordinator/run.ts';
import { fcArchiveDispatcher } from './dispatch.ts';
import type { ArchiveJobDeps } from './job.ts';
import { openArchiveSource } from './source.ts';
import { archiveResultToWire, parseArchiveTask, type ArchiveTask } from './task.ts';
import { runArchiveTask, type ArchiveWorkerDeps } from './worker.ts';

export function archiveWorkerDeps(task: ArchiveTask, context: FcContext, env: Record<string, string | undefined> = process.env): ArchiveWorkerDeps {
  const { ossClientFor, ...deps } = taskDepsFromContext(task, context, env);
  return {
    ...deps,
    openSource: (t) =>
      openArchiveSource(t.source.url, {
        logger: deps.logger,
        env,
        maxSockets: t.concurrency * 2,
        oss: { ...(t.source.endpoint ? { endpoint: t.source.endpoint } : {}), ...(t.source.region ? { region: t.source.region } : {}) },
        ...(t.source.hostKeyFingerprint ? { hostKeyFingerprint: t.source.hostKeyFingerprint } : {}),
        ossClientFor,
      }),
  };
}

/** Worker entry for an archive task payload (already JSON-parsed). */
export async function handleArchiveTask(json: unknown, context: FcContext, env: Record<string, string | undefined> = process.env): Promise<unknown> {
  const task = parseArchiveTask(json);
  try {
    return archiveResultToWire(await runArchiveTask(task, archiveWorkerDeps(task, context, env)));
  } catch (err) {
    throw taskFailure(err);
  }
}

/** Coordinator: archive deps from the copy deps built by functions/coordinator/handler.ts coordinatorDeps(). */
export function archiveJobDeps(copy: CoordinatorDeps, ctx: FcContext, env: Record<string, string | undefined> = process.env): ArchiveJobDeps {
  const service = env[FUNCTION_ENV.SERVICE_NAME] ?? '';
  const workerFunction = env[FUNCTION_ENV.WORKER_FUNCTION] ?? '';
  const timeout = copy.workerTimeoutSeconds;
  const invoker = createFcInvoker(invokerOptionsFromContext(ctx, env, (timeout + 30) * 1000));
  const region = ctx.region || env[FUNCTION_ENV.REGION] || '';
  return {
    logger: copy.logger,
    openSource: (job, sftp) =>
      sftp?.hostKeyFingerprint
        ? openArchiveSource(job.source.url, { logger: copy.logger, env, hostKeyFingerprint: sftp.hostKeyFingerprint })
        : copy.openSource(job),
    destinationClient: copy.destinationClient,
    ...(copy.status ? { status: copy.status } : {}),
    dispatch: fcArchiveDispatcher({ invoker, service, workerFunction, logger: copy.logger }),
    workerTimeoutSeconds: timeout,
    sourceClientFor: (bucket) => createOssClient({ bucket, credentials: ctx.credentials, env, ...(region ? { region } : {}) }),
    ...(copy.deadlineMs !== undefined ? { deadlineMs: copy.deadlineMs } : {}),
    ...(copy.signal ? { signal: copy.signal } : {}),
    ...(copy.ossHints ? { ossHints: copy.ossHints } : {}),
  };
}
