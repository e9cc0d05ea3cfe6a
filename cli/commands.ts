/**
 * The `ossferry` commands: start (the main job on the local cloud), copy (local cloud or a deployment),
 * status (a job's status object). Each returns an exit code; errors print one clear line.
 */
import { createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomFillSync } from 'node:crypto';
import { once } from 'node:events';
import OSS from 'ali-oss';
import { crc64 } from '../shared/crc64/index.ts';
import { crc64FromWire } from '../shared/crc64/wire.ts';
import { InvalidInputError } from '../shared/errors.ts';
import { parseOssUrl, type JobSpecInput } from '../shared/job.ts';
import { silentLogger } from '../shared/log.ts';
import { copyReportToJson, parseCopyReport, type CopyReport } from '../functions/coordinator/report.ts';
import { createFcInvoker } from '../functions/invoke/invoker.ts';
import { jobProgress, type JobProgress } from '../functions/status/progress.ts';
import { ossStatusStore, parseStatusLocation } from '../functions/status/store.ts';
import { startLocalCloud, type LocalCloud } from '../local/cloud.ts';
import { startOssServer } from '../local/oss/index.ts';
import { formatBytes, jobSpecFromFlags, parseSize, parseWhole, type TransferFlags } from './args.ts';
import { progressDisplay } from './progress.ts';

const out = (s: string) => process.stdout.write(s + '\n');
const err = (s: string) => process.stderr.write(s + '\n');

export function printReport(r: CopyReport, json = false): void {
  if (json) {
    out(JSON.stringify(copyReportToJson(r)));
    return;
  }
  const rows: Array<[string, string]> = [
    ['job id', r.jobId],
    ['source', r.source],
    ['destination', r.destination],
    ['size', `${r.size} bytes (${formatBytes(r.size)})`],
    ['parts', `${r.parts} × ${formatBytes(r.partSize)}${r.resumedParts ? ` (${r.resumedParts} resumed)` : ''}`],
    ['workers', `${r.workers} parallel, ${r.tasks} invocations, ${r.rounds} round(s)`],
    ['time', `${r.seconds.toFixed(2)} s`],
    ['throughput', `${r.mbPerSecond.toFixed(1)} MB/s`],
    ['CRC-64', `${r.crc64} (combined parts == OSS${r.verified.sourceCrc64 !== undefined ? ' == source' : ''}${r.verified.expectedCrc64 !== undefined ? ' == expected' : ''})`],
  ];
  if (r.alreadyDone) rows.push(['note', 'already complete at the destination; nothing copied']);
  const w = Math.max(...rows.map(([k]) => k.length));
  out('');
  for (const [k, v] of rows) out(`  ${k.padEnd(w)}  ${v}`);
  out('');
}

/** Explains a failed job in one or two lines (the coordinator's message names the cause and the abort). */
export function describeFailure(e: unknown): string {
  const body = (e as { body?: unknown }).body;
  if (body && typeof body === 'object' && 'errorMessage' in body) {
    const b = body as { errorMessage: string; code?: string };
    return `ossferry: job failed${b.code ? ` (${b.code})` : ''}: ${b.errorMessage}`;
  }
  return `ossferry: ${(e as Error)?.message ?? String(e)}`;
}

/** Writes `size` pseudo-random bytes to `file`, returning their CRC-64 (streamed: constant memory). */
export async function writeSampleFile(file: string, size: number): Promise<bigint> {
  const ws = createWriteStream(file, { highWaterMark: 8 * 1024 * 1024 });
  const chunkSize = 8 * 1024 * 1024;
  let crc = 0n;
  for (let left = size; left > 0; ) {
    const n = Math.min(left, chunkSize);
    const view = Buffer.from(randomFillSync(Buffer.allocUnsafe(n)));
    crc = crc64(view, crc);
    if (!ws.write(view)) await once(ws, 'drain');
    left -= n;
  }
  ws.end();
  await once(ws, 'finish');
  return crc;
}

async function withCloudCleanup<T>(cloud: LocalCloud, fn: () => Promise<T>): Promise<T> {
  const onSignal = () => {
    err('\nossferry: interrupted, shutting the local cloud down');
    cloud.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await fn();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cloud.close();
  }
}

async function runWithProgress(cloud: LocalCloud, spec: JobSpecInput, quiet: boolean): Promise<CopyReport> {
  const display = quiet ? undefined : progressDisplay();
  try {
    return await cloud.submitJob(spec, display ? { onProgress: (p: JobProgress) => display.update(p) } : {});
  } finally {
    display?.stop();
  }
}

export interface StartOptions extends TransferFlags {
  size: string;
  json?: boolean;
  quiet?: boolean;
  maxInstances?: string;
}

