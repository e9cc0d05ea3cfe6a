/**
 * Archive jobs end to end without FC: the engine (runJob) with an in-process dispatch (each task round-trips
 * through its wire schema) running runArchiveTask against the real local OSS (ali-oss), the local HTTP
 * source and a real OpenSSH sshd. Every archive is decoded with real decoders (gzip -t, gzip -dc, zcat,
 * Node zlib) and compared with the input; the recorded metadata is checked against the decoded bytes.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateLogLike } from '../../bench/lib/loglike.ts';
import { crc64 } from '../../shared/crc64/index.ts';
import { OSS as LIMITS } from '../../shared/limits.ts';
import { parseJob, type Job } from '../../shared/job.ts';
import { silentLogger } from '../../shared/log.ts';
import { parseAllowList } from '../../shared/ssrf.ts';
import { startOssServer, type LocalOss } from '../../local/oss/index.ts';
import { startHttpSourceServer, type HttpSourceServer } from '../../local/http-source/index.ts';
import { OssPartSink } from '../../functions/oss/part-sink.ts';
import { JobFailedError } from '../../functions/engine/errors.ts';
import { classifyDispatchError } from '../../functions/engine/dispatch.ts';
import { runJob } from '../../functions/engine/lifecycle.ts';
import { deleteArchivedVersion } from '../../functions/engine/source-delete.ts';
import { InvalidInputError } from '../../shared/errors.ts';
import { uploadsLeft } from '../helpers/local-cloud.ts';
import type { EngineDeps, JobOptions } from '../../functions/engine/types.ts';
import type { ArchiveReport } from '../../shared/report.ts';
import { ARCHIVE_META } from '../../shared/verify.ts';
import { openTaskSource, type TaskSourceDeps } from '../../functions/worker/source.ts';
import { parseArchiveTask, parseWorkerResult, workerResultToWire, type ArchiveTask } from '../../shared/task.ts';
import { runArchiveTask, type ArchiveWorkerDeps } from '../../functions/worker/archive.ts';
import type { RangeSource } from '../../functions/sources/types.ts';
import { SftpSource } from '../../functions/sources/sftp.ts';
import { startSshd, type Sshd } from '../helpers/sshd.ts';

const allow = parseAllowList('127.0.0.1');
const fastRetry = { baseMs: 5, maxMs: 50, maxAttempts: 6 };
const MiB = 1024 * 1024;
/** The smallest task input the 100 KB proof allows (archive-parts.ts): 1032 × 100 KB. */
const MIN_TASK = LIMITS.MIN_PART_SIZE * 1032;

let oss: LocalOss;
let http: HttpSourceServer;
let sshd: Sshd;
let dst: OSS;
let src: OSS;
let tmp: string;

const logLike = generateLogLike(20 * MiB, 7);

