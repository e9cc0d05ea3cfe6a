/**
 * `ossferry plan <source> <destination>`: before any upload, what a copy would do and cost. The source is
 * opened and stat'ed through the coordinator's own code (functions/sources openSource: SSRF screening, host key
 * pins, the same size and identity), optionally probed with a few ranged reads for its per-connection
 * throughput; the prediction is the pure model in shared/model on the planner's parts and tasks. Nothing is
 * written anywhere: no multipart upload is started and the destination is not contacted.
 *
 * Local cloud (default): loopback sources are allowed exactly as the local cloud allows them (127.0.0.1), a
 * local file is served by a local HTTP source as `ossferry copy` does, oss:// sources read a local cloud's
 * --data-dir. Deployment (--oss-region/--oss-endpoint): oss:// sources use the credentials from the
 * environment, the allow-list is the functions' (env OSSFERRY_ALLOWED_SOURCE_HOSTS). The model uses the
 * deployment's region settings (--region, worker size, quota).
 */
import { stat as fsStat } from 'node:fs/promises';
import type { Command } from 'commander';
import path from 'node:path';
import { InvalidInputError, OssferryError } from '../shared/errors.ts';
import { FUNCTION_ENV } from '../shared/function-env.ts';
import { parseOssUrl } from '../shared/job.ts';
import { parseSource } from '../shared/sources.ts';
import { formatRate, MODEL_DEFAULTS, predict, resolveParams, type ModelInput, type Prediction, type SourceKind } from '../shared/model/index.ts';
import { openSource } from '../functions/sources/index.ts';
import { allowListFromEnv } from '../functions/sources/screen.ts';
import type { RangeSource, SourceIdentity } from '../functions/sources/types.ts';
import { startHttpSourceServer, type HttpSourceServer } from '../local/http-source/index.ts';
import { formatBytes, parseSize } from './args.ts';
import { localSourcePath, readSftpKey } from './commands.ts';
import { ossAccess, type OssAccess } from './oss-access.ts';

export interface PlanOptions {
  json?: boolean;
  region?: string;
  partSize?: string;
  workers?: string;
  streams?: string;
  instanceQuota?: string;
  workerVcpu?: string;
  workerMemoryMb?: string;
  accountGbps?: string;
  instanceGbps?: string;
  connectionRate?: string;
  requestLatency?: string;
  startupSeconds?: string;
  connectionRamp?: string;
  probe?: boolean;
  probeReads?: string;
  probeSize?: string;
  sourceRegion?: string;
  sourceEndpoint?: string;
  dataDir?: string;
  ossEndpoint?: string;
  ossRegion?: string;
  sftpKeyFile?: string;
  sftpHostKey?: string;
}

/** Model parameter → the flag that sets it (errors name both). */
const FLAG_OF: Partial<Record<keyof ModelInput, string>> = {
  region: '--region',
  sourceRegion: '--source-region',
  partSize: '--part-size',
  workers: '--workers',
  streamsPerWorker: '--streams',
  instanceQuota: '--instance-quota',
  workerVcpu: '--worker-vcpu',
  workerMemoryGb: '--worker-memory-mb',
  accountGbps: '--account-gbps',
  instanceGbps: '--instance-gbps',
  connectionBytesPerSecond: '--connection-rate',
  requestLatencySeconds: '--request-latency',
  startupSeconds: '--startup-seconds',
  connectionRampSeconds: '--connection-ramp',
};

const out = (s: string) => process.stdout.write(s + '\n');

function parseNumber(flag: string, text: string): number {
  const n = Number(text);
  if (!/^\s*-?[0-9]+(\.[0-9]+)?\s*$/.test(text) || !Number.isFinite(n)) {
    throw new InvalidInputError(flag, `${JSON.stringify(text)} is not a number`, `pass a decimal number, e.g. ${flag} 2`);
  }
  return n;
}

