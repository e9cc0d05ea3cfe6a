/**
 * The local cloud: local OSS + local FC gateway (coordinator and worker functions as child processes running
 * functions/main.ts, or external runtimes such as containers) + a local HTTP source with Range and ETag.
 * The programmatic entry behind `ossferry start`, `ossferry copy` (local mode), the integration tests,
 * `npm run bench:copy` and the image test. Everything binds 127.0.0.1.
 *
 * The wiring mirrors FC: functions get STS-style credentials through x-fc-* headers (the local OSS accepts
 * them), endpoints through env (OSSFERRY_OSS_ENDPOINT, OSSFERRY_FC_ENDPOINT), and the SSRF allow-list names
 * exactly 127.0.0.1 (OSSFERRY_ALLOWED_SOURCE_HOSTS) so the local source is reachable and nothing else private is.
 * The same allow-list admits a loopback SFTP server (local/sshd.ts); its private key and host keys reach the
 * functions through env (OSSFERRY_SFTP_PRIVATE_KEY, OSSFERRY_SFTP_HOST_KEYS) as the stack's secrets do in the cloud.
 *
 * `submitJob` runs copy and archive jobs (mode-aware report parsing); `submitOssEvent` hands the coordinator
 * an OSS trigger body exactly as the OSS trigger would (`{"events":[…]}`, asynchronously).
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import OSS from 'ali-oss';
import { FUNCTION_ENV, FUNCTION_LIFECYCLE } from '../shared/function-env.ts';
import { buildFunctionEnv, type FunctionEnvSpec } from '../shared/function-env-build.ts';
import type { JobSpecInput } from '../shared/job.ts';
import type { CancelledAnswer } from '../shared/job-control.ts';
import { OssferryError } from '../shared/errors.ts';
import { silentLogger, type Logger } from '../shared/log.ts';
import { createFcInvoker, type FcInvoker } from '../functions/invoke/invoker.ts';
import { parseJobReport, type ArchiveReport, type CopyReport } from '../shared/report.ts';
import type { OssEventResult } from '../functions/coordinator/trigger.ts';
import { ossStatusStore, parseStatusLocation, type JobStatus, type StatusStore } from '../functions/status/store.ts';
import { startFcGateway, type LocalFunctionSpec, type RunningFcGateway } from './fc/gateway.ts';
import { freePort } from './fc/instances.ts';
import type { AsyncResult, InstanceOutputMeta } from './fc/types.ts';
import { startHttpSourceServer, type HttpSourceServer, type HttpSourceShaping } from './http-source/index.ts';
import { startOssServer, type FaultConfig, type LocalOss } from './oss/index.ts';
import { startHttpSourceProcess, startOssServerProcess, type ServerProcessOptions } from './server-process.ts';
import { jobIdForSpec, jobProgress, type JobProgress } from '../functions/status/progress.ts';
import type { SourceDeps } from '../functions/sources/index.ts';
import { parseAllowList } from '../shared/ssrf.ts';

const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

export interface FunctionSizing {
  maxInstances: number;
  instanceConcurrency: number;
  memoryMb: number;
  timeoutSeconds: number;
}

/** Per-role environment the function instances need (what the Pulumi stack sets in the cloud). */
export interface LocalFunctionEnv {
  coordinator: Record<string, string>;
  worker: Record<string, string>;
}

export type LocalInstances =
  | 'process'
  | { coordinatorUrls: string[]; workerUrls: string[] }
  /** Called with each role's environment before the gateway starts (e.g. to start containers with it). */
  | ((env: LocalFunctionEnv) => Promise<{ coordinatorUrls: string[]; workerUrls: string[] }>);