beforeAll(async () => {
  oss = await startOssServer({ buckets: ['dst', 'src'], fsync: false });
  http = await startHttpSourceServer();
  sshd = await startSshd({ files: { 'logs/app.log': logLike, 'logs/changing.log': logLike, 'logs/drop.log': logLike } });
  dst = new OSS({ ...oss.clientOptions('dst'), retryMax: 0 } as OSS.Options);
  src = new OSS({ ...oss.clientOptions('src'), retryMax: 0 } as OSS.Options);
  tmp = await mkdtemp(join(tmpdir(), 'ossferry-archive-test-'));
}, 60_000);
afterAll(async () => {
  await sshd?.close();
  await http?.close();
  await oss?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Runs an archive job through the engine; the report is an archive report. */
async function runArchiveJob(job: Job, deps: EngineDeps, options: JobOptions = {}): Promise<ArchiveReport> {
  const report = await runJob(job, deps, options);
  if (report.mode !== 'archive') throw new Error(`expected an archive report, got a ${report.mode} report`);
  return report;
}

interface Harness {
  deps: EngineDeps;
  /** Every source the workers opened (SFTP stats). */
  opened: RangeSource[];
}

/** Job deps with an in-process dispatch: wire → parseArchiveTask → runArchiveTask → wire → parseWorkerResult. */
function harness(wrapRead?: (source: RangeSource, task: ArchiveTask) => RangeSource, extra: Partial<EngineDeps> = {}, sftp?: TaskSourceDeps['sftp']): Harness {
  const opened: RangeSource[] = [];
  const open = (url: string, fp?: string) =>
    openTaskSource(url, {
      allow,
      ossClientFor: (bucket) => new OSS({ ...oss.clientOptions(bucket), retryMax: 0 } as OSS.Options),
      ...(url.startsWith('sftp:') ? { sftpPrivateKey: sshd.privateKey, hostKeyFingerprint: fp ?? sshd.hostKeyFingerprint, ...(sftp ? { sftp } : {}) } : {}),
    });
  const workerDeps: ArchiveWorkerDeps = {
    logger: silentLogger,
    retryPolicy: fastRetry,
    openSource: (t) => {
      const s = open(t.source.url, t.source.hostKeyFingerprint);
      opened.push(s);
      return wrapRead ? wrapRead(s, t) : s;
    },
    partSinkFor: (t) => new OssPartSink({ client: dst, bucket: t.destination.bucket, key: t.destination.key, uploadId: t.uploadId }),
  };
  return {
    opened,
    deps: {
      logger: silentLogger,
      openSource: (job) => open(job.source.url, job.sftpHostKeyFingerprint),
      destinationClient: dst,
      sourceClientFor: () => src,
      workerTimeoutSeconds: 600,
      dispatch: async (wire) => {
        try {
          const result = await runArchiveTask(parseArchiveTask(JSON.parse(JSON.stringify(wire))), workerDeps);
          return { kind: 'result', result: parseWorkerResult(JSON.parse(JSON.stringify(workerResultToWire(result))), 'archive') };
        } catch (err) {
          return classifyDispatchError(err);
        }
      },
      ...extra,
    },
  };
}

function archiveJob(source: string, key: string, extra: Record<string, unknown> = {}): Job {
  return parseJob({ source, destination: `oss://dst/${key}`, mode: 'archive', workers: 4, ...extra });
}

/** Runs a decoder over `file`, returning the CRC-64 and length of what it wrote to stdout. */
function decodeWith(cmd: string, args: string[]): Promise<{ crc: bigint; bytes: number; code: number | null }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let crc = 0n;
    let bytes = 0;
    p.stdout.on('data', (c: Buffer) => {
      crc = crc64(c, crc);
      bytes += c.length;
    });
    p.on('error', reject);
    p.on('close', (code) => resolve({ crc, bytes, code }));
  });
}

async function nodeGunzip(file: string): Promise<{ crc: bigint; bytes: number }> {
  const { createReadStream } = await import('node:fs');
  let crc = 0n;
  let bytes = 0;
  await pipeline(createReadStream(file), zlib.createGunzip(), async function* (chunks: AsyncIterable<Buffer>) {
    for await (const c of chunks) {
      crc = crc64(c, crc);
      bytes += c.length;
    }
  });
  return { crc, bytes };
}

