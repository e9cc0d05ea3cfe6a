/**
 * The coordinator's sweep invocation (a timer trigger's SweepEvent, infra/sweep-timer.ts): aborts the open
 * multipart uploads under the event's destinations whose job is finished or unknown (functions/sweep/sweep.ts),
 * reading the jobs from OSSFERRY_STATUS_LOCATION. Without the status location every upload would look
 * orphaned, so the sweep refuses to run rather than abort live uploads.
 */
import type OSS from 'ali-oss';
import { InvalidInputError, OssferryError } from '../../shared/errors.ts';
import { FUNCTION_ENV } from '../../shared/function-env.ts';
import type { Logger } from '../../shared/log.ts';
import type { SweepEvent } from '../../shared/sweep.ts';
import { ossStatusStore, parseStatusLocation } from '../status/store.ts';
import { sweepUploads } from '../sweep/sweep.ts';

export interface SweepSummary {
  kind: 'sweep';
  dryRun: boolean;
  aborted: number;
  kept: number;
  failed: number;
}

export async function runSweep(event: SweepEvent, clientFor: (bucket: string) => OSS, logger: Logger, env: Record<string, string | undefined>): Promise<SweepSummary> {
  const raw = env[FUNCTION_ENV.STATUS_LOCATION];
  if (!raw) throw new InvalidInputError(FUNCTION_ENV.STATUS_LOCATION, 'is not set, so the sweep cannot tell live uploads from orphans', 'set it to the stack\'s oss://bucket/prefix of job status objects');
  const loc = parseStatusLocation(raw);
  const r = await sweepUploads({
    status: ossStatusStore(clientFor(loc.bucket), loc),
    clientFor,
    destinations: event.destinations,
    olderThanMs: event.olderThanSeconds * 1000,
    dryRun: event.dryRun === true,
    logger,
  });
  const summary: SweepSummary = { kind: 'sweep', dryRun: event.dryRun === true, aborted: r.aborted, kept: r.kept, failed: r.failed };
  logger.info('sweep finished', { ...summary });
  if (r.failed > 0) throw new OssferryError('SweepIncomplete', `the sweep could not abort ${r.failed} upload(s) (see the log); the next run tries again`);
  return summary;
}
