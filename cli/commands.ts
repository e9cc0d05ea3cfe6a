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
import { ARCHIVE_META } from '../shared/verify.ts';
import { createFcInvoker } from '../functions/invoke/invoker.ts';
import { jobProgress } from '../functions/status/progress.ts';
import { jobTracesExist, parseStatusLocation, type StatusStore } from '../functions/status/store.ts';
import { coordinatorInvoker, LOCAL_DEFAULTS, startLocalCloud, type JobReport, type LocalCloud, type LocalCloudOptions } from '../local/cloud.ts';
import { runningCloudState } from '../local/cloud-state.ts';
import { sshdAvailable, startSshd, SSHD_PATH, type Sshd } from '../local/sshd.ts';
import { formatBytes, jobSpecFromFlags, parseSize, parseWhole, type TransferFlags } from './args.ts';
import { cancelJob, checkJobId, listJobs, statusStoreAt, submitAndFollow, unknownJob, watchStatus, type FollowFlags, type JobsFlags, type JobTarget } from './jobs.ts';
import { envCredentials, ossAccess, statusLocationOf, type OssAccess } from './oss-access.ts';
import { describeFailure, err, out, printArchiveReport, printProgress, printReport } from './output.ts';
import { progressDisplay } from './progress.ts';
import { verifyObject } from './verify.ts';

export { verifyCommand } from './verify.ts';

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
  /** Deployment: OSS endpoint for reading the status location (default: the public endpoint of --fc-region). */
  ossEndpoint?: string;
  /** Print the job id and return; the job runs on. */
  detach?: boolean;
  /** Local cloud: SSH private key for sftp:// sources, put in the functions' env. */
  sftpKeyFile?: string;
}

function followFlags(o: CopyOptions): FollowFlags {
  const seconds = followSeconds(o);
  return { ...(o.detach ? { detach: true } : {}), ...(o.json ? { json: true } : {}), ...(o.quiet ? { quiet: true } : {}), ...(seconds !== undefined ? { followSeconds: seconds } : {}) };
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
    const target = await deploymentTarget(o);
    try {
      return await submitAndFollow(remoteSpec, target, followFlags(o));
    } finally {
      await target.access.close();
    }
  }
  if (o.ossEndpoint !== undefined) throw new InvalidInputError('--oss-endpoint', 'only applies with the --fc-* flags (a deployment)', 'remove it; a local cloud gives its own endpoints');
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
    // A running `ossferry local cloud` on --data-dir: submit to it as to a deployment (its state file gives the endpoints).
    if (sourceRoot !== undefined) {
      throw new InvalidInputError('source', `${JSON.stringify(source)} is a local file; the local cloud on ${o.dataDir} serves ${running.httpSource.root ?? 'no directory'}`, `pass its URL (${running.httpSource.origin}/<path>), or start the local cloud with --source-root`);
    }
    const access = await ossAccess({ dataDir: o.dataDir! }, 'ossferry local cloud');
    try {
      return await submitAndFollow(jobSpecFromFlags(url, destination, o), localTarget(running.fc, access, o.dataDir), followFlags(o));
    } finally {
      await access.close();
    }
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
    // The same path as a deployment: the job id at once, an asynchronous invocation, then following the status object.
    const fc = { ...cloud.fcCredentials, endpoint: cloud.fc.endpoint, accountId: cloud.fc.accountId, region: cloud.oss.region, serviceName: cloud.serviceName, coordinatorFunction: cloud.coordinatorFunction };
    const access: OssAccess = { client: (b) => cloud.ossClient(b), local: true, async close() {} };
    try {
      return await submitAndFollow(spec, localTarget(fc, access, o.dataDir), { ...followFlags(o), detach: false });
    } catch (e) {
      err(describeFailure(e));
      return 1;
    }
  });
}

