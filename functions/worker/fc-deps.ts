/**
 * What worker tasks of both modes (./handler.ts: ./copy.ts, ./archive.ts) take from the FC
 * context alike: OSS clients under the STS credentials FC injects (context.credentials; endpoint from env
 * OSSFERRY_OSS_ENDPOINT or derived from the region), and how a failed task is answered.
 */
import type OSS from 'ali-oss';
import type { LookupFunction } from 'node:net';
import { InvalidInputError, OssferryError } from '../../shared/errors.ts';
import type { OssLocation } from '../../shared/job.ts';
import type { Logger } from '../../shared/log.ts';
import { isRetryableError } from '../../shared/retry.ts';
import { createOssClient, normaliseRegion } from '../oss/client.ts';
import { OssPartSink } from '../oss/part-sink.ts';
import { HandlerError, type FcContext } from '../runtime/types.ts';
import type { OssSourceHints } from '../sources/index.ts';
import { guardOssEndpoint } from '../sources/oss-endpoint.ts';

/** Endpoint and region hints of a task or a job (both optional). */
export interface OssHints {
  endpoint?: string;
  region?: string;
}

/** The fields of a copy or archive task that say where its parts go. */
export interface PartTarget {
  destination: OssLocation;
  uploadId: string;
  oss?: OssHints;
}

/** What every worker task (copy: CopyWorkerDeps, archive: ArchiveWorkerDeps) takes from the FC context alike. */
export interface TaskContextDeps {
  /** The invocation's logger bound to the task's jobId. */
  logger: Logger;
  signal: AbortSignal;
  deadlineMs: number;
  /** Client for an oss:// source bucket, given the job's hints (SourceDeps.ossClientFor). */
  ossClientFor(bucket: string, hints: OssSourceHints): OSS;
  /** The sink for the parts of the task's multipart upload. */
  partSinkFor(t: PartTarget): OssPartSink;
}

function guardedEndpoint(endpoint: string, env: Record<string, string | undefined>): { endpoint: string; lookup?: LookupFunction } {
  const g = guardOssEndpoint(endpoint, { env, field: 'task.oss.endpoint' });
  return g.lookup ? { endpoint: g.endpoint, lookup: g.lookup } : { endpoint: g.endpoint };
}

/** The common worker dependencies of one task; its own region is `task.oss.region`, else the function's. */
export function taskDepsFromContext(task: { jobId: string; oss?: OssHints }, context: FcContext, env: Record<string, string | undefined>): TaskContextDeps {
  const logger = context.logger.child({ jobId: task.jobId });
  const credentials = context.credentials;
  const ownRegion = normaliseRegion(task.oss?.region ?? context.region);
  return {
    logger,
    signal: context.signal,
    deadlineMs: context.deadlineMs,
    ossClientFor: (bucket, h) => {
      const region = h.region ? normaliseRegion(h.region) : ownRegion;
      return createOssClient({
        bucket,
        credentials,
        region,
        env,
        // Internal endpoints only work within their own region.
        internal: region === normaliseRegion(context.region),
        ...(h.endpoint ? { endpoint: h.endpoint } : {}),
        ...(h.lookup ? { lookup: h.lookup } : {}),
      });
    },
    partSinkFor: (t) =>
      new OssPartSink({
        client: createOssClient({
          bucket: t.destination.bucket,
          credentials,
          region: ownRegion,
          env,
          // A task's endpoint hint is input like any other: it gets the credentials only if the guard says so.
          ...(t.oss?.endpoint ? guardedEndpoint(t.oss.endpoint, env) : {}),
        }),
        bucket: t.destination.bucket,
        key: t.destination.key,
        uploadId: t.uploadId,
        logger,
      }),
  };
}

/**
 * What a handler throws for a failed task: a task that cannot succeed (changed source, aborted upload, …)
 * becomes a HandlerError carrying the original code, with `retryable` from the shared classifier. Bad
 * input, HandlerErrors and foreign errors pass unchanged.
 */
export function taskFailure(err: unknown): unknown {
  if (err instanceof OssferryError && !(err instanceof HandlerError) && !(err instanceof InvalidInputError)) {
    return new HandlerError(err.code, err.message, { cause: err, retryable: isRetryableError(err) });
  }
  return err;
}