/** A model refusal (InvalidInputError naming a model parameter) restated with the flag that set it. */
function withFlag(e: unknown): unknown {
  if (!(e instanceof InvalidInputError)) return e;
  const flag = FLAG_OF[e.field as keyof ModelInput];
  if (!flag) return e;
  const m = /^[^:]+: (.*)\. Fix: (.*)$/s.exec(e.message);
  return m ? new InvalidInputError(flag, `(${e.field}) ${m[1]}`, m[2]!, { cause: e }) : e;
}

/** The model input the flags describe (size and source kind filled in later); origin says which flag set what. */
export function modelInputFromFlags(o: PlanOptions): { input: Omit<ModelInput, 'size' | 'sourceKind'>; origin: Partial<Record<keyof ModelInput, string>> } {
  const input: Omit<ModelInput, 'size' | 'sourceKind'> = {};
  const origin: Partial<Record<keyof ModelInput, string>> = {};
  const set = <K extends keyof ModelInput>(k: K, v: ModelInput[K]) => {
    (input as ModelInput)[k] = v;
    origin[k] = `set by ${FLAG_OF[k]}`;
  };
  const region = o.region ?? o.ossRegion;
  if (region !== undefined) {
    set('region', region);
    if (o.region === undefined) origin.region = 'from --oss-region';
  }
  if (o.sourceRegion !== undefined) set('sourceRegion', o.sourceRegion);
  if (o.partSize !== undefined) set('partSize', o.partSize === 'auto' ? 'auto' : parseSize('--part-size', o.partSize));
  if (o.workers !== undefined) set('workers', o.workers === 'auto' ? 'auto' : parseNumber('--workers', o.workers));
  if (o.streams !== undefined) set('streamsPerWorker', parseNumber('--streams', o.streams));
  if (o.instanceQuota !== undefined) set('instanceQuota', parseNumber('--instance-quota', o.instanceQuota));
  if (o.workerVcpu !== undefined) set('workerVcpu', parseNumber('--worker-vcpu', o.workerVcpu));
  if (o.workerMemoryMb !== undefined) set('workerMemoryGb', parseNumber('--worker-memory-mb', o.workerMemoryMb) / 1024);
  if (o.accountGbps !== undefined) set('accountGbps', parseNumber('--account-gbps', o.accountGbps));
  if (o.instanceGbps !== undefined) set('instanceGbps', parseNumber('--instance-gbps', o.instanceGbps));
  if (o.connectionRate !== undefined) set('connectionBytesPerSecond', parseSize('--connection-rate', o.connectionRate.replace(/\/s$/i, '')));
  if (o.requestLatency !== undefined) set('requestLatencySeconds', parseNumber('--request-latency', o.requestLatency));
  if (o.startupSeconds !== undefined) set('startupSeconds', parseNumber('--startup-seconds', o.startupSeconds));
  if (o.connectionRamp !== undefined) set('connectionRampSeconds', parseNumber('--connection-ramp', o.connectionRamp));
  return { input, origin };
}

export interface ProbeResult {
  reads: number;
  bytes: number;
  /** All reads, first bytes included. */
  seconds: number;
  /** After the first byte: the per-connection throughput. */
  bytesPerSecond: number;
  /** Median time to the first byte of a read. */
  firstByteSeconds: number;
}

/**
 * Per-connection throughput: `reads` ranged reads one after another (one connection at a time, as one worker
 * stream reads), spread evenly over the source, each through `read()` pinned to the stat'ed identity.
 */
