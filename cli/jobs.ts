/**
 * Jobs that run in a deployment, or in a local cloud reached the same way: `ossferry copy` submits
 * asynchronously and follows; `ossferry status <id> [--watch]`, `ossferry jobs`, `ossferry cancel <id>` read and
 * write the status location. The CLI learns the job id from the coordinator itself (a `resolve` request: the
 * engine's own source stat and job id with the deployment's defaults, nothing written), so it works for
 * sources only the deployment can reach; then FC runs the job in the background (202, the stack's async retry
 * policy) while the CLI follows the status object (one GET + one ListParts per poll, as locally).
 */
import type OSS from 'ali-oss';
import { InvalidInputError } from '../shared/errors.ts';
import { silentLogger } from '../shared/log.ts';
import type { JobSpecInput } from '../shared/job.ts';
import { resolvedAnswerSchema, type ResolvedAnswer } from '../shared/job-control.ts';
import { predict, type SourceKind } from '../shared/model/index.ts';
import { parseJobReport } from '../shared/report.ts';
import { cancelUnowned } from '../functions/engine/cancel.ts';
import type { FcInvoker } from '../functions/invoke/invoker.ts';
import { readCancelRequest, requestCancel, withdrawCancel } from '../functions/status/cancel.ts';
import { jobProgress, type JobProgress } from '../functions/status/progress.ts';
import { JOB_STATES, jobTracesExist, listJobIds, ossStatusStore, parseStatusLocation, type JobState, type StatusStore } from '../functions/status/store.ts';
import { describeFailure, err, out, printJobReport, printProgress } from './output.ts';
import type { OssAccess } from './oss-access.ts';
import { progressDisplay } from './progress.ts';

/** Where a job is run and followed. */
export interface JobTarget {
  invoker: FcInvoker;
  service: string;
  coordinator: string;
  /** Reaches the status location (and the destination, for ListParts). */
  access: OssAccess;
  /** How messages name the target, e.g. `ossferry/coordinator (cn-hangzhou)`. */
  name: string;
  /** A deployment: the region the model predicts for (no prediction on a local cloud). */
  modelRegion?: string;
  /** Flags that reach the same status location, for the commands the CLI suggests. */
  statusFlags: string;
}

export interface FollowFlags {
  detach?: boolean;
  json?: boolean;
  quiet?: boolean;
  /** Stop following after this many seconds (--timeout); the job goes on. */
  followSeconds?: number;
}

const TERMINAL: ReadonlySet<JobState> = new Set(['succeeded', 'failed', 'cancelled']);
const POLL_MS = 500;

/** The status store of a location, through `access`. */
export function statusStoreAt(access: OssAccess, location: string): StatusStore {
  const loc = parseStatusLocation(location, '--status-location');
  return ossStatusStore(access.client(loc.bucket), loc);
}

/** The coordinator's answer to a resolve request: the job id the spec runs under. Bad input surfaces here, before anything runs. */
export async function resolveJob(spec: JobSpecInput, t: JobTarget): Promise<ResolvedAnswer> {
  const raw = await t.invoker.invoke<unknown>(t.service, t.coordinator, { kind: 'resolve', job: spec });
  const r = resolvedAnswerSchema.safeParse(raw);
  if (!r.success) throw new Error(`${t.name} did not answer a job id (${r.error.issues[0]?.message}); is the deployed coordinator older than this ossferry? Fix: deploy this version (pulumi up)`);
  return r.data;
}

/**
 * `ossferry copy` against a deployment: resolve the id, print it, invoke asynchronously, then follow the
 * status object to the end (or return at once with --detach). A job the user cancelled earlier is
 * re-submitted: its cancel request is withdrawn first (the only way a cancelled job runs again).
 */
