/**
 * The `ossferry` commands: start (the main job on the local cloud, then archive jobs over HTTP and SFTP),
 * copy (local cloud or a deployment; `--gzip` = archive mode; sftp:// sources), status (a job's status
 * object); verify lives in ./verify.ts. Each returns an exit code; errors print one clear line.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomFillSync } from 'node:crypto';
import { once } from 'node:events';
import OSS from 'ali-oss';
import { generateLogLike } from '../bench/lib/loglike.ts';
import { crc64 } from '../shared/crc64/index.ts';
import { InvalidInputError } from '../shared/errors.ts';
import { parseJob, parseOssUrl, type JobSpecInput } from '../shared/job.ts';
import { silentLogger } from '../shared/log.ts';
import { capabilitiesOf, parseSource, sourceExamples, urlScheme } from '../shared/sources.ts';
import { jobReportToJson, parseJobReport, type ArchiveReport, type CopyReport } from '../shared/report.ts';
import { ARCHIVE_META } from '../shared/verify.ts';
import { createFcInvoker } from '../functions/invoke/invoker.ts';
import { jobProgress, type JobProgress } from '../functions/status/progress.ts';
import { ossStatusStore, parseStatusLocation } from '../functions/status/store.ts';
import { LOCAL_DEFAULTS, startLocalCloud, type JobReport, type LocalCloud, type LocalCloudOptions } from '../local/cloud.ts';
import { runningCloudState } from '../local/cloud-state.ts';
import { sshdAvailable, startSshd, SSHD_PATH, type Sshd } from '../local/sshd.ts';
import { formatBytes, jobSpecFromFlags, parseSize, parseWhole, type TransferFlags } from './args.ts';
import { envCredentials, ossAccess } from './oss-access.ts';
import { progressDisplay } from './progress.ts';
import { verifyObject } from './verify.ts';

export { verifyCommand } from './verify.ts';

/** One line to stdout / stderr (the commands' only output paths). */
export const out = (s: string) => process.stdout.write(s + '\n');
export const err = (s: string) => process.stderr.write(s + '\n');

/** Prints a copy or archive report (a table, or one JSON line carrying `kind`). */
export function printJobReport(r: JobReport, json = false): void {
  if (r.kind === 'archive') printArchiveReport(r, json);
  else printReport(r, json);
}

/** Prints label/value rows as an aligned table between blank lines. */
function printRows(rows: ReadonlyArray<readonly [string, string]>): void {
  const w = Math.max(...rows.map(([k]) => k.length));
  out('');
  for (const [k, v] of rows) out(`  ${k.padEnd(w)}  ${v}`);
  out('');
}

export function printArchiveReport(r: ArchiveReport, json = false): void {
  if (json) {
    out(JSON.stringify({ kind: 'archive', ...jobReportToJson(r) }));
    return;
  }
  const rows: Array<[string, string]> = [
    ['job id', r.jobId],
    ['source', r.source],
    ['destination', r.destination],
    ['input', `${r.size} bytes (${formatBytes(r.size)})`],
    ['gzip', `${r.compressedSize} bytes (${formatBytes(r.compressedSize)}), ratio ${r.ratio.toFixed(2)}, level ${r.gzipLevel}, ${formatBytes(r.memberSize)} members`],
    ['parts', `${r.parts} in ${r.tasks} task(s), ${r.rounds} round(s)`],
    ['time', `${r.seconds.toFixed(2)} s`],
    ['throughput', `${r.mbPerSecond.toFixed(1)} MB/s of input`],
    ['CRC-64 gzip', `${r.crc64} (combined parts == OSS)`],
    ['CRC-64 input', `${r.uncompressedCrc64} (combined task CRCs${r.verified.sourceCrc64 !== undefined ? ' == source' : ''}; x-oss-meta-${ARCHIVE_META.UNCOMPRESSED_CRC64})`],
  ];
  if (r.reused.tasks > 0) rows.push(['resumed', `${r.reused.tasks} task(s) (${r.reused.parts} parts) reused from an earlier run`]);
  if (r.alreadyArchived) rows.push(['note', 'already archived at the destination; nothing uploaded']);
  if (r.inProgress) rows.push(['note', 'another run of this job is in progress; nothing uploaded']);
  printRows(rows);
}

