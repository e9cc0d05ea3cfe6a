/**
 * The coordinator function (OSSFERRY_ROLE=coordinator), mode-agnostic FC wiring around the job engine
 * (functions/engine/lifecycle.ts): OSS clients from the invocation's STS credentials, the worker dispatcher
 * over @alicloud/fc2, the status store (and lease) from OSSFERRY_STATUS_LOCATION, the SSRF allow-list from
 * OSSFERRY_ALLOWED_SOURCE_HOSTS (read by functions/sources). A job spec runs one job; an OSS trigger body
 * runs one archive job per matching record (./trigger.ts). Failures become HandlerError with the cause's
 * code and `details` saying whether the multipart upload was aborted.
 */
import type OSS from 'ali-oss';
import { InvalidInputError, OssferryError } from '../../shared/errors.ts';
import { FUNCTION_ENV } from '../../shared/function-env.ts';
import { jobIdOf, parseJob, type Job } from '../../shared/job.ts';
import type { CancelledAnswer, ResolvedAnswer } from '../../shared/job-control.ts';
import { applyJobDefaults, applyRuleDefaults, applyTriggerJobDefaults, jobDefaultsFromEnv } from '../../shared/job-defaults.ts';
import { jobReportToJson } from '../../shared/report.ts';
import { capabilitiesOf } from '../../shared/sources.ts';
import { crashHookFromEnv } from '../engine/crash.ts';
import { fcDispatcher } from '../engine/dispatch.ts';
import { JobCancelledError, JobFailedError } from '../engine/errors.ts';
import { runJob } from '../engine/lifecycle.ts';
import type { EngineDeps } from '../engine/types.ts';
import { createFcInvoker, invokerOptionsFromContext } from '../invoke/invoker.ts';
import { createOssClient } from '../oss/client.ts';
import { HandlerError, type FcContext, type Handler } from '../runtime/types.ts';
import { openSource, type OssSourceHints } from '../sources/index.ts';
import { withPinPolicy } from '../sources/pin-policy.ts';
import { ossStatusStore, parseStatusLocation, type StatusStore } from '../status/store.ts';
import { archiveRulesFromEnv, parseCoordinatorEvent } from './event.ts';
import { runSweep } from './sweep.ts';
import { handleOssEvent } from './trigger.ts';

/** Worker timeout when OSSFERRY_WORKER_TIMEOUT_SECONDS is unset (the stack default). */
export const DEFAULT_WORKER_TIMEOUT_SECONDS = 600;

function envNumber(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidInputError(name, `is "${raw}", not a positive number`, `set ${name} to a number of seconds, e.g. 600`);
  return n;
}

function required(env: Record<string, string | undefined>, name: string, fix: string): string {
  const v = env[name];
  if (v === undefined || v === '') throw new InvalidInputError(name, 'is not set', fix);
  return v;
}

/** The deployment's worker capacity (env OSSFERRY_MAX_WORKERS), or undefined where none is set. */
export function workerCapFromEnv(env: Record<string, string | undefined>): number | undefined {
  const raw = env[FUNCTION_ENV.MAX_WORKERS];
  if (raw === undefined || raw === '') return undefined;
  const max = Number(raw);
  if (!Number.isInteger(max) || max < 1) {
    throw new InvalidInputError(FUNCTION_ENV.MAX_WORKERS, `is "${raw}", not a whole number ≥ 1`, `set ${FUNCTION_ENV.MAX_WORKERS} to the worker function's max instances, e.g. 16`);
  }
  return max;
}

/**
 * Caps a job's fan-out at the deployment's worker capacity (env OSSFERRY_MAX_WORKERS: the stack's worker
 * maxInstances; locally the gateway's instances × concurrency). FC 2.0 has no per-function instance cap the stack
 * can set (docs/deploy.md), and dispatching beyond capacity only turns into 429 ResourceExhausted retries.
 * An 'auto' job is sized once its source size is known; the engine bounds it by the same capacity (EngineDeps.maxWorkers).
 */
