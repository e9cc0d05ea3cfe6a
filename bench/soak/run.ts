/**
 * The soak run: many mixed copy and archive jobs through the local cloud (local OSS + FC gateway + coordinator
 * and worker processes + HTTP source) while it is being broken on purpose, then every job judged from what OSS
 * holds (./plan.ts judge). Chaos, all seeded:
 * - OSS faults on every operation (503 SlowDown, 500 InternalError, connection resets, latency, and responses
 *   lost after the request executed), on for the whole run and off for the checks;
 * - coordinators killed at random lifecycle steps (the test crash hook, functions/engine/crash.ts) and at random
 *   moments (SIGKILL of a coordinator process), workers killed at random moments (SIGKILL);
 * - every job is an asynchronous invocation, so a failed one is re-delivered by the gateway as FC does
 *   (asyncRetryAttempts), and some jobs are delivered twice (OSS events are at-least-once; users re-submit).
 * A job's checks start once every delivery of it has ended. Uploads left open are counted first
 * (`orphanedUploadsBeforeSweep`), then the sweep runs as the stack's timer would once its grace has passed
 * (functions/sweep: uploads of unknown, finished or abandoned jobs — every delivery has ended, so a job not
 * finished now was given up by FC), and what is still open after it is `orphanedUploads`.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGunzip } from 'node:zlib';
import type OSS from 'ali-oss';
import { CRASH_STEPS } from '../../functions/engine/crash.ts';
import { FUNCTION_ENV } from '../../shared/function-env.ts';
import { ossEventBody } from '../../shared/events.ts';
import { silentLogger } from '../../shared/log.ts';
import { coordinatorInvoker, LOCAL_DEFAULTS, startLocalCloud, type LocalCloud } from '../../local/cloud.ts';
import type { AsyncResult } from '../../local/fc/types.ts';
import { functionProcesses } from '../../local/procs.ts';
import { ossStatusStore, parseStatusLocation } from '../../functions/status/store.ts';
import { sweepUploads } from '../../functions/sweep/sweep.ts';
import { generateLogLike } from '../lib/loglike.ts';
import { judge, MiB, planSoak, rng, type SoakJob, type Verdict } from './plan.ts';

export interface SoakOptions {
  jobs: number;
  seed: number;
  /** Jobs in flight at once (default 6). */
  concurrency?: number;
  /** A line per settled job and per kill (default: none). */
  progress?: (line: string) => void;
  /** Append every function instance's log lines here (JSON lines, each tagged with its instance). */
  instanceLog?: string;
}

export interface SoakResult {
  jobs: number;
  correct: number;
  cleanlyFailed: number;
  lost: number;
  corrupt: number;
  orphanedUploads: number;
  overwritten: number;
  coordinatorKills: number;
  workerKills: number;
  lostResponses: number;
  /** Uploads open once every delivery had ended, before the sweep; and how many the sweep aborted. */
  orphanedUploadsBeforeSweep: number;
  sweptUploads: number;
  /** Not in the issue's list, for the table. */
  bytes: number;
  seconds: number;
  deliveries: number;
  byKind: Record<string, Partial<Record<Verdict, number>>>;
  /** bucket/key (upload id) of every upload left open after the sweep, and before it. */
  orphans: string[];
  openBeforeSweep: string[];
  notCorrect: Array<{ index: number; kind: string; size: number; verdict: Verdict; preexisting: boolean; destinationKey: string; lastError?: string }>;
}

const SOURCE_BUCKET = 'soak-src';
const DEST_BUCKET = LOCAL_DEFAULTS.bucket;
const RULE = { name: 'soak', sourceBucket: SOURCE_BUCKET, sourcePrefix: 'incoming/', destinationBucket: DEST_BUCKET, destinationPrefix: 'soak/archive/' };

/** The faults in force while jobs run: every operation, a little of everything. */
export function soakFaults(seed: number) {
  const all = { slowDownRate: 0.004, errorRate: 0.003, resetRate: 0.003, lostResponseRate: 0.004, latencyMs: 1 };
  return { seed, all, operations: { UploadPart: { ...all, latencyMs: 10 }, GetObject: { ...all, latencyMs: 3 } } };
}

interface Where {
  sourceUrl: string;
  /** Source object key in SOURCE_BUCKET (OSS sources). */
  sourceKey?: string;
  destinationKey: string;
  archive: boolean;
}