export interface LocalCloudOptions {
  /** Local OSS data directory (kept); default: a temp dir removed on close. */
  dataDir?: string;
  /** Directory the HTTP source serves files from (URL path = file path). */
  sourceRoot?: string;
  workers?: Partial<FunctionSizing>;
  coordinator?: Partial<FunctionSizing>;
  instances?: LocalInstances;
  /** Buckets to create. Default ["ossferry"]; the status bucket is added. */
  buckets?: string[];
  /** Time to first byte and a per-connection cap for the HTTP source (bench:copy's latency-bound case). */
  sourceShaping?: HttpSourceShaping;
  /** Faults for the local OSS from the start (also `cloud.oss.setFaults`). */
  ossFaults?: FaultConfig;
  /** The STS credentials the functions get (default: generated), e.g. for a second OSS a test runs beside the local one. */
  functionCredentials?: { accessKeyId: string; accessKeySecret: string; securityToken: string };
  /** Extra environment for every function instance. */
  functionEnv?: Record<string, string>;
  /** The outcome of each asynchronous invocation once FC's retries are over (the gateway's onAsyncResult). */
  onAsyncResult?: (result: AsyncResult) => void;
  /** Lines written by function instances. Default: dropped unless OSSFERRY_VERBOSE=1 (then stderr). */
  onInstanceOutput?: (line: string, meta: InstanceOutputMeta) => void;
  logger?: Logger;
  /** fsync in the local OSS (default false here: tests and benchmarks measure ossferry, not the disk). */
  fsync?: boolean;
  /**
   * SFTP settings for the functions' env: the private key (OSSFERRY_SFTP_PRIVATE_KEY, a stack secret in the
   * cloud) and host[:port] → `SHA256:…` pins (OSSFERRY_SFTP_HOST_KEYS). Loopback SFTP servers are reachable
   * through the same allow-list as the HTTP source (127.0.0.1).
   */
  sftp?: { privateKey: string; hostKeys?: Record<string, string> };
  /**
   * The deployment's job defaults, as stack config `transfer.*` sets them (OSSFERRY_PART_SIZE_BYTES,
   * OSSFERRY_STREAMS_PER_WORKER, OSSFERRY_GZIP_LEVEL on the coordinator); explicit job options win.
   */
  transfer?: FunctionEnvSpec['transfer'];
  /** The deployment's destination object defaults, as stack config `object.*` sets them (OSSFERRY_OBJECT_DEFAULTS). */
  objectDefaults?: FunctionEnvSpec['objectDefaults'];
  /** Extra environment for the coordinator only (e.g. OSSFERRY_ARCHIVE_RULES for trigger events). */
  coordinatorEnv?: Record<string, string>;
  /**
   * Run the local OSS and the HTTP source (needs `sourceRoot`) each in a child process of its own, so they do
   * not share this process's event loop (bench:copy). Default false: in-process (faults/counters available).
   */
  serverProcesses?: boolean | ServerProcessOptions;
}

/** Progress of a running job (archive jobs carry input and compressed bytes: JobProgress.archive). */
export type LocalJobProgress = JobProgress;

/** What the coordinator answered: a copy report or an archive report. */
export type JobReport = ({ kind: 'copy' } & CopyReport) | ({ kind: 'archive' } & ArchiveReport);

export interface SubmitOptions {
  /** Called about every `pollMs` with live progress (status object + ListParts). */
  onProgress?: (p: LocalJobProgress) => void;
  pollMs?: number;
  signal?: AbortSignal;
}

export interface LocalCloud {
  oss: LocalOss;
  fc: RunningFcGateway;
  httpSource: HttpSourceServer;
  /** Default data bucket ("ossferry"). */
  bucket: string;
  /** oss://bucket/prefix where status objects live. */
  statusLocation: string;
  serviceName: string;
  coordinatorFunction: string;
  workerFunction: string;
  /** The env given to each role's instances. */
  functionEnv: LocalFunctionEnv;
  /** The key pair (and STS token) the FC gateway accepts: what an fc2 client outside needs to invoke. */
  fcCredentials: { accessKeyId: string; accessKeySecret: string; securityToken: string };
  /** An ali-oss client for a bucket of the local OSS (the main credentials). */
  ossClient(bucket?: string): OSS;
  /**
   * Runs a job on the coordinator (sync fc2 invoke) and returns its verified report, parsed by the job's
   * mode (copy → CopyReport, archive → ArchiveReport); throws on failure.
   */
  submitJob(spec: JobSpecInput & { mode: 'archive' }, opts?: SubmitOptions): Promise<ArchiveReport>;
  submitJob(spec: JobSpecInput & { mode?: 'copy' }, opts?: SubmitOptions): Promise<CopyReport>;
  submitJob(spec: JobSpecInput, opts?: SubmitOptions): Promise<CopyReport | ArchiveReport>;
  /** Like submitJob, with the report tagged by kind. */
  submit(spec: JobSpecInput, opts?: SubmitOptions): Promise<JobReport>;
  /** Hands the coordinator an OSS trigger event body (sync fc2 invoke), as the OSS trigger does. */
  submitOssEvent(body: unknown, opts?: { signal?: AbortSignal }): Promise<OssEventResult>;
  statusOf(jobId: string): Promise<JobStatus | undefined>;
  progressOf(jobId: string): Promise<JobProgress | undefined>;
  close(): Promise<void>;
}