export function printReport(r: CopyReport, json = false): void {
  if (json) {
    out(JSON.stringify({ kind: 'copy', ...jobReportToJson(r) }));
    return;
  }
  const rows: Array<[string, string]> = [
    ['job id', r.jobId],
    ['source', r.source],
    ['destination', r.destination],
    ['size', `${r.size} bytes (${formatBytes(r.size)})`],
    ['parts', `${r.parts} × ${formatBytes(r.partSize)}${r.resumedParts ? ` (${r.resumedParts} resumed: ${r.reused.byReceipt} proven by receipt, ${r.reused.byReread} by re-reading the source)` : ''}`],
    ['workers', `${r.workers} parallel, ${r.tasks} invocations, ${r.rounds} round(s)`],
    ['time', `${r.seconds.toFixed(2)} s`],
    ['throughput', `${r.mbPerSecond.toFixed(1)} MB/s`],
    ['CRC-64', `${r.crc64} (combined parts == OSS${r.verified.sourceCrc64 !== undefined ? ' == source' : ''}${r.verified.expectedCrc64 !== undefined ? ' == expected' : ''})`],
  ];
  if (r.alreadyDone) rows.push(['note', 'already complete at the destination; nothing copied']);
  printRows(rows);
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

async function runWithProgress(cloud: LocalCloud, spec: JobSpecInput, quiet: boolean): Promise<JobReport> {
  const display = quiet ? undefined : progressDisplay();
  try {
    return await cloud.submit(spec, display ? { onProgress: (p) => display.update(p) } : {});
  } finally {
    display?.stop();
  }
}

/** Reads `--sftp-key-file`; a clear error naming the flag when it is missing or not a private key. */
export async function readSftpKey(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new InvalidInputError('--sftp-key-file', `cannot read ${JSON.stringify(file)} (${e.code ?? e.message})`, 'pass the path of the SSH private key whose public key is in the server\'s authorized_keys');
  });
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    throw new InvalidInputError('--sftp-key-file', `${JSON.stringify(file)} is not a PEM/OpenSSH private key`, 'pass the private key file (e.g. ~/.ssh/id_ed25519), not the .pub file');
  }
  return text;
}

/**
 * Stored object check independent of the coordinator (cli/verify.ts): the object holds the input (for an
 * archive: the recorded uncompressed size and CRC-64 are the input's), OSS's CRC-64 is the one the job
 * reported, and with `read` the object is read back (an archive decoded by Node zlib, every member).
 */
async function verifyStored(client: OSS, target: string, key: string, reportedCrc: bigint, input: { size: number; crc64: bigint }, read: boolean): Promise<string | undefined> {
  const v = await verifyObject(client, target, key, { against: input, read });
  const failed = v.checks.filter((c) => !c.ok).map((c) => `${c.what}: expected ${c.expected}, got ${c.actual}`);
  if (v.stored.crc64 !== reportedCrc) failed.push(`stored CRC-64 ${v.stored.crc64} != reported ${reportedCrc}`);
  return failed.length ? failed.join('; ') : undefined;
}

/** Writes `size` bytes of log-like text (64 MiB chunks, bench/lib/loglike.ts) to `file`; returns its CRC-64. */
export async function writeLogLikeFile(file: string, size: number): Promise<bigint> {
  const ws = createWriteStream(file, { highWaterMark: 8 * 1024 * 1024 });
  let crc = 0n;
  for (let off = 0, i = 0; off < size; i++) {
    const chunk = generateLogLike(Math.min(64 * 1024 * 1024, size - off), 1000 + i);
    crc = crc64(chunk, crc);
    off += chunk.length;
    if (!ws.write(chunk)) await once(ws, 'drain');
  }
  ws.end();
  await once(ws, 'finish');
  return crc;
}

