/**
 * What a coordinator invocation carries: either a job spec (CLI, API) or an OSS trigger event body
 * (`{"events":[…]}`, as FC delivers it), which shared/events.ts maps through the archive rules into
 * archive job specs. One parse step, so the handler dispatches on a tagged value.
 */
import { parseArchiveRules, type ArchiveRule } from '../../shared/archive-rules.ts';
import { InvalidInputError } from '../../shared/errors.ts';
import { parseOssEvent, type OssEventOutcome } from '../../shared/events.ts';
import { FUNCTION_ENV } from '../../shared/function-env.ts';
import type { JobSpecInput } from '../../shared/job.ts';
import { parseSweepEvent, type SweepEvent } from '../../shared/sweep.ts';
import { parseResolveRequest, type ResolveRequest } from '../../shared/job-control.ts';

export type CoordinatorEvent =
  | { kind: 'job'; spec: unknown }
  | ResolveRequest
  | { kind: 'trigger'; jobs: Array<{ index: number; spec: JobSpecInput; idempotencyKey: string }>; ignored: OssEventOutcome[] }
  | SweepEvent;

/**
 * An FC 2.0 timer trigger delivers `{"triggerTime","triggerName","payload"}` with the configured payload as a
 * string (infra/sweep-timer.ts puts a sweep event there); anything else is the invocation body itself.
 */
function unwrapTimer(body: unknown): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const b = body as Record<string, unknown>;
  if (typeof b.triggerName !== 'string' || typeof b.triggerTime !== 'string' || typeof b.payload !== 'string') return body;
  try {
    return JSON.parse(b.payload) as unknown;
  } catch (err) {
    throw new InvalidInputError('payload', `of timer trigger ${JSON.stringify(b.triggerName)} is not JSON`, 'set the trigger payload to a sweep event {"kind":"sweep","olderThanSeconds":86400,"destinations":[…]} (infra/sweep-timer.ts)', { cause: err });
  }
}

/** Archive rules from OSSFERRY_ARCHIVE_RULES (JSON array); none configured → []. */
export function archiveRulesFromEnv(env: Record<string, string | undefined>): ArchiveRule[] {
  const raw = env[FUNCTION_ENV.ARCHIVE_RULES];
  if (raw === undefined || raw.trim() === '') return [];
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw new InvalidInputError(FUNCTION_ENV.ARCHIVE_RULES, 'is not JSON', 'set it to a JSON array of archive rules (shared/archive-rules.ts)', { cause: err });
  }
  return parseArchiveRules(json, FUNCTION_ENV.ARCHIVE_RULES);
}

/** Parses the raw invocation payload. Throws InvalidInputError naming `event` when it is not JSON. */
export function parseCoordinatorEvent(payload: Buffer | string, env: Record<string, string | undefined> = process.env): CoordinatorEvent {
  const text = typeof payload === 'string' ? payload : payload.toString('utf8');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new InvalidInputError('event', 'is not JSON', 'invoke the coordinator with a job spec {"source": "...", "destination": "oss://bucket/key"} or an OSS trigger event', { cause: err });
  }
  body = unwrapTimer(body);
  const sweep = parseSweepEvent(body);
  if (typeof sweep === 'string') throw new InvalidInputError('event', sweep, 'send {"kind":"sweep","olderThanSeconds":86400,"destinations":[{"bucket":"…","prefix":"…"}]}');
  if (sweep) return sweep;
  const resolve = parseResolveRequest(body);
  if (resolve) return resolve;
  if (body !== null && typeof body === 'object' && !Array.isArray(body) && 'events' in body) {
    const outcomes = parseOssEvent(body, archiveRulesFromEnv(env));
    const jobs: Array<{ index: number; spec: JobSpecInput; idempotencyKey: string }> = [];
    const ignored: OssEventOutcome[] = [];
    for (const o of outcomes) {
      if (o.kind !== 'archive') {
        ignored.push(o);
        continue;
      }
      const r = o.request;
      jobs.push({
        index: o.index,
        idempotencyKey: r.idempotencyKey,
        spec: { source: r.source, destination: r.destination, mode: 'archive', gzipLevel: r.gzipLevel, expectedSize: r.sourceSize },
      });
    }
    return { kind: 'trigger', jobs, ignored };
  }
  return { kind: 'job', spec: body };
}
