/**
 * bench:archive — a log-like file over SFTP (real OpenSSH sshd on loopback) → gzip → local OSS:
 *   ossferry      runArchiveJob + runArchiveTask in this process (tasks dispatched in-process, not through the
 *                 FC gateway): parallel pinned SFTP ranges, ISA-L igzip members, packed multipart parts
 *   reference     what one would write by hand: one SFTP read stream, 1 MiB members at zlib level 9,
 *                 sequential ali-oss append()
 *   pigz -1       one SFTP read stream piped into `pigz -1`, the output streamed with ali-oss putStream
 * Every output is checked: gzip -t, and the decompressed CRC-64 equals the input's.
 * Size: OSSFERRY_BENCH_ARCHIVE_BYTES (default 2 GiB). The reference approach runs on a prefix
 * (OSSFERRY_BENCH_REFERENCE_BYTES, default 256 MiB) because it is slow; its MB/s is labelled as such.
 * RSS is this process's peak resident set during each run (pigz's own RSS is not included).
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import OSS from 'ali-oss';
import ssh2 from 'ssh2';
import { crc64 } from '../shared/crc64/index.ts';
import { parseJob } from '../shared/job.ts';
import { silentLogger } from '../shared/log.ts';
import { parseAllowList } from '../shared/ssrf.ts';
import { startOssServer } from '../local/oss/index.ts';
import { OssPartSink } from '../functions/oss/part-sink.ts';
import { classifyArchiveDispatchError } from '../functions/archive/dispatch.ts';
import { runArchiveJob, type ArchiveJobDeps } from '../functions/archive/job.ts';
import { openArchiveSource } from '../functions/archive/source.ts';
import { archiveResultToWire, parseArchiveResult, parseArchiveTask } from '../functions/archive/task.ts';
import { runArchiveTask } from '../functions/archive/worker.ts';
import { startSshd } from '../test/helpers/sshd.ts';
import { generateLogLike } from './lib/loglike.ts';

const MiB = 1024 * 1024;
const SIZE = Number(process.env.OSSFERRY_BENCH_ARCHIVE_BYTES ?? 2 * 1024 * MiB);
const REF_SIZE = Math.min(SIZE, Number(process.env.OSSFERRY_BENCH_REFERENCE_BYTES ?? 256 * MiB));
const WORKERS = Number(process.env.OSSFERRY_BENCH_ARCHIVE_WORKERS ?? 4);

interface Row {
  name: string;
  inputBytes: number;
  outputBytes: number;
  seconds: number;
  mbps: number;
  ratio: number;
  rssMb: number;
  verified: boolean;
  note: string;
}

function rssSampler(): { stop(): number } {
  let peak = process.memoryUsage().rss;
  const t = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  return {
    stop() {
      clearInterval(t);
      return Math.round(Math.max(peak, process.memoryUsage().rss) / MiB);
    },
  };
}

/** gzip -t and the CRC-64 of `gzip -dc` output for an object. */
async function verifyObject(client: OSS, key: string, tmp: string, expectSize: number, expectCrc: bigint): Promise<boolean> {
  const file = join(tmp, 'verify.gz');
  const got = await client.getStream(key);
  await pipeline(got.stream as Readable, createWriteStream(file));
  const code = await new Promise<number | null>((r) => spawn('gzip', ['-t', file], { stdio: 'ignore' }).on('close', r));
  let crc = 0n;
  let n = 0;
  const p = spawn('gzip', ['-dc', file], { stdio: ['ignore', 'pipe', 'ignore'] });
  for await (const c of p.stdout as AsyncIterable<Buffer>) {
    crc = crc64(c, crc);
    n += c.length;
  }
  await rm(file, { force: true });
  return code === 0 && n === expectSize && crc === expectCrc;
}