function whereOf(job: SoakJob, cloud: LocalCloud): Where {
  const i = job.index;
  switch (job.kind) {
    case 'copyHttp':
      return { sourceUrl: cloud.httpSource.url(`/soak/${i}.bin`), destinationKey: `soak/copy/${i}.bin`, archive: false };
    case 'copyOss':
      return { sourceUrl: `oss://${SOURCE_BUCKET}/copysrc/${i}.bin`, sourceKey: `copysrc/${i}.bin`, destinationKey: `soak/copy-oss/${i}.bin`, archive: false };
    case 'archiveHttp':
      return { sourceUrl: cloud.httpSource.url(`/soak/${i}.log`), destinationKey: `soak/harchive/${i}.log.gz`, archive: true };
    case 'archiveEvent':
      return { sourceUrl: `oss://${SOURCE_BUCKET}/incoming/${i}.log`, sourceKey: `incoming/${i}.log`, destinationKey: `soak/archive/${i}.log.gz`, archive: true };
  }
}

/** The job's bytes in chunks of at most 16 MiB (a 256 MiB source is never one buffer). */
function* contentOf(job: SoakJob): Generator<Buffer> {
  const chunk = 16 * MiB;
  const key = createHash('sha256').update(`soak-${job.contentSeed}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  for (let at = 0, k = 0; at < job.size; at += chunk, k++) {
    const n = Math.min(chunk, job.size - at);
    yield job.content === 'logLike' ? generateLogLike(n, job.contentSeed + k) : cipher.update(Buffer.alloc(n));
  }
}

/** Writes the job's source where it is read from; returns its sha256 and, for OSS event jobs, the event body. */
async function placeSource(job: SoakJob, where: Where, cloud: LocalCloud, sourceDir: string): Promise<{ sha256: string; event?: unknown }> {
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  for (const c of contentOf(job)) {
    hash.update(c);
    chunks.push(c);
  }
  const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  chunks.length = 0;
  const sha256 = hash.digest('hex');
  if (where.sourceKey === undefined) {
    const file = path.join(sourceDir, new URL(where.sourceUrl).pathname);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, data);
    return { sha256 };
  }
  const put = await cloud.ossClient(SOURCE_BUCKET).put(where.sourceKey, data);
  if (job.kind !== 'archiveEvent') return { sha256 };
  const eTag = String((put.res.headers as Record<string, string>).etag);
  const event = ossEventBody({ eventName: 'ObjectCreated:PutObject', bucket: SOURCE_BUCKET, key: where.sourceKey, size: data.length, eTag, region: cloud.oss.region, accountId: LOCAL_DEFAULTS.accountId, eventTime: new Date() });
  return { sha256, event };
}

function payloadOf(job: SoakJob, where: Where, event: unknown): unknown {
  if (job.kind === 'archiveEvent') return event;
  const destination = `oss://${DEST_BUCKET}/${where.destinationKey}`;
  if (where.archive) return { source: where.sourceUrl, destination, mode: 'archive', workers: 2 };
  return { source: where.sourceUrl, destination, partSize: 2 * MiB, workers: 2, streamsPerWorker: 2 };
}

/** An async invocation's end: a function error after FC's retries, or a trigger result naming a failed record. */
function failedDelivery(r: AsyncResult): boolean {
  if (!r.ok) return true;
  try {
    const body = JSON.parse(r.body) as { failed?: unknown };
    return typeof body.failed === 'number' && body.failed > 0;
  } catch {
    return false;
  }
}

async function sha256Of(client: OSS, key: string, gunzip: boolean): Promise<string | undefined> {
  let stream;
  try {
    stream = (await client.getStream(key)).stream as NodeJS.ReadableStream;
  } catch (err) {
    if ((err as { status?: number }).status === 404) return undefined;
    throw err;
  }
  const hash = createHash('sha256');
  const body = gunzip ? stream.pipe(createGunzip()) : stream;
  try {
    for await (const c of body) hash.update(c as Buffer);
  } catch {
    return 'undecodable';
  }
  return hash.digest('hex');
}

async function openUploads(client: OSS, prefix = ''): Promise<string[]> {
  const r = (await client.listUploads({ prefix, 'max-uploads': 1000 } as never)) as unknown as { uploads?: Array<{ name: string; uploadId: string }> };
  return (r.uploads ?? []).map((u) => `${u.name} (${u.uploadId})`);
}

async function lostResponsesSoFar(cloud: LocalCloud): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${cloud.oss.admin.endpoint}/_ossferry/stats`, { headers: { authorization: `Bearer ${cloud.oss.admin.token}` } }, (res) => {
      let t = '';
      res.on('data', (d) => (t += d));
      res.on('end', () => resolve((JSON.parse(t) as { lostResponses: number }).lostResponses));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Kills, seeded: a crash step armed every `every` submissions, a process kill now and then. */
class Chaos {
  coordinatorKills = 0;
  workerKills = 0;
  private armed = false;
  private pendingWorkerKills = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly r: () => number;
  private readonly crashFile: string;
  private readonly every: number;
  private readonly say: (line: string) => void;
  constructor(crashFile: string, seed: number, every: number, say: (line: string) => void) {
    this.crashFile = crashFile;
    this.every = every;
    this.say = say;
    this.r = rng(seed ^ 0x5eed);
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), 200);
  }

  /** Called before submission n (0-based). */
  async onSubmit(n: number): Promise<void> {
    if (n === 0) return;
    if (n % this.every === 0 && !this.armed) {
      const step = CRASH_STEPS[Math.floor(this.r() * CRASH_STEPS.length)]!;
      await writeFile(this.crashFile, step);
      this.armed = true;
      this.say(`chaos: coordinator crash armed at ${step}`);
    }
    if (n % Math.max(2, Math.floor(this.every / 2)) === 0) this.pendingWorkerKills++;
    if (n % (this.every * 3) === Math.floor(this.every * 1.5)) this.killOne('coordinator');
  }

  private tick(): void {
    if (this.armed && !existsSync(this.crashFile)) {
      // The hook deletes the file just before the coordinator SIGKILLs itself: one coordinator died at the step.
      this.armed = false;
      this.coordinatorKills++;
      this.say('chaos: a coordinator killed itself at the armed step');
    }
    if (this.pendingWorkerKills > 0 && this.r() < 0.3 && this.killOne('worker')) this.pendingWorkerKills--;
  }

  private killOne(role: 'coordinator' | 'worker'): boolean {
    const procs = functionProcesses(role);
    if (procs.length === 0) return false;
    const victim = procs[Math.floor(this.r() * procs.length)]!;
    try {
      process.kill(victim.pid, 'SIGKILL');
    } catch {
      return false;
    }
    if (role === 'coordinator') this.coordinatorKills++;
    else this.workerKills++;
    this.say(`chaos: ${role} process ${victim.pid} killed`);
    return true;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.tick();
    if (this.armed) await unlink(this.crashFile).catch(() => undefined); // armed but never reached: no kill
    this.armed = false;
  }
}

export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const say = o.progress ?? (() => undefined);
  const started = Date.now();
  const plan = planSoak(o.jobs, o.seed);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ossferry-soak-'));
  const sourceDir = path.join(dir, 'source');
  const crashFile = path.join(dir, 'crash-at');
  await mkdir(sourceDir, { recursive: true });

  // Deliveries end in the gateway (after FC's retries); results may arrive before invoke() returns the id.
  const ended = new Map<string, AsyncResult>();
  const waiting = new Map<string, (r: AsyncResult) => void>();
  const onAsyncResult = (r: AsyncResult) => {
    const w = waiting.get(r.requestId);
    if (w) w(r);
    else ended.set(r.requestId, r);
  };
  const instanceLog = o.instanceLog ? createWriteStream(o.instanceLog, { flags: 'a' }) : undefined;
  const cloud = await startLocalCloud({
    ...(instanceLog ? { onInstanceOutput: (line: string, meta: { function: string; instanceId: string }) => instanceLog.write(`${meta.function}#${meta.instanceId} ${line}\n`) } : {}),
    sourceRoot: sourceDir,
    buckets: [DEST_BUCKET, SOURCE_BUCKET],
    workers: { maxInstances: 3, instanceConcurrency: 2 },
    coordinator: { maxInstances: 2, instanceConcurrency: 4, timeoutSeconds: 900 },
    coordinatorEnv: {
      OSSFERRY_TEST_HOOKS: '1',
      OSSFERRY_TEST_CRASH_FILE: crashFile,
      [FUNCTION_ENV.ARCHIVE_RULES]: JSON.stringify([RULE]),
    },
    onAsyncResult,
  });
  const chaos = new Chaos(crashFile, o.seed, Math.max(3, Math.round(o.jobs / 16)), say);
  try {
    const invoker = coordinatorInvoker(cloud.fc, cloud.fcCredentials, cloud.oss.region, 900, silentLogger);
    const deliver = async (payload: unknown): Promise<AsyncResult> => {
      const { requestId } = await invoker.invoke<{ requestId: string }>(cloud.serviceName, cloud.coordinatorFunction, payload, { async: true });
      const done = ended.get(requestId);
      if (done) return done;
      return new Promise((resolve) => waiting.set(requestId, resolve));
    };

    // Prepare, faults off: every source, and the objects the pre-existing jobs must not replace.
    const dest = cloud.ossClient(DEST_BUCKET);
    const prepared = [] as Array<{ job: SoakJob; where: Where; sha256: string; event?: unknown; preexistingSha256?: string }>;
    let bytes = 0;
    for (const job of plan) {
      const where = whereOf(job, cloud);
      const placed = await placeSource(job, where, cloud, sourceDir);
      let preexistingSha256: string | undefined;
      if (job.preexisting) {
        const other = Buffer.from(`not job ${job.index}'s output: it must stay as it is\n`);
        await dest.put(where.destinationKey, other);
        preexistingSha256 = createHash('sha256').update(other).digest('hex');
      }
      bytes += job.size;
      prepared.push({ job, where, ...placed, ...(preexistingSha256 ? { preexistingSha256 } : {}) });
    }
    say(`prepared ${plan.length} sources, ${(bytes / MiB).toFixed(1)} MiB`);

    // Act: jobs through the broken cloud, `concurrency` at a time.
    cloud.oss.setFaults(soakFaults(o.seed));
    chaos.start();
    const outcomes = new Map<number, AsyncResult[]>();
    let next = 0;
    let settled = 0;
    let deliveries = 0;
    const lane = async () => {
      for (;;) {
        const n = next++;
        if (n >= prepared.length) return;
        const p = prepared[n]!;
        await chaos.onSubmit(n);
        const payload = payloadOf(p.job, p.where, p.event);
        const runs = [deliver(payload)];
        if (p.job.duplicateAfterMs !== undefined) runs.push(sleep(p.job.duplicateAfterMs).then(() => deliver(payload)));
        deliveries += runs.length;
        const results = await Promise.all(runs);
        outcomes.set(p.job.index, results);
        settled++;
        say(`job ${p.job.index} (${p.job.kind}, ${p.job.size} B) settled: ${results.map((r) => (failedDelivery(r) ? `failed(${r.attempts})` : `ok(${r.attempts})`)).join(', ')} [${settled}/${prepared.length}]`);
      }
    };
    await Promise.all(Array.from({ length: o.concurrency ?? 6 }, lane));
    await chaos.stop();
    cloud.oss.setFaults({});
    const lostResponses = await lostResponsesSoFar(cloud);

    // Assess, faults off: what is left open before any sweep, then the sweep, then what OSS holds.
    const buckets = [DEST_BUCKET, SOURCE_BUCKET, LOCAL_DEFAULTS.statusBucket];
    const allOpen = async () => (await Promise.all(buckets.map(async (b) => (await openUploads(cloud.ossClient(b))).map((u) => `${b}/${u}`)))).flat();
    const beforeSweep = await allOpen();
    const statusStore = ossStatusStore(cloud.ossClient(LOCAL_DEFAULTS.statusBucket), parseStatusLocation(cloud.statusLocation));
    const swept = await sweepUploads({ status: statusStore, clientFor: (b) => cloud.ossClient(b), destinations: [{ bucket: DEST_BUCKET, prefix: 'soak/' }], olderThanMs: 0, abandonedAfterMs: 0, dryRun: false, logger: silentLogger });
    for (const d of swept.decisions.filter((x) => x.aborted)) say(`sweep aborted ${d.upload.bucket}/${d.upload.key} (${d.upload.uploadId}): ${d.reason}`);
    const result: SoakResult = {
      jobs: plan.length, correct: 0, cleanlyFailed: 0, lost: 0, corrupt: 0, orphanedUploads: 0, overwritten: 0,
      coordinatorKills: chaos.coordinatorKills, workerKills: chaos.workerKills, lostResponses,
      orphanedUploadsBeforeSweep: beforeSweep.length, sweptUploads: swept.aborted,
      bytes, seconds: 0, deliveries, byKind: {}, notCorrect: [], orphans: [], openBeforeSweep: beforeSweep,
    };
    for (const p of prepared) {
      const raw = p.preexistingSha256 !== undefined ? await sha256Of(dest, p.where.destinationKey, false) : undefined;
      const verdict = judge({
        // A pre-existing object is compared as it was written (it is not gzip); anything else as the job's output.
        destinationSha256: raw !== undefined && raw === p.preexistingSha256 ? raw : await sha256Of(dest, p.where.destinationKey, p.where.archive),
        sourceSha256: p.sha256,
        preexistingSha256: p.preexistingSha256,
        reportedFailure: (outcomes.get(p.job.index) ?? []).some(failedDelivery),
        uploadsLeft: (await openUploads(dest, p.where.destinationKey)).length,
      });
      result[verdict]++;
      const k = (result.byKind[p.job.kind] ??= {});
      k[verdict] = (k[verdict] ?? 0) + 1;
      if (verdict !== 'correct') {
        const failed = (outcomes.get(p.job.index) ?? []).filter(failedDelivery).at(-1);
        result.notCorrect.push({ index: p.job.index, kind: p.job.kind, size: p.job.size, verdict, preexisting: p.job.preexisting, destinationKey: p.where.destinationKey, ...(failed ? { lastError: failed.body.slice(0, 400) } : {}) });
      }
    }
    result.orphans = await allOpen();
    result.orphanedUploads = result.orphans.length;
    result.seconds = Math.round((Date.now() - started) / 100) / 10;
    return result;
  } finally {
    await chaos.stop();
    await cloud.close();
    instanceLog?.end();
    await rm(dir, { recursive: true, force: true });
  }
}