export function capWorkers<J extends { workers: number | 'auto' }>(job: J, env: Record<string, string | undefined>): J {
  const max = workerCapFromEnv(env);
  if (max === undefined || job.workers === 'auto') return job;
  return job.workers > max ? { ...job, workers: max } : job;
}

/** OSS clients with the invocation's STS credentials, in the function's region unless a hint says otherwise. */
export function coordinatorOssClients(ctx: FcContext, env: Record<string, string | undefined>): (bucket: string, hints?: OssSourceHints) => OSS {
  const region = ctx.region || env[FUNCTION_ENV.REGION] || '';
  return (bucket, hints = {}) =>
    createOssClient({
      bucket,
      credentials: ctx.credentials,
      env,
      ...(hints.endpoint ? { endpoint: hints.endpoint } : {}),
      ...(hints.lookup ? { lookup: hints.lookup } : {}),
      ...((hints.region ?? region) ? { region: hints.region ?? region } : {}),
      // Another region's internal endpoint is unreachable from FC: cross-region goes over the public one.
      internal: hints.region === undefined || hints.region === region,
    });
}

/** Builds the engine's dependencies for one invocation. Exported for tests of the wiring. */
export function coordinatorDeps(job: Job, ctx: FcContext, env: Record<string, string | undefined> = process.env): EngineDeps {
  const region = ctx.region || env[FUNCTION_ENV.REGION] || '';
  const service = required(env, FUNCTION_ENV.SERVICE_NAME, 'set it to the FC service holding the worker function');
  const workerFunction = required(env, FUNCTION_ENV.WORKER_FUNCTION, 'set it to the worker function name');
  const workerTimeoutSeconds = envNumber(env, FUNCTION_ENV.WORKER_TIMEOUT_SECONDS, DEFAULT_WORKER_TIMEOUT_SECONDS);
  const clientFor = coordinatorOssClients(ctx, env);
  let status: StatusStore | undefined;
  const statusEnv = env[FUNCTION_ENV.STATUS_LOCATION];
  if (statusEnv) {
    const loc = parseStatusLocation(statusEnv);
    status = ossStatusStore(clientFor(loc.bucket), loc);
  } else {
    ctx.logger.warn(`${FUNCTION_ENV.STATUS_LOCATION} is not set: jobs cannot resume after a coordinator failure`);
  }
  // fc2's timeout is a total deadline per call (connect to end of body): it must exceed the worker's timeout.
  const invoker = createFcInvoker(invokerOptionsFromContext(ctx, env, (workerTimeoutSeconds + 30) * 1000));
  const ossEndpoint = env[FUNCTION_ENV.OSS_ENDPOINT];
  const leaseTtl = env[FUNCTION_ENV.LEASE_TTL_SECONDS] ? envNumber(env, FUNCTION_ENV.LEASE_TTL_SECONDS, 30) : undefined;
  const crashAt = crashHookFromEnv(env);
  const maxWorkers = workerCapFromEnv(env);
  return {
    logger: ctx.logger,
    openSource: (j) => {
      const source = openSource(j.source.url, {
        logger: ctx.logger,
        env,
        ossClientFor: clientFor,
        ...(j.source.kind === 'oss'
          ? { oss: { ...(j.source.endpoint ? { endpoint: j.source.endpoint } : {}), ...(j.source.region ? { region: j.source.region } : {}) } }
          : {}),
        ...(j.sftpHostKeyFingerprint !== undefined ? { hostKeyFingerprint: j.sftpHostKeyFingerprint } : {}),
      });
      // Kinds whose identity may lack a strong validator (shared/sources.ts) answer to the job's unpinned policy.
      return capabilitiesOf(j.source.kind).unpinnedPolicy ? withPinPolicy(source, j.unpinned, ctx.logger) : source;
    },
    destinationClient: clientFor(job.destination.bucket),
    ...(status ? { status } : {}),
    dispatch: fcDispatcher({ invoker, service, workerFunction, logger: ctx.logger }),
    workerTimeoutSeconds,
    ...(maxWorkers !== undefined ? { maxWorkers } : {}),
    sourceClientFor: (bucket) => clientFor(bucket),
    ...(leaseTtl !== undefined ? { lease: { ttlMs: leaseTtl * 1000 } } : {}),
    ...(crashAt ? { crashAt } : {}),
    deadlineMs: ctx.deadlineMs,
    signal: ctx.signal,
    ...(ossEndpoint || region ? { ossHints: { ...(ossEndpoint ? { endpoint: ossEndpoint } : {}), ...(region ? { region } : {}) } } : {}),
  };
}