export interface StartOptions extends TransferFlags {
  size: string;
  /** Log-like input of the archive jobs ("0" skips them). */
  archiveSize?: string;
  /** Skip the SFTP archive job even when sshd is available. */
  sftp?: boolean;
  json?: boolean;
  quiet?: boolean;
  maxInstances?: string;
}

/**
 * `ossferry start`: local cloud + sample file + copy + verify + report; then archive jobs (gzip) on
 * log-like data from the HTTP source and, when OpenSSH's sshd is installed, from a loopback SFTP server;
 * each output decoded and checked against the input's CRC-64. Shuts everything down at the end.
 */
export async function startCommand(o: StartOptions): Promise<number> {
  const size = parseSize('--size', o.size);
  const archiveSize = parseSize('--archive-size', o.archiveSize ?? '256MiB');
  const maxInstances = o.maxInstances !== undefined ? parseWhole('--max-instances', o.maxInstances, 1, 64) : LOCAL_DEFAULTS.workers.maxInstances;
  const json = o.json === true;
  const quiet = o.quiet === true || json;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ossferry-start-'));
  let sshd: Sshd | undefined;
  try {
    err(`ossferry: writing a ${formatBytes(size)} sample file`);
    const expected = await writeSampleFile(path.join(dir, 'sample.bin'), size);
    let logCrc = 0n;
    if (archiveSize > 0) {
      err(`ossferry: writing ${formatBytes(archiveSize)} of log-like text for the archive jobs`);
      logCrc = await writeLogLikeFile(path.join(dir, 'app.log'), archiveSize);
      if (o.sftp === false) err('ossferry: --no-sftp: skipping the SFTP archive job');
      else if (await sshdAvailable()) {
        err('ossferry: starting an OpenSSH sshd on 127.0.0.1 (fresh host and user keys)');
        sshd = await startSshd();
      } else err(`ossferry: ${SSHD_PATH} is not available (Debian: apt-get install openssh-server): skipping the SFTP archive job`);
    }
    err(`ossferry: starting the local cloud (OSS, FC gateway, HTTP source${sshd ? ', SFTP' : ''})`);
    const cloud = await startLocalCloud({
      sourceRoot: dir,
      workers: { maxInstances },
      ...(sshd ? { sftp: { privateKey: sshd.privateKey, hostKeys: sshd.hostKeys } } : {}),
    });
    return await withCloudCleanup(cloud, async () => {
      const { gzip: _g, gzipLevel, sftpHostKey: _h, ...flags } = o;
      const spec = jobSpecFromFlags(cloud.httpSource.url('/sample.bin'), `oss://${cloud.bucket}/sample.bin`, {
        workers: String(maxInstances),
        streams: String(LOCAL_DEFAULTS.streamsPerWorker),
        ...flags,
        expectedCrc64: expected.toString(10),
      });
      err(`ossferry: copying ${spec.source} → ${spec.destination} through ${maxInstances} worker instance(s)`);
      try {
        const report = await runWithProgress(cloud, spec, quiet);
        if (report.kind !== 'copy') throw new Error('the coordinator answered an archive report for a copy job');
        // Independent check of what is stored, not only what the coordinator reported.
        const problem = await verifyStored(cloud.ossClient(), spec.destination, 'sample.bin', report.crc64, { size, crc64: expected }, false);
        if (problem) {
          err(`ossferry: VERIFICATION FAILED (copy): ${problem}`);
          return 1;
        }
        printReport(report, json);
        if (!json) out(`  verified: the stored object's CRC-64 equals the sample file's (${expected})`);
      } catch (e) {
        err(describeFailure(e));
        return 1;
      }
      if (archiveSize === 0) return 0;
      const archives: Array<{ name: string; source: string; key: string; sftpHostKey?: string }> = [
        { name: 'HTTP', source: cloud.httpSource.url('/app.log'), key: 'archive/app.log.gz' },
      ];
      if (sshd) {
        archives.push({ name: 'SFTP', source: `sftp://${sshd.user}@127.0.0.1:${sshd.port}${path.join(dir, 'app.log')}`, key: 'archive/app-sftp.log.gz', sftpHostKey: sshd.hostKeyFingerprint });
      }
      for (const a of archives) {
        const aspec = jobSpecFromFlags(a.source, `oss://${cloud.bucket}/${a.key}`, {
          workers: String(maxInstances),
          ...(o.overwrite ? { overwrite: true } : {}),
          gzip: true,
          ...(gzipLevel !== undefined ? { gzipLevel } : {}),
          ...(a.sftpHostKey ? { sftpHostKey: a.sftpHostKey } : {}),
        });
        err(`ossferry: archiving (gzip) ${a.name} ${a.source.replace(/\/\/[^@/]*@/, '//')} → ${aspec.destination}`);
        try {
          const report = await runWithProgress(cloud, aspec, quiet);
          if (report.kind !== 'archive') throw new Error('the coordinator answered a copy report for an archive job');
          const problem = await verifyStored(cloud.ossClient(), aspec.destination, a.key, report.crc64, { size: archiveSize, crc64: logCrc }, true);
          if (problem) {
            err(`ossferry: VERIFICATION FAILED (${a.name} archive): ${problem}`);
            return 1;
          }
          printArchiveReport(report, json);
          if (!json) out(`  verified: decoded with Node zlib, ${formatBytes(archiveSize)} with CRC-64 ${logCrc} == the input == x-oss-meta-${ARCHIVE_META.UNCOMPRESSED_CRC64}`);
        } catch (e) {
          err(describeFailure(e));
          return 1;
        }
      }
      return 0;
    });
  } finally {
    await sshd?.close();
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
  /** Local cloud: SSH private key for sftp:// sources, put in the functions' env. */
  sftpKeyFile?: string;
}

/**
 * The absolute path of a local-file source argument (a plain path, or a file:// URL), else undefined. The
 * local cloud serves it through its HTTP source, named by its file:// URL (copyCommand).
 */
export function localSourcePath(source: string): string | undefined {
  if (urlScheme(source) === undefined) return path.resolve(source);
  const d = parseSource(source);
  return !('problem' in d) && d.kind === 'file' ? d.path : undefined;
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
    if (o.sftpKeyFile !== undefined) {
      throw new InvalidInputError('--sftp-key-file', 'only applies to the local cloud', 'in a deployment the SFTP key is the stack secret (OSSFERRY_SFTP_PRIVATE_KEY in the functions\' env): remove the flag');
    }
    const remoteSpec = jobSpecFromFlags(source, destination, o);
    parseJob(remoteSpec);
    return remoteCopy(remoteSpec, o);
  }
  // Validate every flag, and the job they make, before starting anything (a local file stands in by its name).
  const localFile = localSourcePath(source);
  const spec0 = jobSpecFromFlags(localFile === undefined ? source : `http://127.0.0.1/${encodeURIComponent(path.basename(localFile))}`, destination, o);
  const job0 = parseJob(spec0);
  let sftp: LocalCloudOptions['sftp'];
  if (capabilitiesOf(job0.source.kind).needs.includes('sshPrivateKey')) {
    if (o.sftpKeyFile === undefined) throw new InvalidInputError('--sftp-key-file', 'is required for sftp:// sources', 'pass the SSH private key file whose public key is in the server\'s authorized_keys');
    if (spec0.sftpHostKeyFingerprint === undefined) {
      throw new InvalidInputError('--sftp-host-key', 'is required for sftp:// sources', 'pass the server host key fingerprint (SHA256:…) as `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` prints it on the server');
    }
    sftp = { privateKey: await readSftpKey(o.sftpKeyFile) };
  } else if (o.sftpKeyFile !== undefined) {
    throw new InvalidInputError('--sftp-key-file', 'only applies to sftp:// sources', 'remove it, or copy from sftp://user@host:port/path');
  }
  // Local cloud: a local file is served by the local HTTP source.
  let sourceRoot: string | undefined;
  let url = source;
  if (localFile !== undefined) {
    const st = await stat(localFile).catch(() => undefined);
    if (!st?.isFile()) throw new InvalidInputError('source', `${JSON.stringify(source)} is neither a URL nor a readable file`, `pass a path to a local file or one of ${sourceExamples()}`);
    sourceRoot = path.dirname(localFile);
    url = '';
  }
  const running = o.dataDir ? await runningCloudState(path.resolve(o.dataDir)) : undefined;
  if (running) {
    // Two servers on one data dir would corrupt it (each clears temp files at start).
    throw new InvalidInputError('--data-dir', `a local cloud (pid ${running.pid}) is running on ${o.dataDir}`, 'stop it first, or pass another --data-dir');
  }
  const cloud = await startLocalCloud({
    ...(sourceRoot ? { sourceRoot } : {}),
    ...(o.dataDir ? { dataDir: o.dataDir } : {}),
    ...(sftp ? { sftp } : {}),
    buckets: [dest.bucket],
  });
  if (!o.dataDir && !o.json) err('ossferry: local cloud without --data-dir: the copied object is discarded at exit');
  return withCloudCleanup(cloud, async () => {
    const local = url === '';
    if (local) url = cloud.httpSource.url('/' + encodeURIComponent(path.basename(localFile!)));
    // The local HTTP source listens on a new port each run: the file's absolute path names the source
    // instead, so a re-run of the same copy (by path or file:// URL) has the same job id and resumes.
    const spec = { ...jobSpecFromFlags(url, destination, o), ...(local ? { sourceName: pathToFileURL(localFile!).href } : {}) };
    try {
      const report = await runWithProgress(cloud, spec, o.quiet === true || o.json === true);
      printJobReport(report, o.json);
      return 0;
    } catch (e) {
      err(describeFailure(e));
      return 1;
    }
  });
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
    const report = parseJobReport(await invoker.invoke<unknown>(o.fcService!, o.fcFunction!, spec));
    printJobReport(report.mode === 'archive' ? { kind: 'archive', ...report } : { kind: 'copy', ...report }, o.json);
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
  if (p.archive) {
    out(`  input ${formatBytes(p.archive.inputBytesDone)} / ${formatBytes(p.size)} (${pct}%) in ${p.archive.tasksDone}/${p.archive.tasks} finished tasks, gzip ${formatBytes(p.archive.compressedBytesStored)} stored in ${p.parts} parts, round ${p.rounds}, run ${p.attempts}`);
  } else {
    out(`  ${formatBytes(p.bytes)} / ${formatBytes(p.size)} (${pct}%), parts ${p.parts}/${p.partCount} × ${formatBytes(p.partSize)}, round ${p.rounds}, run ${p.attempts}`);
  }
  out(`  started ${p.startedAt}, updated ${p.updatedAt}${p.uploadId ? `, upload ${p.uploadId}` : ''}`);
  if (p.error) out(`  error: ${p.error.code ?? p.error.name}: ${p.error.message}`);
}

/** `ossferry status <jobId>`: from a deployment's status location, or a local OSS data directory. */
export async function statusCommand(jobId: string, o: StatusOptions): Promise<number> {
  if (!/^j[0-9a-f]{32}$/.test(jobId)) throw new InvalidInputError('jobId', `${JSON.stringify(jobId)} is not an ossferry job id`, 'pass the id printed by ossferry copy (j + 32 hex digits)');
  const location = o.statusLocation ?? (o.dataDir ? 'oss://ossferry-status/jobs' : process.env.OSSFERRY_STATUS_LOCATION ?? '');
  if (!location) throw new InvalidInputError('--status-location', 'is not set', 'pass --status-location oss://bucket/prefix (or set OSSFERRY_STATUS_LOCATION), or --data-dir for the local cloud');
  const access = await ossAccess(o, 'ossferry copy');
  try {
    const loc = parseStatusLocation(location, '--status-location');
    const p = await jobProgress(ossStatusStore(access.client(loc.bucket), loc), (b) => access.client(b), jobId);
    if (!p) {
      err(`ossferry: no status object for job ${jobId} under ${location}`);
      return 1;
    }
    printProgress(p, o.json);
    return p.state === 'failed' ? 1 : 0;
  } finally {
    await access.close();
  }
}