export async function probeSource(source: RangeSource, identity: SourceIdentity, reads: number, readSize: number): Promise<ProbeResult | undefined> {
  if (identity.size === 0) return undefined;
  const n = Math.max(1, Math.min(reads, identity.size));
  const len = Math.min(readSize, Math.floor(identity.size / n));
  const firstBytes: number[] = [];
  let bytes = 0;
  let seconds = 0;
  let firstByteTotal = 0;
  for (let i = 0; i < n; i++) {
    const start = Math.floor(((identity.size - len) * i) / Math.max(1, n - 1));
    const t0 = process.hrtime.bigint();
    const stream = await source.read(start, start + len, identity);
    let first: number | undefined;
    for await (const chunk of stream) {
      first ??= Number(process.hrtime.bigint() - t0) / 1e9;
      bytes += (chunk as Buffer).length;
    }
    seconds += Number(process.hrtime.bigint() - t0) / 1e9;
    firstBytes.push(first ?? 0);
    firstByteTotal += first ?? 0;
  }
  firstBytes.sort((a, b) => a - b);
  // The first byte is the model's request latency; the rate is what follows it (the model adds both).
  const streaming = Math.max(seconds - firstByteTotal, 1e-6);
  return { reads: n, bytes, seconds, bytesPerSecond: bytes / streaming, firstByteSeconds: firstBytes[Math.floor(firstBytes.length / 2)]! };
}

/** The model's source kind: a local file (path or file:// URL) is planned as the local HTTP source serving it. */
function sourceKindOf(url: string): SourceKind {
  const d = localSourcePath(url) === undefined ? parseSource(url) : undefined;
  return d === undefined || 'problem' in d || d.kind === 'file' ? 'http' : d.kind;
}

export interface PlanReport {
  source: { url: string; kind: SourceKind; size: number; etag?: string; crc64?: string };
  destination: string;
  probe?: ProbeResult;
  prediction: Prediction;
  local: boolean;
}

export function planReportToJson(r: PlanReport): Record<string, unknown> {
  const { time, cost, params, assumptions } = r.prediction;
  return {
    kind: 'plan',
    source: r.source,
    destination: r.destination,
    environment: r.local ? 'local cloud' : 'deployment',
    ...(r.probe ? { probe: r.probe } : {}),
    size: r.source.size,
    partSize: time.plan.partSize,
    parts: time.plan.parts.length,
    tasks: time.plan.tasks.length,
    workers: time.workers,
    streamsPerWorker: params.streamsPerWorker,
    connections: time.connections,
    predicted: {
      seconds: time.seconds,
      startupSeconds: time.startupSeconds,
      transferSeconds: time.transferSeconds,
      finishSeconds: time.finishSeconds,
      floorSeconds: time.floorSeconds,
      bytesPerSecond: time.aggregateBytesPerSecond,
      bottleneck: time.bottleneck,
    },
    cost,
    assumptions,
    uploaded: false,
  };
}

export function printPlan(r: PlanReport, json = false): void {
  if (json) {
    out(JSON.stringify(planReportToJson(r)));
    return;
  }
  const { time, cost, params, assumptions } = r.prediction;
  const rows: Array<[string, string]> = [
    ['source', `${r.source.url} (${r.source.kind}), ${r.source.size} bytes (${formatBytes(r.source.size)})${r.source.etag ? `, ETag ${r.source.etag}` : ''}`],
    ['destination', r.destination],
  ];
  if (r.probe) rows.push(['probe', `${r.probe.reads} ranged read(s), ${formatBytes(r.probe.bytes)}: ${formatRate(r.probe.bytesPerSecond)} per connection, first byte ${(r.probe.firstByteSeconds * 1000).toFixed(1)} ms`]);
  rows.push(
    ['parts', `${time.plan.parts.length} × ${formatBytes(time.plan.partSize)}`],
    ['tasks', `${time.plan.tasks.length} (one per worker invocation)`],
    ['workers', `${time.workers} (fan-out cap ${time.fanOutCap}: --workers ${params.workers}, instance quota ${params.instanceQuota} minus the coordinator)`],
    ['streams', `${params.streamsPerWorker} per worker, ${time.connections} source connections in all`],
    ['time', `${time.seconds.toFixed(2)} s predicted = start-up ${time.startupSeconds.toFixed(2)} s + transfer ${time.transferSeconds.toFixed(2)} s + finish ${time.finishSeconds.toFixed(2)} s; limited by ${time.bottleneck}`],
    ['floor', `${time.floorSeconds.toFixed(2)} s (size ÷ ${params.accountGbps} Gbit/s OSS upload bandwidth of the account)`],
    ['compute', `$${cost.computeUsd.toFixed(6)}: ${cost.vcpuSeconds.toFixed(1)} vCPU-s, ${cost.gbSeconds.toFixed(1)} GB-s, ${cost.invocations} invocations (${cost.computeUnits.toFixed(1)} CU)`],
    ['requests', `$${cost.requestsUsd.toFixed(6)}: ${cost.ossPutRequests} PUT-type, ${cost.ossGetRequests} GET-type OSS requests`],
    ['egress', `$${cost.egressUsd.toFixed(4)}: ${cost.egressGB.toFixed(3)} GB, billed by ${cost.egressBilledBy}`],
    ['total', `$${cost.totalUsd.toFixed(4)}`],
  );
  const w = Math.max(...rows.map(([k]) => k.length));
  out('');
  for (const [k, v] of rows) out(`  ${k.padEnd(w)}  ${v}`);
  out('');
  out('  assumptions:');
  const aw = Math.max(...assumptions.map((a) => a.name.length));
  for (const a of assumptions) out(`    ${a.name.padEnd(aw)}  ${a.value} — ${a.basis}`);
  out('');
  out('  nothing was uploaded: no multipart upload was started and the destination was not contacted');
}