/** `ossferry start`: local cloud + sample file + copy + verify + report, then shut down. */
export async function startCommand(o: StartOptions): Promise<number> {
  const size = parseSize('--size', o.size);
  const maxInstances = o.maxInstances !== undefined ? parseWhole('--max-instances', o.maxInstances, 1, 64) : 4;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ossferry-start-'));
  try {
    err(`ossferry: writing a ${formatBytes(size)} sample file`);
    const expected = await writeSampleFile(path.join(dir, 'sample.bin'), size);
    err('ossferry: starting the local cloud (OSS, FC gateway, HTTP source)');
    const cloud = await startLocalCloud({ sourceRoot: dir, workers: { maxInstances } });
    return await withCloudCleanup(cloud, async () => {
      const spec = jobSpecFromFlags(cloud.httpSource.url('/sample.bin'), `oss://${cloud.bucket}/sample.bin`, {
        workers: String(maxInstances),
        ...o,
        expectedCrc64: expected.toString(10),
      });
      err(`ossferry: copying ${spec.source} → ${spec.destination} through ${maxInstances} worker instance(s)`);
      try {
        const report = await runWithProgress(cloud, spec, o.quiet === true || o.json === true);
        // Independent check of what is stored, not only what the coordinator reported.
        const head = await cloud.ossClient().head('sample.bin');
        const stored = crc64FromWire(String((head.res.headers as Record<string, string>)['x-oss-hash-crc64ecma']), 'x-oss-hash-crc64ecma');
        if (stored !== expected || report.crc64 !== expected) {
          err(`ossferry: VERIFICATION FAILED: sample CRC-64 ${expected}, stored ${stored}, reported ${report.crc64}`);
          return 1;
        }
        printReport(report, o.json);
        if (!o.json) out(`  verified: the stored object's CRC-64 equals the sample file's (${expected})`);
        return 0;
      } catch (e) {
        err(describeFailure(e));
        return 1;
      }
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface CopyOptions extends TransferFlags {
  json?: boolean;
  quiet?: boolean;
  dataDir?: string;
  fcAccountId?: string;
  fcRegion?: string;
  fcService?: string;
  fcFunction?: string;
  fcEndpoint?: string;
  timeout?: string;
}

const REMOTE_FLAGS = ['fcAccountId', 'fcRegion', 'fcService', 'fcFunction'] as const;
const flagName = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** `ossferry copy <source> oss://bucket/key`. */
export async function copyCommand(source: string, destination: string, o: CopyOptions): Promise<number> {
  const dest = parseOssUrl(destination);
  if (typeof dest === 'string') throw new InvalidInputError('destination', `${JSON.stringify(destination)} ${dest}`, 'use oss://bucket/key');
  const given = REMOTE_FLAGS.filter((k) => o[k] !== undefined);
  if (given.length > 0) {
    const missing = REMOTE_FLAGS.filter((k) => o[k] === undefined);
    if (missing.length > 0) {
      throw new InvalidInputError(flagName(missing[0]!), 'is required with the other --fc-* flags', `pass ${missing.map(flagName).join(', ')} (the Pulumi stack outputs them)`);
    }
    return remoteCopy(jobSpecFromFlags(source, destination, o), o);
  }
  // Local cloud: a local file is served by the local HTTP source.
  let sourceRoot: string | undefined;
  let url = source;
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) {
    const full = path.resolve(source);
    const st = await stat(full).catch(() => undefined);
    if (!st?.isFile()) throw new InvalidInputError('source', `${JSON.stringify(source)} is neither a URL nor a readable file`, 'pass an http(s):// URL, oss://bucket/key or a path to a local file');
    sourceRoot = path.dirname(full);
    url = '';
  }
  const cloud = await startLocalCloud({
    ...(sourceRoot ? { sourceRoot } : {}),
    ...(o.dataDir ? { dataDir: o.dataDir } : {}),
    buckets: [dest.bucket],
  });
  if (!o.dataDir && !o.json) err('ossferry: local cloud without --data-dir: the copied object is discarded at exit');
  return withCloudCleanup(cloud, async () => {
    if (url === '') url = cloud.httpSource.url('/' + encodeURIComponent(path.basename(path.resolve(source))));
    const spec = jobSpecFromFlags(url, destination, o);
    try {
      const report = await runWithProgress(cloud, spec, o.quiet === true || o.json === true);
      printReport(report, o.json);
      return 0;
    } catch (e) {
      err(describeFailure(e));
      return 1;
    }
  });
}

function envCredentials(): { accessKeyId: string; accessKeySecret: string; securityToken?: string } {
  const id = process.env.ALIBABA_CLOUD_ACCESS_KEY_ID;
  const secret = process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET;
  if (!id || !secret) {
    throw new InvalidInputError('ALIBABA_CLOUD_ACCESS_KEY_ID', 'or ALIBABA_CLOUD_ACCESS_KEY_SECRET is not set', 'export both (and ALIBABA_CLOUD_SECURITY_TOKEN for STS credentials)');
  }
  const token = process.env.ALIBABA_CLOUD_SECURITY_TOKEN;
  return { accessKeyId: id, accessKeySecret: secret, ...(token ? { securityToken: token } : {}) };
}

async function remoteCopy(spec: JobSpecInput, o: CopyOptions): Promise<number> {
  const creds = envCredentials();
  const timeoutSeconds = o.timeout !== undefined ? parseWhole('--timeout', o.timeout, 1, 86_400) : 86_400;
  const invoker = createFcInvoker({
    accountId: o.fcAccountId!,
    region: o.fcRegion!,
    ...(o.fcEndpoint ? { endpoint: o.fcEndpoint } : {}),
    ...creds,
    timeoutMs: (timeoutSeconds + 30) * 1000,
    logger: silentLogger,
    retry: { maxAttempts: 3 },
  });
  if (!o.json) err(`ossferry: submitting ${spec.source} → ${spec.destination} to ${o.fcService}/${o.fcFunction} (${o.fcRegion})`);
  try {
    const report = parseCopyReport(await invoker.invoke<unknown>(o.fcService!, o.fcFunction!, spec));
    printReport(report, o.json);
    return 0;
  } catch (e) {
    err(describeFailure(e));
    return 1;
  }
}

export interface StatusOptions {
  statusLocation?: string;
  ossEndpoint?: string;
  ossRegion?: string;
  dataDir?: string;
  json?: boolean;
}

export function printProgress(p: JobProgress, json = false): void {
  if (json) {
    out(JSON.stringify(p));
    return;
  }
  const pct = p.size > 0 ? ((p.bytes / p.size) * 100).toFixed(1) : '100.0';
  out(`job ${p.jobId}: ${p.state}`);
  out(`  ${p.source} → ${p.destination}`);
  out(`  ${formatBytes(p.bytes)} / ${formatBytes(p.size)} (${pct}%), parts ${p.parts}/${p.partCount} × ${formatBytes(p.partSize)}, round ${p.rounds}, run ${p.attempts}`);
  out(`  started ${p.startedAt}, updated ${p.updatedAt}${p.uploadId ? `, upload ${p.uploadId}` : ''}`);
  if (p.error) out(`  error: ${p.error.code ?? p.error.name}: ${p.error.message}`);
}

/** `ossferry status <jobId>`: from a deployment's status location, or a local OSS data directory. */
export async function statusCommand(jobId: string, o: StatusOptions): Promise<number> {
  if (!/^j[0-9a-f]{32}$/.test(jobId)) throw new InvalidInputError('jobId', `${JSON.stringify(jobId)} is not an ossferry job id`, 'pass the id printed by ossferry copy (j + 32 hex digits)');
  let close = async () => {};
  let client: (bucket: string) => OSS;
  let location: string;
  if (o.dataDir) {
    if (!existsSync(o.dataDir)) throw new InvalidInputError('--data-dir', `${o.dataDir} does not exist`, 'pass the --data-dir used with ossferry copy');
    const oss = await startOssServer({ dataDir: o.dataDir });
    close = () => oss.close();
    client = (b) => new OSS({ ...oss.clientOptions(b), retryMax: 0 } as OSS.Options);
    location = o.statusLocation ?? 'oss://ossferry-status/jobs';
  } else {
    location = o.statusLocation ?? process.env.OSSFERRY_STATUS_LOCATION ?? '';
    if (!location) throw new InvalidInputError('--status-location', 'is not set', 'pass --status-location oss://bucket/prefix (or set OSSFERRY_STATUS_LOCATION), or --data-dir for the local cloud');
    if (!o.ossEndpoint && !o.ossRegion) throw new InvalidInputError('--oss-region', 'is not set', 'pass --oss-region (e.g. cn-hangzhou) or --oss-endpoint');
    const creds = envCredentials();
    client = (b) =>
      new OSS({
        bucket: b,
        accessKeyId: creds.accessKeyId,
        accessKeySecret: creds.accessKeySecret,
        ...(creds.securityToken ? { stsToken: creds.securityToken } : {}),
        ...(o.ossEndpoint ? { endpoint: o.ossEndpoint } : { region: `oss-${o.ossRegion!.replace(/^oss-/, '')}` }),
        secure: true,
      } as OSS.Options);
  }
  try {
    const loc = parseStatusLocation(location, '--status-location');
    const p = await jobProgress(ossStatusStore(client(loc.bucket), loc), client, jobId);
    if (!p) {
      err(`ossferry: no status object for job ${jobId} under ${location}`);
      return 1;
    }
    printProgress(p, o.json);
    return p.state === 'failed' ? 1 : 0;
  } finally {
    await close();
  }
}