export async function submitAndFollow(spec: JobSpecInput, t: JobTarget, o: FollowFlags): Promise<number> {
  const resolved = await resolveJob(spec, t);
  const { jobId } = resolved;
  if (!resolved.statusLocation) throw new InvalidInputError('statusLocation', `${t.name} keeps no status objects`, 'set the stack\'s status location (OSSFERRY_STATUS_LOCATION) so jobs can be followed and cancelled');
  const store = statusStoreAt(t.access, resolved.statusLocation);
  if (o.json) out(JSON.stringify({ event: 'submitted', jobId, statusLocation: resolved.statusLocation }));
  else out(`job ${jobId}`);
  const prior = await store.read(jobId).catch(() => undefined);
  if (await readCancelRequest(store.client!, store.location, jobId)) {
    await withdrawCancel(store.client!, store.location, jobId);
    if (!o.json) err(`ossferry: job ${jobId} was cancelled; submitting it again (cancel request withdrawn)`);
  }
  if (!o.json) err(`ossferry: submitting ${spec.source} → ${spec.destination} to ${t.name} (asynchronous)`);
  const started = Date.now();
  await t.invoker.invoke(t.service, t.coordinator, spec, { async: true });
  if (o.detach) {
    if (!o.json) err(`ossferry: detached; follow with: ossferry status ${jobId} --watch ${t.statusFlags}`);
    return 0;
  }
  // What an earlier run left (even `succeeded`: the object may be gone since) is not this submission's answer:
  // wait for a newer write (a finished job's owner records `already done` again).
  const staleAt = prior?.updatedAt;
  const end = await follow(store, t.access, jobId, { quiet: o.quiet === true || o.json === true, staleAt, hint: `ossferry status ${jobId} --watch ${t.statusFlags}`, ...(o.followSeconds ? { untilMs: Date.now() + o.followSeconds * 1000 } : {}) });
  if (end === 'signal') return 130;
  if (end === 'timeout') return 1;
  const code = printOutcome(end, o.json === true);
  if (end.state === 'succeeded' && t.modelRegion) printPrediction(spec, end, t.modelRegion, (Date.now() - started) / 1000, o.json === true);
  return code;
}

/** Prints a finished job: its report (from the status object), or why it failed or that it was cancelled. Exit code. */
function printOutcome(p: JobProgress, json: boolean): number {
  if (p.state === 'succeeded' && p.report) {
    const r = parseJobReport(p.report);
    printJobReport(r.mode === 'archive' ? { kind: 'archive', ...r } : { kind: 'copy', ...r }, json);
    return 0;
  }
  if (json) out(JSON.stringify({ event: p.state, jobId: p.jobId, ...(p.error ? { error: p.error } : {}) }));
  if (p.state === 'cancelled') err(`ossferry: job ${p.jobId} was cancelled; its upload was aborted and nothing was written to ${p.destination}`);
  else err(describeFailure(new Error(p.error ? `${p.error.code ?? p.error.name}: ${p.error.message}` : `job ${p.jobId} ended ${p.state}`)));
  return 1;
}

/** The model's prediction for this job (shared/model) beside the time it took, so every real job checks the model. */
function printPrediction(spec: JobSpecInput, p: JobProgress, region: string, wallSeconds: number, json: boolean): void {
  const kind: SourceKind = spec.source.startsWith('oss://') ? 'oss' : spec.source.startsWith('sftp:') ? 'sftp' : 'http';
  let predicted: ReturnType<typeof predict>;
  try {
    predicted = predict({ size: p.size, sourceKind: kind, region, ...(spec.workers ? { workers: spec.workers } : {}), ...(spec.streamsPerWorker ? { streamsPerWorker: spec.streamsPerWorker } : {}), ...(typeof spec.partSize === 'number' ? { partSize: spec.partSize } : {}) });
  } catch (e) {
    err(`ossferry: no prediction for this job: ${(e as Error).message}`);
    return;
  }
  const measured = typeof p.report?.seconds === 'number' ? p.report.seconds : wallSeconds;
  const t = predicted.time;
  if (json) {
    out(JSON.stringify({ event: 'prediction', jobId: p.jobId, predictedSeconds: t.seconds, bottleneck: t.bottleneck, measuredSeconds: measured, wallSeconds, ratio: measured / t.seconds }));
    return;
  }
  out(`  predicted  ${t.seconds.toFixed(2)} s (ossferry plan's model for ${region}, limited by ${t.bottleneck})`);
  out(`  measured   ${measured.toFixed(2)} s by the coordinator, ${wallSeconds.toFixed(2)} s submit to end here (${(measured / t.seconds).toFixed(2)}× the prediction)`);
}