/** Downloads the archive, checks gzip -t, gzip -dc, zcat and Node zlib against (crc, size) of the input. */
async function expectDecodes(key: string, size: number, crc: bigint): Promise<Record<string, string>> {
  const file = join(tmp, key.replace(/\//g, '_'));
  const got = await dst.getStream(key);
  await pipeline(got.stream as Readable, createWriteStream(file));
  const head = await dst.head(key);
  const meta = head.meta as unknown as Record<string, string>;
  const t = await decodeWith('gzip', ['-t', file]);
  expect(t.code).toBe(0);
  for (const [cmd, args] of [['gzip', ['-dc', file]], ['zcat', [file]]] as const) {
    const r = await decodeWith(cmd, [...args]);
    expect(r.code, cmd).toBe(0);
    expect(r.bytes, cmd).toBe(size);
    expect(r.crc, cmd).toBe(crc);
  }
  const n = await nodeGunzip(file);
  expect(n.bytes).toBe(size);
  expect(n.crc).toBe(crc);
  expect(meta[ARCHIVE_META.UNCOMPRESSED_CRC64]).toBe(crc.toString(10));
  expect(meta[ARCHIVE_META.UNCOMPRESSED_SIZE]).toBe(String(size));
  await rm(file, { force: true });
  return meta;
}

async function noUploadsLeft(): Promise<number> {
  const r = await dst.listUploads({});
  return (r.uploads ?? []).length;
}

describe('archive jobs over the HTTP source (metadata stamped after Complete)', () => {
  it.each([
    ['0 B', Buffer.alloc(0), {}],
    ['tiny', Buffer.from('hello, archive\n'), {}],
    ['random (incompressible), many parts in one task', randomBytes(3 * MiB + 12345), { memberSize: 64 * 1024, partTarget: LIMITS.MIN_PART_SIZE }],
    ['log-like, small members', generateLogLike(6 * MiB, 3), { memberSize: 256 * 1024, partTarget: LIMITS.MIN_PART_SIZE }],
  ] as Array<[string, Buffer, JobOptions]>)('%s: decodes byte-identical with gzip -dc, zcat, Node zlib; CRCs verified', async (name, data, opts) => {
    // Prepare
    const path = `/${name.replace(/\W+/g, '-')}.bin`;
    http.setFile(path, data);
    const key = `http${path}.gz`;
    const { deps } = harness();
    // Act
    const report = await runArchiveJob(archiveJob(http.url(path), key), deps, opts);
    // Assess
    expect(report.size).toBe(data.length);
    expect(report.uncompressedCrc64).toBe(crc64(data));
    expect(report.verified.ossCrc64).toBe(report.verified.combinedCrc64);
    const stored = (await dst.get(key)).content as Buffer;
    expect(stored.length).toBe(report.compressedSize);
    expect(crc64(stored)).toBe(report.crc64);
    expect(Buffer.compare(zlib.gunzipSync(stored), data)).toBe(0);
    const meta = await expectDecodes(key, data.length, crc64(data));
    expect(meta['source-size']).toBe(String(data.length));
    expect(meta['ossferry-job-id']).toBe(report.jobId);
    if (opts.memberSize) expect(report.parts).toBeGreaterThan(3);
  });

  it('all-zero 512 MiB (~1000:1): 4 tasks, every non-last part ≥ 100 KB, decodes identical', async () => {
    // Prepare
    const size = 512 * MiB;
    http.setFile('/zeros.bin', Buffer.alloc(size));
    const { deps } = harness();
    // Act
    const report = await runArchiveJob(archiveJob(http.url('/zeros.bin'), 'zeros.gz'), deps);
    // Assess: the ratio is extreme, yet Complete accepted every part (EntityTooSmall otherwise)
    const expected = crc64(Buffer.alloc(size));
    expect(report.tasks).toBe(4);
    expect(report.ratio).toBeGreaterThan(500);
    expect(report.uncompressedCrc64).toBe(expected);
    const parts = await (async () => {
      const meta = await expectDecodes('zeros.gz', size, expected);
      return Number(meta[ARCHIVE_META.MEMBER_SIZE]);
    })();
    expect(parts).toBe(8 * MiB);
  }, 240_000);

  it('multipart-copy stamp path (objects above the CopyObject limit) keeps bytes and CRC', async () => {
    // Prepare
    const data = generateLogLike(2 * MiB, 11);
    http.setFile('/stamp.log', data);
    const { deps } = harness();
    // Act: a limit of 1 byte forces UploadPartCopy onto itself
    const report = await runArchiveJob(archiveJob(http.url('/stamp.log'), 'stamp.log.gz'), deps, { memberSize: 256 * 1024, partTarget: LIMITS.MIN_PART_SIZE, copyObjectLimit: 1 });
    // Assess
    const head = await dst.head('stamp.log.gz');
    expect((head.res.headers as Record<string, string>)['x-oss-hash-crc64ecma']).toBe(report.crc64.toString(10));
    await expectDecodes('stamp.log.gz', data.length, crc64(data));
    expect(await noUploadsLeft()).toBe(0);
  });

  it('a second run of the same job reports alreadyArchived and uploads nothing', async () => {
    // Prepare
    const data = generateLogLike(MiB, 5);
    http.setFile('/twice.log', data);
    const { deps } = harness();
    const first = await runArchiveJob(archiveJob(http.url('/twice.log'), 'twice.log.gz'), deps);
    let dispatched = 0;
    const counting = { ...deps, dispatch: (...a: Parameters<EngineDeps['dispatch']>) => (dispatched++, deps.dispatch(...a)) };
    // Act
    const second = await runArchiveJob(archiveJob(http.url('/twice.log'), 'twice.log.gz'), counting);
    // Assess
    expect(first.alreadyArchived).toBeUndefined();
    expect(second.alreadyArchived).toBe(true);
    expect(second.uncompressedCrc64).toBe(crc64(data));
    expect(second.crc64).toBe(first.crc64);
    expect(dispatched).toBe(0);
  });

  it('a different object at the destination is never replaced', async () => {
    // Prepare
    await dst.put('taken.gz', Buffer.from('not ours'));
    http.setFile('/taken.log', Buffer.from('x'));
    const { deps } = harness();
    // Act
    const act = runArchiveJob(archiveJob(http.url('/taken.log'), 'taken.gz'), deps);
    // Assess
    await expect(act).rejects.toMatchObject({ code: 'DestinationExists' });
    expect(((await dst.get('taken.gz')).content as Buffer).toString()).toBe('not ours');
  });
});

describe('archive jobs over an OSS source (uncompressed CRC known at Initiate)', () => {
  it('records the source CRC as uncompressed-crc64 and verifies the combined task CRCs against it', async () => {
    // Prepare
    const data = generateLogLike(3 * MiB, 9);
    await src.put('incoming/app.log', data);
    const { deps } = harness();
    // Act
    const report = await runArchiveJob(archiveJob('oss://src/incoming/app.log', 'oss-src/app.log.gz'), deps, { memberSize: 512 * 1024, partTarget: LIMITS.MIN_PART_SIZE });
    // Assess
    expect(report.verified.sourceCrc64).toBe(crc64(data));
    expect(report.uncompressedCrc64).toBe(crc64(data));
    await expectDecodes('oss-src/app.log.gz', data.length, crc64(data));
  });

  it('deleteSourceAfterVerify on a source bucket without versioning is refused at job start: nothing uploaded, the source untouched', async () => {
    // Prepare
    const data = generateLogLike(MiB, 13);
    await src.put('incoming/del.log', data);
    const { deps } = harness();
    let dispatched = 0;
    const counting: EngineDeps = { ...deps, dispatch: (w, s) => (dispatched++, deps.dispatch(w, s)) };
    // Act
    const err = await runArchiveJob(archiveJob('oss://src/incoming/del.log', 'del/del.log.gz'), counting, { deleteSourceAfterVerify: true }).catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as Error).message).toMatch(/^deleteSourceAfterVerify: refused for oss:\/\/src\/incoming\/del\.log: versioning is not enabled on source bucket src, and OSS has no conditional DELETE.*nothing was uploaded.*Fix: enable versioning on the source bucket/);
    expect(dispatched).toBe(0);
    expect(Buffer.compare((await src.get('incoming/del.log')).content as Buffer, data)).toBe(0);
    await expect(dst.head('del/del.log.gz')).rejects.toMatchObject({ status: 404 });
    expect(await uploadsLeft(dst)).toBe(0);
  });

  it('the after-verify delete names the archived version: another version id deletes nothing, the current object stays', async () => {
    // Prepare
    await src.put('incoming/versioned.log', Buffer.from('bytes\n'));
    const { deps } = harness();
    const job = archiveJob('oss://src/incoming/versioned.log', 'del/versioned.log.gz');
    // Act: a version id the object does not have (OSS answers 204 to a DELETE of a missing version)
    const r = await deleteArchivedVersion(job, deps, 'CAEQARiBgID', silentLogger);
    // Assess
    expect(r.sourceDeleted).toBe(true);
    const still = await src.get('incoming/versioned.log');
    expect(still.content.toString()).toBe('bytes\n');
  });
});