/** The deployment the --fc-* flags name, as a job target (credentials from the environment). */
async function deploymentTarget(o: CopyOptions): Promise<JobTarget> {
  const creds = envCredentials();
  const invoker = createFcInvoker({
    accountId: o.fcAccountId!,
    region: o.fcRegion!,
    ...(o.fcEndpoint ? { endpoint: o.fcEndpoint } : {}),
    ...creds,
    // Only the resolve request is synchronous (a source stat); the job itself is invoked asynchronously.
    timeoutMs: 120_000,
    logger: silentLogger,
    retry: { maxAttempts: 3 },
  });
  const access = await ossAccess({ ...(o.ossEndpoint ? { ossEndpoint: o.ossEndpoint } : {}), ossRegion: o.fcRegion! }, 'ossferry copy');
  const statusFlags = o.ossEndpoint ? `--oss-endpoint ${o.ossEndpoint} --oss-region ${o.fcRegion}` : `--oss-region ${o.fcRegion}`;
  return { invoker, service: o.fcService!, coordinator: o.fcFunction!, access, name: `${o.fcService}/${o.fcFunction} (${o.fcRegion})`, modelRegion: o.fcRegion!, statusFlags: `${statusFlags} --status-location <the stack's status location>` };
}

/** A local cloud (running on --data-dir, or started by this command) as a job target. */
function localTarget(fc: { endpoint: string; accountId: string; region: string; accessKeyId: string; accessKeySecret: string; securityToken: string; serviceName: string; coordinatorFunction: string }, access: OssAccess, dataDir: string | undefined): JobTarget {
  const invoker = coordinatorInvoker(fc, fc, fc.region, 120, silentLogger);
  return { invoker, service: fc.serviceName, coordinator: fc.coordinatorFunction, access, name: `the local cloud (${fc.endpoint})`, statusFlags: dataDir ? `--data-dir ${dataDir}` : '(the local cloud stops when this command ends)' };
}

/** --timeout: how long `copy` follows a job before it gives up following (the job goes on). */
function followSeconds(o: CopyOptions): number | undefined {
  return o.timeout !== undefined ? parseWhole('--timeout', o.timeout, 1, 86_400) : undefined;
}

export interface StatusOptions {
  statusLocation?: string;
  ossEndpoint?: string;
  ossRegion?: string;
  dataDir?: string;
  json?: boolean;
}


/** Where status/jobs/cancel look: --status-location (or env), a running local cloud's, or a local data directory's default. */
export async function statusAccess(o: StatusOptions, command: string): Promise<{ access: OssAccess; location: string; store: StatusStore }> {
  const running = o.dataDir && !o.statusLocation ? await runningCloudState(path.resolve(o.dataDir)) : undefined;
  const location = o.statusLocation ?? running?.statusLocation ?? statusLocationOf(o) ?? '';
  if (!location) throw new InvalidInputError('--status-location', 'is not set', 'pass --status-location oss://bucket/prefix (or set OSSFERRY_STATUS_LOCATION), or --data-dir for the local cloud');
  parseStatusLocation(location, '--status-location');
  const access = await ossAccess(o, command);
  return { access, location, store: statusStoreAt(access, location) };
}

/** `ossferry status <jobId> [--watch]`: from a deployment's status location, or a local cloud's data directory. */
export async function statusCommand(jobId: string, o: StatusOptions & { watch?: boolean }): Promise<number> {
  checkJobId(jobId);
  const { access, location, store } = await statusAccess(o, 'ossferry copy');
  try {
    if (o.watch) return await watchStatus(store, access, jobId, location, o.json === true);
    const p = await jobProgress(store, (b) => access.client(b), jobId);
    if (!p) {
      if (!(await jobTracesExist(store, jobId))) throw unknownJob(jobId, location);
      out(`job ${jobId}: starting (a lease or cancel request exists, no status object yet)`);
      return 0;
    }
    printProgress(p, o.json);
    return p.state === 'failed' || p.state === 'cancelled' ? 1 : 0;
  } finally {
    await access.close();
  }
}

/** `ossferry jobs [--state s] [--json]`. */
export async function jobsCommand(o: StatusOptions & JobsFlags): Promise<number> {
  const { access, location, store } = await statusAccess(o, 'ossferry copy');
  try {
    return await listJobs(store, location, o);
  } finally {
    await access.close();
  }
}

/** `ossferry cancel <jobId>`. */
export async function cancelCommand(jobId: string, o: StatusOptions): Promise<number> {
  checkJobId(jobId);
  const { access, location, store } = await statusAccess(o, 'ossferry copy');
  try {
    return await cancelJob(store, (b) => access.client(b), jobId, location, o);
  } finally {
    await access.close();
  }
}