function toHandlerError(err: unknown): HandlerError {
  if (err instanceof HandlerError) return err;
  if (err instanceof JobFailedError) {
    return new HandlerError(err.causeCode, err.message, {
      cause: err.cause,
      details: { jobId: err.jobId, uploadId: err.uploadId, aborted: err.aborted },
    });
  }
  const code = err instanceof OssferryError ? err.code : 'CoordinatorError';
  return new HandlerError(code, (err as Error)?.message ?? String(err), { cause: err, details: { aborted: false, uploadStarted: false } });
}

const jobOf = (spec: unknown, env: Record<string, string | undefined>) => capWorkers(parseJob(applyJobDefaults(spec, jobDefaultsFromEnv(env))), env);

async function runOne(spec: unknown, ctx: FcContext, env: Record<string, string | undefined>) {
  const job = jobOf(spec, env);
  try {
    return jobReportToJson(await runJob(job, coordinatorDeps(job, ctx, env)));
  } catch (err) {
    // A cancelled job answers successfully: FC must not retry it (it stays cancelled until re-submitted).
    if (err instanceof JobCancelledError) return { kind: 'cancelled', jobId: err.jobId, message: err.message } satisfies CancelledAnswer;
    throw err;
  }
}

/** The job id a spec runs under (the engine's own stat and jobIdOf, with the deployment's defaults); nothing is written. */
async function resolveOne(spec: unknown, ctx: FcContext, env: Record<string, string | undefined>): Promise<ResolvedAnswer> {
  const job = jobOf(spec, env);
  const source = coordinatorDeps(job, ctx, env).openSource(job);
  try {
    const identity = await source.stat(ctx.signal);
    const statusLocation = env[FUNCTION_ENV.STATUS_LOCATION];
    return { kind: 'resolved', jobId: jobIdOf(job, identity), mode: job.mode, size: identity.size, ...(statusLocation ? { statusLocation } : {}) };
  } finally {
    await source.close().catch(() => undefined);
  }
}

export const handler: Handler = async (event, ctx) => {
  try {
    const parsed = parseCoordinatorEvent(event, process.env);
    if (parsed.kind === 'job') return await runOne(parsed.spec, ctx, process.env);
    if (parsed.kind === 'resolve') return await resolveOne(parsed.job, ctx, process.env);
    if (parsed.kind === 'sweep') return await runSweep(parsed, coordinatorOssClients(ctx, process.env), ctx.logger, process.env);
    // OSS trigger: ./trigger.ts runs one archive job per matching record (idempotent per object version,
    // delete-after-verify per rule); ignored records are logged there.
    const env = process.env;
    const defaults = jobDefaultsFromEnv(env);
    return await handleOssEvent(event, {
      rules: applyRuleDefaults(archiveRulesFromEnv(env), defaults),
      logger: ctx.logger,
      runJob: (job, options) => runJob(capWorkers(applyTriggerJobDefaults(job, defaults), env), coordinatorDeps(job, ctx, env), options),
    });
  } catch (err) {
    throw toHandlerError(err);
  }
};