async function main(): Promise<void> {
  const tmp = join(process.env.TMPDIR ?? '/tmp', `ossferry-bench-archive-${process.pid}`);
  await mkdir(tmp, { recursive: true });
  const oss = await startOssServer({ buckets: ['bench'], fsync: false, dataDir: join(tmp, 'oss') });
  const sshd = await startSshd({ files: {} });
  const rows: Row[] = [];
  try {
    // The input: log-like data written in 64 MiB chunks; CRC of the whole and of the reference prefix.
    const path = join(sshd.root, 'big.log');
    const out = createWriteStream(path);
    let crcAll = 0n;
    let crcRef = 0n;
    for (let off = 0, i = 0; off < SIZE; i++) {
      const chunk = generateLogLike(Math.min(64 * MiB, SIZE - off), 1000 + i);
      crcAll = crc64(chunk, crcAll);
      if (off < REF_SIZE) crcRef = crc64(chunk.subarray(0, Math.min(chunk.length, REF_SIZE - off)), crcRef);
      off += chunk.length;
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
    }
    await new Promise<void>((r, j) => out.end((e?: Error) => (e ? j(e) : r())));
    const url = sshd.urlFor('big.log');
    const client = new OSS({ ...oss.clientOptions('bench'), retryMax: 0, timeout: 3_600_000 } as OSS.Options);
    const allow = parseAllowList('127.0.0.1');
    const sftpOpts = { allow, sftpPrivateKey: sshd.privateKey, hostKeyFingerprint: sshd.hostKeyFingerprint };
    process.stderr.write(`input: ${SIZE} bytes of log-like data on sshd 127.0.0.1:${sshd.port}\n`);

    // 1. ossferry
    {
      const deps: ArchiveJobDeps = {
        logger: silentLogger,
        openSource: (job) => openArchiveSource(job.source.url, sftpOpts),
        destinationClient: client,
        workerTimeoutSeconds: 3600,
        dispatch: async (wire) => {
          try {
            const result = await runArchiveTask(parseArchiveTask(wire), {
              logger: silentLogger,
              openSource: (t) => openArchiveSource(t.source.url, sftpOpts),
              partSinkFor: (t) => new OssPartSink({ client, bucket: t.destination.bucket, key: t.destination.key, uploadId: t.uploadId }),
            });
            return { kind: 'result', result: parseArchiveResult(archiveResultToWire(result)) };
          } catch (err) {
            return classifyArchiveDispatchError(err);
          }
        },
      };
      const rss = rssSampler();
      const t0 = performance.now();
      const report = await runArchiveJob(parseJob({ source: url, destination: 'oss://bench/ossferry.gz', mode: 'archive', workers: WORKERS }), deps, { concurrency: 3 });
      const s = (performance.now() - t0) / 1000;
      const rssMb = rss.stop();
      const ok = report.uncompressedCrc64 === crcAll && (await verifyObject(client, 'ossferry.gz', tmp, SIZE, crcAll));
      rows.push({ name: 'ossferry (igzip L1, parallel)', inputBytes: SIZE, outputBytes: report.compressedSize, seconds: s, mbps: SIZE / 1e6 / s, ratio: SIZE / report.compressedSize, rssMb, verified: ok, note: `${report.tasks} tasks × 3 members in flight, ${report.parts} parts` });
    }

    // 2. reference: one SFTP stream, 1 MiB members at zlib -9, sequential appends (on a prefix).
    {
      const rss = rssSampler();
      const t0 = performance.now();
      const conn = new ssh2.Client();
      await new Promise<void>((resolve, reject) => {
        conn.once('ready', () => resolve()).once('error', reject);
        conn.connect({ host: '127.0.0.1', port: sshd.port, username: sshd.user, privateKey: sshd.privateKey });
      });
      const sftp = await new Promise<ssh2.SFTPWrapper>((r, j) => conn.sftp((e, s) => (e ? j(e) : r(s))));
      const stream = sftp.createReadStream(path, { start: 0, end: REF_SIZE - 1, highWaterMark: MiB });
      let position = 0;
      let pending: Buffer[] = [];
      let pendingLen = 0;
      const flush = async (buf: Buffer) => {
        const gz = zlib.gzipSync(buf, { level: 9 });
        const r = await client.append('reference.gz', gz, { position: String(position) } as OSS.AppendObjectOptions);
        position = Number((r as unknown as { nextAppendPosition: string }).nextAppendPosition);
      };
      for await (const c of stream as AsyncIterable<Buffer>) {
        pending.push(c);
        pendingLen += c.length;
        while (pendingLen >= MiB) {
          const all = Buffer.concat(pending);
          await flush(all.subarray(0, MiB));
          pending = [all.subarray(MiB)];
          pendingLen = all.length - MiB;
        }
      }
      if (pendingLen > 0) await flush(Buffer.concat(pending));
      conn.end();
      const s = (performance.now() - t0) / 1000;
      const rssMb = rss.stop();
      const ok = await verifyObject(client, 'reference.gz', tmp, REF_SIZE, crcRef);
      rows.push({ name: 'reference (1 stream, zlib -9 1 MiB, append)', inputBytes: REF_SIZE, outputBytes: position, seconds: s, mbps: REF_SIZE / 1e6 / s, ratio: REF_SIZE / position, rssMb, verified: ok, note: REF_SIZE < SIZE ? `measured on a ${REF_SIZE / MiB} MiB prefix` : '' });
    }

    // 3. one SFTP stream → pigz -1 → putStream.
    {
      const rss = rssSampler();
      const t0 = performance.now();
      const conn = new ssh2.Client();
      await new Promise<void>((resolve, reject) => {
        conn.once('ready', () => resolve()).once('error', reject);
        conn.connect({ host: '127.0.0.1', port: sshd.port, username: sshd.user, privateKey: sshd.privateKey });
      });
      const sftp = await new Promise<ssh2.SFTPWrapper>((r, j) => conn.sftp((e, s) => (e ? j(e) : r(s))));
      const pigz = spawn('pigz', ['-1'], { stdio: ['pipe', 'pipe', 'inherit'] });
      const feeding = pipeline(sftp.createReadStream(path, { highWaterMark: MiB }), pigz.stdin);
      const up = client.putStream('pigz.gz', pigz.stdout);
      await Promise.all([feeding, up]);
      conn.end();
      const s = (performance.now() - t0) / 1000;
      const rssMb = rss.stop();
      const size = Number(((await client.head('pigz.gz')).res.headers as Record<string, string>)['content-length']);
      const ok = await verifyObject(client, 'pigz.gz', tmp, SIZE, crcAll);
      rows.push({ name: 'SFTP stream | pigz -1 | putStream', inputBytes: SIZE, outputBytes: size, seconds: s, mbps: SIZE / 1e6 / s, ratio: SIZE / size, rssMb, verified: ok, note: '' });
    }
  } finally {
    await sshd.close();
    await oss.close();
    await rm(tmp, { recursive: true, force: true });
  }

  const pad = (s: string, n: number) => s.padEnd(n);
  console.log(`\nbench:archive — ${SIZE / MiB} MiB log-like over SFTP (loopback OpenSSH) → gzip → local OSS; ${WORKERS} ossferry tasks in-process\n`);
  console.log(`${pad('approach', 46)}${pad('input MiB', 11)}${pad('MB/s', 9)}${pad('ratio', 8)}${pad('RSS MiB', 9)}${pad('verified', 10)}note`);
  for (const r of rows) {
    console.log(`${pad(r.name, 46)}${pad(String(Math.round(r.inputBytes / MiB)), 11)}${pad(r.mbps.toFixed(1), 9)}${pad(r.ratio.toFixed(2), 8)}${pad(String(r.rssMb), 9)}${pad(r.verified ? 'yes' : 'NO', 10)}${r.note}`);
  }
  const [ours, ref, pigz] = rows;
  const speedup = ours!.mbps / ref!.mbps;
  console.log(`\nossferry vs reference: ${speedup.toFixed(1)}× (target ≥ 4×); vs pigz -1 pipeline: ${(ours!.mbps / pigz!.mbps).toFixed(2)}×`);
  console.log(
    'RESULT ' +
      JSON.stringify({
        bench: 'archive',
        bytes: SIZE,
        referenceBytes: REF_SIZE,
        ossferryMBps: +ours!.mbps.toFixed(1),
        referenceMBps: +ref!.mbps.toFixed(1),
        pigzMBps: +pigz!.mbps.toFixed(1),
        ossferryRatio: +ours!.ratio.toFixed(3),
        referenceRatio: +ref!.ratio.toFixed(3),
        pigzRatio: +pigz!.ratio.toFixed(3),
        ossferryRssMb: ours!.rssMb,
        speedupVsReference: +speedup.toFixed(2),
        targetMet: speedup >= 4,
        verified: rows.every((r) => r.verified),
        dispatch: 'in-process',
      }),
  );
  if (!rows.every((r) => r.verified)) process.exitCode = 1;
}

await main();