describe('archive jobs over SFTP (real OpenSSH sshd)', () => {
  it('archives a log-like file with the host key pinned from the job; parallel ranges per worker', async () => {
    // Prepare
    const { deps, opened } = harness();
    // Act
    const report = await runArchiveJob(archiveJob(sshd.urlFor('logs/app.log'), 'sftp/app.log.gz', { sftpHostKeyFingerprint: sshd.hostKeyFingerprint }), deps, {
      memberSize: MiB,
      concurrency: 4,
    });
    // Assess
    expect(report.uncompressedCrc64).toBe(crc64(logLike));
    expect(report.ratio).toBeGreaterThan(3);
    const meta = await expectDecodes('sftp/app.log.gz', logLike.length, crc64(logLike));
    expect(meta['source-mtime-ms']).toMatch(/^\d+$/);
    expect(opened.length).toBeGreaterThan(0);
    expect((opened[0] as SftpSource).stats.maxInFlight).toBeGreaterThan(1);
  });

  it('a wrong host key is refused before authentication, and no upload is started', async () => {
    // Prepare
    const { deps } = harness();
    const wrong = 'SHA256:' + 'A'.repeat(43);
    const logBefore = sshd.log().length;
    // Act
    const act = runArchiveJob(archiveJob(sshd.urlFor('logs/app.log'), 'sftp/wrong.gz', { sftpHostKeyFingerprint: wrong }), deps);
    // Assess
    await expect(act).rejects.toMatchObject({ code: 'HostKeyMismatch' });
    await new Promise((r) => setTimeout(r, 200)); // let sshd write its side of the closed connection
    const log = sshd.log().slice(logBefore);
    expect(log).not.toMatch(/Accepted publickey|userauth|Failed publickey/i);
    expect(await noUploadsLeft()).toBe(0);
    await expect(dst.head('sftp/wrong.gz')).rejects.toMatchObject({ status: 404 });
  });

  it('a connection dropped mid-range is retried and the archive is still identical', async () => {
    // Prepare: after the first chunk of the second member arrives, every sshd session is killed (2 small READs in flight, so the range is mid-way)
    let reads = 0;
    let killed = 0;
    const { deps, opened } = harness((s) => ({
      displayUrl: s.displayUrl,
      stat: (sig) => s.stat(sig),
      close: () => s.close(),
      read: async (start, end, pin, sig) => {
        const body = await s.read(start, end, pin, sig);
        if (++reads !== 2) return body;
        const tap = new PassThrough();
        let first = true;
        body.on('error', (e) => tap.destroy(e));
        body.on('data', (c: Buffer) => {
          tap.write(c);
          if (first) {
            first = false;
            body.pause();
            void sshd.killConnections().then((n) => {
              killed += n;
              body.resume();
            });
          }
        });
        body.on('end', () => tap.end());
        return tap;
      },
    }), {}, { maxRequestsInFlight: 2, requestSize: 32 * 1024, readAheadBytes: 64 * 1024 });
    // Act
    const report = await runArchiveJob(archiveJob(sshd.urlFor('logs/drop.log'), 'sftp/drop.log.gz', { sftpHostKeyFingerprint: sshd.hostKeyFingerprint }), deps, {
      memberSize: 8 * MiB,
      concurrency: 1,
    });
    // Assess
    const reconnects = opened.reduce((a, s) => a + (s as SftpSource).stats.reconnects, 0);
    expect(killed).toBeGreaterThan(0);
    expect(reconnects).toBeGreaterThanOrEqual(1); // resumed mid-range at the last delivered byte
    expect(report.uncompressedCrc64).toBe(crc64(logLike));
    await expectDecodes('sftp/drop.log.gz', logLike.length, crc64(logLike));
  }, 60_000);

  it('a file changed during the job fails cleanly and the multipart upload is aborted', async () => {
    // Prepare: the file grows while the second member is being read
    let reads = 0;
    const { deps } = harness((s) => ({
      displayUrl: s.displayUrl,
      stat: (sig) => s.stat(sig),
      close: () => s.close(),
      read: async (start, end, pin, sig) => {
        if (++reads === 2) await appendFile(join(sshd.root, 'logs/changing.log'), 'one more line\n');
        return s.read(start, end, pin, sig);
      },
    }));
    // Act
    const act = runArchiveJob(archiveJob(sshd.urlFor('logs/changing.log'), 'sftp/changing.gz', { sftpHostKeyFingerprint: sshd.hostKeyFingerprint }), deps, { memberSize: MiB, concurrency: 1 });
    // Assess
    const err = await act.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(JobFailedError);
    expect((err as JobFailedError).causeCode).toBe('SourceChanged');
    expect((err as JobFailedError).aborted).toBe(true);
    expect(await noUploadsLeft()).toBe(0);
    await expect(dst.head('sftp/changing.gz')).rejects.toMatchObject({ status: 404 });
  });
});