export const LOCAL_DEFAULTS = Object.freeze({
  accountId: '1234567890123456',
  serviceName: 'ossferry',
  coordinatorFunction: 'coordinator',
  workerFunction: 'worker',
  bucket: 'ossferry',
  statusBucket: 'ossferry-status',
  statusPrefix: 'jobs',
  // One worker instance per core: a real FC instance brings its own vCPUs, but on one box extra worker processes
  // only share the same cores (measured with bench:copy, 2 GiB on 2 cores: worker CPU 4.8 ns/B at 4 workers × 8
  // streams, 2.5 ns/B at fewer, fatter workers; 1.33× vs 1.75× ali-oss's default). Streams carry the parallelism.
  workers: { maxInstances: Math.max(2, os.availableParallelism()), instanceConcurrency: 1, memoryMb: 2048, timeoutSeconds: 600 } satisfies FunctionSizing,
  /**
   * Parallel part streams per local worker (job spec streamsPerWorker). Measured with bench:copy on 2 cores once
   * the worker's hot path stopped copying (2 GiB, 3 rounds): 2 × 8 streams 786 MB/s, peak worker RSS 288 MiB;
   * 2 × 16 streams 746 MB/s, 421 MiB (same ratio to the ceiling, 0.65 vs 0.64); 1 GiB sweeps agreed (2 × 8 ≥ 2 × 16 ≥ 2 × 32).
   */
  streamsPerWorker: 8,
  coordinator: { maxInstances: 2, instanceConcurrency: 4, memoryMb: 512, timeoutSeconds: 3600 } satisfies FunctionSizing,
});

/** Invoker for the local coordinator: fc2's timeout must exceed the coordinator's (it is a total per-call deadline). */
export function coordinatorInvoker(fc: Pick<RunningFcGateway, 'endpoint' | 'accountId'>, keys: { accessKeyId: string; accessKeySecret: string; securityToken?: string }, region: string, timeoutSeconds: number, logger: Logger): FcInvoker {
  return createFcInvoker({
    accountId: fc.accountId,
    region,
    endpoint: fc.endpoint,
    accessKeyId: keys.accessKeyId,
    accessKeySecret: keys.accessKeySecret,
    ...(keys.securityToken !== undefined ? { securityToken: keys.securityToken } : {}),
    timeoutMs: (timeoutSeconds + 30) * 1000,
    logger,
    // A job invocation is not retried blindly on a function error; 429/5xx are (the job id makes it resume).
    retry: { maxAttempts: 3 },
  });
}