/**
 * Polls the job until a terminal state (newer than `staleAt`, when given), feeding the progress display.
 * `signal`: SIGINT/SIGTERM stopped the following; `timeout`: `untilMs` passed. Either way the job goes on.
 */
export async function follow(store: StatusStore, access: OssAccess, jobId: string, o: { quiet: boolean; staleAt?: string | undefined; hint: string; untilMs?: number; ready?: () => void }): Promise<JobProgress | 'signal' | 'timeout'> {
  const display = o.quiet ? undefined : progressDisplay();
  const stop = new AbortController();
  const onSignal = () => stop.abort('signal');
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  o.ready?.(); // only now: a Ctrl-C right after the first line must stop the following, not kill the process
  try {
    for (;;) {
      const p = await jobProgress(store, (b) => access.client(b), jobId).catch((e: unknown) => {
        // A status object that cannot be parsed is reported, never followed as if it were the job's.
        if ((e as Error)?.name === 'StatusObjectError') throw e;
        return undefined;
      });
      if (p && (o.staleAt === undefined || p.updatedAt !== o.staleAt)) {
        display?.update(p);
        if (TERMINAL.has(p.state)) return p;
      }
      await new Promise<void>((r) => {
        const timer = setTimeout(r, POLL_MS);
        stop.signal.addEventListener('abort', () => (clearTimeout(timer), r()), { once: true });
      });
      if (!stop.signal.aborted && o.untilMs !== undefined && Date.now() >= o.untilMs) stop.abort('timeout');
      if (stop.signal.aborted) {
        display?.stop();
        err(`\nossferry: stopped following${stop.signal.reason === 'timeout' ? ' (--timeout)' : ''}; job ${jobId} goes on. Follow it again with: ${o.hint}`);
        return stop.signal.reason as 'signal' | 'timeout';
      }
    }
  } finally {
    display?.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Checks the id's form (exit 2 otherwise). */
export function checkJobId(jobId: string): void {
  if (!/^j[0-9a-f]{32}$/.test(jobId)) throw new InvalidInputError('jobId', `${JSON.stringify(jobId)} is not an ossferry job id`, 'pass the id printed by ossferry copy (j + 32 hex digits)');
}

/** An unknown job id: names the id and where it looked (exit 2). */
export function unknownJob(jobId: string, location: string): InvalidInputError {
  return new InvalidInputError('jobId', `no job ${jobId} under ${location} (no status object ${location.replace(/\/$/, '')}/${jobId}.json, no lease, no cancel request)`, 'check the id (ossferry jobs lists the jobs there), or pass the --status-location / --data-dir the job ran under');
}

/** `ossferry status <id> --watch`: progress until the job ends; SIGINT stops watching cleanly (exit 0). */
export async function watchStatus(store: StatusStore, access: OssAccess, jobId: string, location: string, json: boolean): Promise<number> {
  if (!(await store.read(jobId)) && !(await jobTracesExist(store, jobId))) throw unknownJob(jobId, location);
  const ready = () => (json ? undefined : out(`watching job ${jobId} under ${location} (Ctrl-C stops watching; the job goes on)`));
  const end = await follow(store, access, jobId, { quiet: json, hint: `ossferry status ${jobId} --watch`, ready });
  if (typeof end === 'string') return 0;
  printProgress(end, json);
  return end.state === 'succeeded' ? 0 : 1;
}

export interface JobsFlags {
  state?: string;
  json?: boolean;
}

/** `ossferry jobs`: every status object under the location, newest first; corrupt or foreign ones are reported, not shown as jobs. */
export async function listJobs(store: StatusStore, location: string, o: JobsFlags): Promise<number> {
  if (o.state !== undefined && !(JOB_STATES as readonly string[]).includes(o.state)) {
    throw new InvalidInputError('--state', `${JSON.stringify(o.state)} is not a job state`, `pass one of ${JOB_STATES.join(', ')}`);
  }
  const ids = await listJobIds(store);
  const rows: Array<{ jobId: string; state: JobState; mode: string; size: number; bytesDone: number; updatedAt: string; source: string; destination: string }> = [];
  let bad = 0;
  for (let i = 0; i < ids.length; i += 16) {
    await Promise.all(
      ids.slice(i, i + 16).map(async (id) => {
        try {
          const s = await store.read(id);
          if (s) rows.push({ jobId: s.jobId, state: s.state, mode: s.mode ?? 'copy', size: s.size, bytesDone: s.state === 'succeeded' ? s.size : s.bytesDone, updatedAt: s.updatedAt, source: s.source, destination: s.destination });
        } catch (e) {
          bad++;
          if (o.json) out(JSON.stringify({ jobId: id, state: 'unreadable', problem: (e as Error).message }));
          else err(`ossferry: not listed: ${(e as Error).message}`);
        }
      }),
    );
  }
  const shown = rows.filter((r) => o.state === undefined || r.state === o.state).sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  if (o.json) {
    for (const r of shown) out(JSON.stringify(r));
    return 0;
  }
  if (shown.length === 0) out(`no ${o.state ?? ''}${o.state ? ' ' : ''}jobs under ${location}${bad ? ` (${bad} unreadable status object(s))` : ''}`);
  for (const r of shown) {
    const pct = r.size > 0 ? ((r.bytesDone / r.size) * 100).toFixed(0) : '100';
    out(`${r.jobId}  ${r.state.padEnd(12)} ${r.mode.padEnd(7)} ${pct.padStart(3)}%  ${r.updatedAt}  ${r.source} → ${r.destination}`);
  }
  return 0;
}

/**
 * `ossferry cancel <id>`: writes the cancel request, then waits (up to `waitMs`) until `cancelled` is recorded:
 * by the live owner, which polls for the request, or — when no invocation runs the job (interrupted, its owner
 * died) — by this command itself, which takes the job's lease once it expired and aborts the upload as the
 * owner would. A finished job is left alone and the command says so (exit 1); cancelling twice is harmless.
 */
export async function cancelJob(store: StatusStore, destination: (bucket: string) => OSS, jobId: string, location: string, o: { json?: boolean; waitMs?: number }): Promise<number> {
  const say = (event: string, text: string, code: number) => {
    if (o.json) out(JSON.stringify({ event, jobId }));
    else (code === 0 ? out : err)(text);
    return code;
  };
  const s = await store.read(jobId);
  if (!s && !(await jobTracesExist(store, jobId))) throw unknownJob(jobId, location);
  if (s?.state === 'succeeded' || s?.state === 'failed') return say(`already-${s.state}`, `ossferry: job ${jobId} already ${s.state} (${s.updatedAt}); nothing to cancel, nothing changed`, 1);
  if (s?.state === 'cancelled') return say('already-cancelled', `job ${jobId} is already cancelled; nothing changed`, 0);
  if (s?.state === 'completing') return say('too-late', `ossferry: job ${jobId} is completing (Complete was sent); too late to cancel, nothing changed`, 1);
  const { created, request } = await requestCancel(store.client!, store.location, jobId);
  if (!o.json) out(`cancel of job ${jobId} ${created ? 'requested' : 'was already requested'}; waiting for it to stop`);
  const until = Date.now() + (o.waitMs ?? 60_000);
  for (let i = 0; Date.now() < until; i++) {
    // Every ~2 s: if no live owner holds the job, settle it here (its lease expired or was released).
    if (i % 4 === 0) await cancelUnowned({ store, destination, jobId, requestedAt: request.requestedAt, log: silentLogger }).catch(() => undefined);
    const now = await store.read(jobId).catch(() => undefined);
    if (now?.state === 'cancelled') return say('cancelled', `job ${jobId} cancelled: ${now.uploadId ? `upload ${now.uploadId} aborted` : 'no upload was started'}, nothing written to ${now.destination}`, 0);
    if (now?.state === 'succeeded') return say('too-late', `ossferry: job ${jobId} finished before the cancel took effect; the object stays`, 1);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return say('requested', `ossferry: job ${jobId}: cancel requested, but nothing recorded it within ${Math.round((o.waitMs ?? 60_000) / 1000)} s (a live owner did not answer); it stays cancelled: any invocation of it stops at once and aborts its upload`, 0);
}