describe('runArchiveTask directly', () => {
  it('a non-final task whose output could fall under 100 KB is refused by the packer, not uploaded short', async () => {
    // Prepare: a hand-made non-final task of 1 MiB of zeros (the planner never makes one: ≥128 MiB per task)
    http.setFile('/short.bin', Buffer.alloc(MiB));
    const s = openTaskSource(http.url('/short.bin'), { allow });
    const identity = await s.stat();
    await s.close();
    const sink = new OssPartSink({ client: dst, bucket: 'dst', key: 'short.gz' });
    const uploadId = await sink.initiate();
    const task = parseArchiveTask({
      mode: 'archive', jobId: 'j-short', uploadId, destination: { bucket: 'dst', key: 'short.gz' },
      source: { url: http.url('/short.bin'), identity }, start: 0, end: MiB, firstPartNumber: 1, lastPartNumber: 5,
      isFinal: false, memberSize: 256 * 1024, partTarget: LIMITS.MIN_PART_SIZE, gzipLevel: 1, concurrency: 2,
    });
    // Act
    const act = runArchiveTask(task, {
      logger: silentLogger,
      retryPolicy: fastRetry,
      openSource: (t) => openTaskSource(t.source.url, { allow }),
      partSinkFor: () => sink,
    });
    // Assess
    await expect(act).rejects.toMatchObject({ code: 'ArchivePacking' });
    await sink.abort();
  });

  it('task input below the proven minimum is refused at planning (minTaskInput)', async () => {
    // Prepare
    http.setFile('/min.bin', Buffer.alloc(10));
    const { deps } = harness();
    // Act
    const act = runArchiveJob(archiveJob(http.url('/min.bin'), 'min.gz'), deps, { minTaskInput: MIN_TASK - 1032 });
    // Assess
    await expect(act).rejects.toMatchObject({ code: 'InvalidInput', field: 'minTaskInput' });
  });
});