export async function startLocalCloud(options: LocalCloudOptions = {}): Promise<LocalCloud> {
  const logger = options.logger ?? silentLogger;
  const workers: FunctionSizing = { ...LOCAL_DEFAULTS.workers, ...options.workers };
  const coordinator: FunctionSizing = { ...LOCAL_DEFAULTS.coordinator, ...options.coordinator };
  const bucket = options.buckets?.[0] ?? LOCAL_DEFAULTS.bucket;
  const sts = options.functionCredentials ?? { accessKeyId: `STS.${randomBytes(8).toString('hex')}`, accessKeySecret: randomBytes(15).toString('base64url'), securityToken: randomBytes(24).toString('base64url') };
  // One key pair for the gateway and the functions' role: the coordinator signs its worker invocations with the
  // STS credentials FC hands it, as in the cloud, and the local gateway knows a single key pair.
  const fcKeys = { accessKeyId: sts.accessKeyId, accessKeySecret: sts.accessKeySecret };
  const cleanups: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };
  try {
    if (options.dataDir) await mkdir(options.dataDir, { recursive: true });
    const ossOptions = {
      ...(options.dataDir ? { dataDir: options.dataDir } : {}),
      sts,
      buckets: [...new Set([...(options.buckets ?? [bucket]), LOCAL_DEFAULTS.statusBucket])],
      fsync: options.fsync ?? false,
      ...(options.ossFaults ? { faults: options.ossFaults } : {}),
    };
    const sp = options.serverProcesses === true ? {} : options.serverProcesses || undefined;
    const oss = sp ? await startOssServerProcess(ossOptions, sp) : await startOssServer(ossOptions);
    cleanups.push(() => oss.close());
    const httpSource =
      sp && options.sourceRoot
        ? await startHttpSourceProcess({ root: options.sourceRoot, ...options.sourceShaping }, sp)
        : await startHttpSourceServer({ ...(options.sourceRoot ? { root: options.sourceRoot } : {}), ...options.sourceShaping });
    cleanups.push(() => httpSource.close());

    const fcPort = await freePort('127.0.0.1');
    const fcEndpoint = `http://127.0.0.1:${fcPort}`;
    const statusLocation = `oss://${LOCAL_DEFAULTS.statusBucket}/${LOCAL_DEFAULTS.statusPrefix}`;
    // The same builder as the stack's (infra/env.ts), with the local servers' endpoints.
    const envSpec: FunctionEnvSpec = {
      serviceName: LOCAL_DEFAULTS.serviceName,
      workerFunction: LOCAL_DEFAULTS.workerFunction,
      accountId: LOCAL_DEFAULTS.accountId,
      region: oss.region,
      statusLocation,
      maxWorkers: workers.maxInstances * workers.instanceConcurrency,
      workerTimeoutSeconds: workers.timeoutSeconds,
      // Exactly the loopback address the local source listens on: other private/metadata addresses stay refused.
      allowedSourceHosts: ['127.0.0.1'],
      ...(process.env[FUNCTION_ENV.LOG_LEVEL] ? { logLevel: process.env[FUNCTION_ENV.LOG_LEVEL]! } : {}),
      ...(options.transfer ? { transfer: options.transfer } : {}),
      ...(options.objectDefaults ? { objectDefaults: options.objectDefaults } : {}),
      ...(options.sftp ? { sftpPrivateKey: options.sftp.privateKey } : {}),
      ...(options.sftp?.hostKeys ? { sftpHostKeys: options.sftp.hostKeys } : {}),
      endpoints: { fc: fcEndpoint, oss: oss.endpoint },
    };
    const functionEnv: LocalFunctionEnv = {
      coordinator: {
        ...buildFunctionEnv(envSpec, 'coordinator'),
        // A killed local coordinator's job is taken over within seconds (the stack keeps the 30 s default).
        [FUNCTION_ENV.LEASE_TTL_SECONDS]: '5',
        ...options.functionEnv,
        ...options.coordinatorEnv,
      },
      worker: { ...buildFunctionEnv(envSpec, 'worker'), ...options.functionEnv },
    };
    const inst = options.instances ?? 'process';
    const urls = typeof inst === 'function' ? await inst(functionEnv) : inst === 'process' ? undefined : inst;
    const processInstances = { kind: 'process' as const, command: process.execPath, args: ['functions/main.ts'], cwd: REPO_ROOT };
    const spec = (name: string, sizing: FunctionSizing, env: Record<string, string>, external: string[] | undefined): LocalFunctionSpec => ({
      serviceName: LOCAL_DEFAULTS.serviceName,
      functionName: name,
      ...sizing,
      env,
      // The stack's instanceLifecycleConfig (infra/transfer-service.ts): pre-stop only.
      lifecycle: { preStop: { timeoutSeconds: FUNCTION_LIFECYCLE.preStopTimeoutSeconds } },
      idleTimeoutMs: 120_000,
      instances: external ? { kind: 'external', urls: external } : processInstances,
    });
    const verbose = process.env.OSSFERRY_VERBOSE === '1';
    const fc = await startFcGateway({
      accountId: LOCAL_DEFAULTS.accountId,
      accessKeyId: fcKeys.accessKeyId,
      accessKeySecret: fcKeys.accessKeySecret,
      region: oss.region,
      port: fcPort,
      credentialsForFunctions: sts,
      logger,
      ...(options.onAsyncResult ? { onAsyncResult: options.onAsyncResult } : {}),
      onInstanceOutput:
        options.onInstanceOutput ??
        ((line, meta) => {
          if (verbose) process.stderr.write(`[${meta.function}#${meta.instanceId}] ${line}\n`);
        }),
      functions: [
        spec(LOCAL_DEFAULTS.coordinatorFunction, coordinator, functionEnv.coordinator, urls?.coordinatorUrls),
        spec(LOCAL_DEFAULTS.workerFunction, workers, functionEnv.worker, urls?.workerUrls),
      ],
    });
    cleanups.push(() => fc.close());

    const clients = new Map<string, OSS>();
    const ossClient = (b: string = bucket): OSS => {
      let c = clients.get(b);
      if (!c) {
        c = new OSS({ ...oss.clientOptions(b), retryMax: 0 } as OSS.Options);
        clients.set(b, c);
      }
      return c;
    };
    const statusStore: StatusStore = ossStatusStore(ossClient(LOCAL_DEFAULTS.statusBucket), parseStatusLocation(statusLocation));
    const invoker = coordinatorInvoker(fc, sts, oss.region, coordinator.timeoutSeconds, logger);
    const submit = async (jobSpec: JobSpecInput, opts: SubmitOptions = {}): Promise<JobReport> => {
      const archive = jobSpec.mode === 'archive';
      const read = (jobId: string) => jobProgress(statusStore, ossClient, jobId);
      // The host stats the source to learn the job id, with the functions' SFTP settings (same key, same pins).
      const sourceDeps = {
        allow: parseAllowList('127.0.0.1'),
        env: functionEnv.coordinator,
        ...(jobSpec.sftpHostKeyFingerprint !== undefined ? { hostKeyFingerprint: jobSpec.sftpHostKeyFingerprint } : {}),
      };
      const poll = opts.onProgress ? startProgressPoller(jobSpec, sourceDeps, read, opts.onProgress, opts.pollMs ?? 500) : undefined;
      try {
        const raw = await invoker.invoke<unknown>(LOCAL_DEFAULTS.serviceName, LOCAL_DEFAULTS.coordinatorFunction, jobSpec, opts.signal ? { signal: opts.signal } : {});
        // A cancelled job answers successfully (so FC does not retry it); to a caller waiting for a report it is a failure.
        if ((raw as Partial<CancelledAnswer> | null)?.kind === 'cancelled') throw new OssferryError('JobCancelled', (raw as CancelledAnswer).message);
        const report = parseJobReport(raw);
        if (report.mode !== (archive ? 'archive' : 'copy')) throw new Error(`the coordinator answered a ${report.mode} report for a ${archive ? 'archive' : 'copy'} job`);
        return { kind: report.mode, ...report } as JobReport;
      } finally {
        await poll?.stop();
      }
    };

    return {
      oss,
      fc,
      httpSource,
      bucket,
      statusLocation,
      serviceName: LOCAL_DEFAULTS.serviceName,
      coordinatorFunction: LOCAL_DEFAULTS.coordinatorFunction,
      workerFunction: LOCAL_DEFAULTS.workerFunction,
      functionEnv,
      fcCredentials: { ...sts },
      ossClient,
      submitJob: (async (jobSpec: JobSpecInput, opts: SubmitOptions = {}) => {
        const r = await submit(jobSpec, opts);
        const { kind: _kind, ...report } = r;
        return report;
      }) as LocalCloud['submitJob'],
      submit,
      async submitOssEvent(body, opts = {}) {
        return invoker.invoke<OssEventResult>(LOCAL_DEFAULTS.serviceName, LOCAL_DEFAULTS.coordinatorFunction, body, opts.signal ? { signal: opts.signal } : {});
      },
      statusOf: (jobId) => statusStore.read(jobId),
      progressOf: (jobId) => jobProgress(statusStore, ossClient, jobId),
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/**
 * Polls progress while a job runs. The job id is computed the way the coordinator does (source stat +
 * destination, functions/status/progress.ts); when this host cannot stat the source, there is no progress.
 */
function startProgressPoller(
  spec: JobSpecInput,
  sourceDeps: SourceDeps,
  read: (jobId: string) => Promise<LocalJobProgress | undefined>,
  onProgress: (p: LocalJobProgress) => void,
  pollMs: number,
): { stop(): Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    const jobId = await jobIdForSpec(spec, sourceDeps).catch(() => undefined);
    if (jobId === undefined) return;
    while (!stopped) {
      const p = await read(jobId).catch(() => undefined);
      if (p && !stopped) onProgress(p);
      await new Promise<void>((r) => {
        wake = r;
        timer = setTimeout(r, pollMs);
      });
    }
  })();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      wake?.();
      await loop.catch(() => undefined);
    },
  };
}