/** `ossferry plan <source> <destination>`. */
export async function planCommand(source: string, destination: string, o: PlanOptions): Promise<number> {
  // Every flag is checked before the source is contacted.
  const dest = parseOssUrl(destination);
  if (typeof dest === 'string') throw new InvalidInputError('destination', `${JSON.stringify(destination)} ${dest}`, 'use oss://bucket/key');
  const { input, origin } = modelInputFromFlags(o);
  const kind = sourceKindOf(source);
  if (kind === 'oss' && input.sourceRegion === undefined && o.ossRegion !== undefined) {
    // A deployment's oss:// source is read in --oss-region: egress is billed when that is not the model's region.
    input.sourceRegion = o.ossRegion;
    origin.sourceRegion = 'from --oss-region';
  }
  try {
    resolveParams({ ...input, size: 0, sourceKind: kind });
  } catch (e) {
    throw withFlag(e);
  }
  const probeReads = o.probeReads !== undefined ? parseNumber('--probe-reads', o.probeReads) : 3;
  if (!Number.isInteger(probeReads) || probeReads < 1 || probeReads > 16) throw new InvalidInputError('--probe-reads', `must be a whole number between 1 and 16, got ${o.probeReads}`, 'pass e.g. --probe-reads 3');
  const probeSize = o.probeSize !== undefined ? parseSize('--probe-size', o.probeSize) : 4 * 1024 * 1024;
  if (probeSize < 1 || probeSize > 256 * 1024 * 1024) throw new InvalidInputError('--probe-size', `must be 1 B..256 MiB, got ${o.probeSize}`, 'pass e.g. --probe-size 4MiB');
  if ((o.probeReads !== undefined || o.probeSize !== undefined) && !o.probe) throw new InvalidInputError(o.probeReads !== undefined ? '--probe-reads' : '--probe-size', 'only applies with --probe', 'add --probe, or remove the flag');
  const local = o.ossEndpoint === undefined && o.ossRegion === undefined;
  let privateKey: string | undefined;
  if (kind === 'sftp') {
    if (o.sftpKeyFile === undefined) throw new InvalidInputError('--sftp-key-file', 'is required for sftp:// sources', "pass the SSH private key file whose public key is in the server's authorized_keys");
    if (o.sftpHostKey === undefined) throw new InvalidInputError('--sftp-host-key', 'is required for sftp:// sources', 'pass the server host key fingerprint (SHA256:…) as `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` prints it on the server');
    privateKey = await readSftpKey(o.sftpKeyFile);
  } else {
    if (o.sftpKeyFile !== undefined) throw new InvalidInputError('--sftp-key-file', 'only applies to sftp:// sources', 'remove it');
    if (o.sftpHostKey !== undefined) throw new InvalidInputError('--sftp-host-key', 'only applies to sftp:// sources', 'remove it');
  }
  if (kind !== 'oss' && (o.sourceRegion !== undefined || o.sourceEndpoint !== undefined)) {
    throw new InvalidInputError(o.sourceRegion !== undefined ? '--source-region' : '--source-endpoint', 'only applies to oss:// sources', 'remove it');
  }

  if (kind === 'oss' && local && o.dataDir === undefined) {
    throw new InvalidInputError('--data-dir', 'is required for oss:// sources on the local cloud', 'pass the local cloud data directory (as given to ossferry copy --data-dir), or --oss-region / --oss-endpoint for a deployment');
  }

  let httpServer: HttpSourceServer | undefined;
  let access: OssAccess | undefined;
  let src: RangeSource | undefined;
  let url = source;
  try {
    const full = localSourcePath(source);
    if (full !== undefined) {
      // A local file: served by a local HTTP source, as `ossferry copy` does on the local cloud.
      if (!local) throw new InvalidInputError('source', `${JSON.stringify(source)} is a local file`, 'a deployment reads http(s)://, oss:// or sftp:// sources');
      const st = await fsStat(full).catch(() => undefined);
      if (!st?.isFile()) throw new InvalidInputError('source', `${JSON.stringify(source)} is neither a URL nor a readable file`, 'pass an http(s):// URL, oss://bucket/key, sftp://user@host/path or a local file');
      httpServer = await startHttpSourceServer({ root: path.dirname(full) });
      url = httpServer.url('/' + encodeURIComponent(path.basename(full)));
    }
    if (kind === 'oss') access = await ossAccess(o, 'ossferry copy --data-dir');
    // The local cloud admits exactly 127.0.0.1, as its functions do; a deployment's allow-list is the functions' env.
    const allow = allowListFromEnv(process.env, local ? '127.0.0.1' : undefined);
    src = openSource(url, {
      allow,
      env: privateKey !== undefined ? { [FUNCTION_ENV.SFTP_PRIVATE_KEY]: privateKey } : {},
      ...(access ? { ossClientFor: (bucket: string) => access!.client(bucket) } : {}),
      ...(kind === 'oss' ? { oss: { ...(o.sourceEndpoint ? { endpoint: o.sourceEndpoint } : {}), ...(o.sourceRegion ? { region: o.sourceRegion } : {}) } } : {}),
      ...(o.sftpHostKey !== undefined ? { hostKeyFingerprint: o.sftpHostKey } : {}),
    });
    const identity = await src.stat();
    const probe = o.probe ? await probeSource(src, identity, probeReads, probeSize) : undefined;
    const modelInput: ModelInput = { ...input, size: identity.size, sourceKind: kind };
    if (probe) {
      modelInput.connectionBytesPerSecond = Math.min(12.5e9, probe.bytesPerSecond);
      origin.connectionBytesPerSecond = `measured: ${probe.reads} ranged read(s) of ${formatBytes(probe.bytes / probe.reads)} from this machine`;
      if (o.requestLatency === undefined) {
        modelInput.requestLatencySeconds = probe.firstByteSeconds;
        origin.requestLatencySeconds = 'measured: median first byte of the probe reads (the UploadPart round trip is not included)';
      }
    }
    let prediction: Prediction;
    try {
      prediction = predict(modelInput, origin);
    } catch (e) {
      throw withFlag(e);
    }
    const report: PlanReport = {
      source: {
        url: src.displayUrl,
        kind,
        size: identity.size,
        ...(identity.etag !== undefined ? { etag: identity.etag } : {}),
        ...(identity.crc64 !== undefined ? { crc64: identity.crc64.toString(10) } : {}),
      },
      destination,
      ...(probe ? { probe } : {}),
      prediction,
      local,
    };
    printPlan(report, o.json);
    return 0;
  } catch (e) {
    // A refused source (SSRF screening, bad URL) is bad input: exit 2; an unreachable one exits 1.
    const refused = e instanceof InvalidInputError;
    const code = e instanceof OssferryError ? e.code : ((e as NodeJS.ErrnoException)?.code ?? 'Error');
    const message = ((e as Error)?.message ?? String(e)).replace(/\.$/, '');
    process.stderr.write(`ossferry: cannot plan: ${kind} source failed (${code}): ${message}. Nothing was uploaded.\n`);
    return refused ? 2 : 1;
  } finally {
    await src?.close().catch(() => undefined);
    await access?.close().catch(() => undefined);
    await httpServer?.close().catch(() => undefined);
  }
}


/** Adds `ossferry plan` to the program. */
export function registerPlanCommand(program: Command): void {
  program
    .command('plan')
    .description('before any upload: stat (and optionally probe) the source, then print parts, tasks, workers, streams, predicted time and cost, and the assumptions used; uploads nothing')
    .argument('<source>', 'http(s):// URL, oss://bucket/key, sftp://user@host:port/path, or a local file (local cloud only)')
    .argument('<destination>', 'oss://bucket/key')
    .option('--json', 'print the plan as one JSON line')
    .option('--region <region>', 'deployment region (FC and the destination bucket): FC scaling and the OSS account bandwidth (default cn-hangzhou)')
    .option('--part-size <size>', 'part size ("auto", bytes or e.g. 64MiB)')
    .option('--workers <n>', 'worker fan-out ("auto" or 1..300; default auto: 16 up to 2 GiB, one more per 128 MiB above, at most the quota minus one)')
    .option('--streams <n>', 'parts each worker uploads at once (1..64; default 8)')
    .option('--instance-quota <n>', 'on-demand FC instances the account may run in the region (default 100)')
    .option('--worker-vcpu <n>', 'worker vCPU (default 2)')
    .option('--worker-memory-mb <n>', 'worker memory in MB (default 4096)')
    .option('--account-gbps <n>', 'OSS upload bandwidth of the account in the region, Gbit/s (default by region: 20, 10 or 2)')
    .option('--instance-gbps <n>', 'bandwidth of one worker instance, Gbit/s (default by vCPU: 1..5)')
    .option('--connection-rate <rate>', 'per-connection source throughput, e.g. 13MB (per second; default 13MB, or measured with --probe)')
    .option('--request-latency <seconds>', 'first byte of a ranged read plus an UploadPart round trip (default 0.03)')
    .option('--startup-seconds <seconds>', `submit → first byte moving: cold starts and fan-out (default ${MODEL_DEFAULTS.startupSeconds}, fitted to the published runs)`)
    .option('--connection-ramp <seconds>', `seconds a new source connection takes to reach its full rate, paid once per connection (default ${MODEL_DEFAULTS.connectionRampSeconds}, fitted to the published runs)`)
    .option('--probe', 'measure per-connection throughput with a few ranged reads of the source')
    .option('--probe-reads <n>', 'with --probe: ranged reads (1..16, default 3)')
    .option('--probe-size <size>', 'with --probe: bytes per read (default 4MiB)')
    .option('--source-endpoint <endpoint>', 'endpoint of an oss:// source in another region')
    .option('--source-region <region>', 'region of an oss:// source (egress is billed when it differs from --region)')
    .option('--data-dir <dir>', 'local cloud: the local OSS data directory an oss:// source is read from')
    .option('--oss-endpoint <url>', 'deployment: OSS endpoint for oss:// sources (credentials from ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET)')
    .option('--oss-region <region>', 'deployment: OSS region for oss:// sources; also the model region unless --region is given')
    .option('--sftp-key-file <path>', 'sftp:// source: SSH private key')
    .option('--sftp-host-key <fingerprint>', 'sftp:// source: server host key, SHA256:… as ssh-keygen -lf prints it')
    .action(async (source: string, destination: string, o: PlanOptions) => {
      process.exitCode = await planCommand(source, destination, o);
    });
}
