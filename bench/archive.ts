/**
 * bench:archive — a log-like file over SFTP (real OpenSSH sshd on loopback) → gzip → local OSS:
 *   ossferry      an archive job submitted over fc2 to the local cloud: FC gateway → coordinator process →
 *                 fc2 → worker processes (parallel pinned SFTP ranges, ISA-L igzip members, packed parts) →
 *                 ali-oss → local OSS. The SFTP key reaches the workers through their env, the host key pin
 *                 through the job (sftpHostKeyFingerprint).
 *   reference     what one would write by hand: one SFTP read stream, 1 MiB members at zlib level 9,
 *                 sequential ali-oss append() — in its own process
 *   pigz -1       one SFTP read stream with pipelined requests (32 × 64 KiB in flight, ssh2's fastGet pattern)
 *                 piped into `pigz -1`, the output streamed with ali-oss putStream — in
 *                 its own process (+ the pigz process). Pipelined so that the row measures pigz, not the
 *                 one-request-at-a-time latency of ssh2's createReadStream that bounds the reference.
 * Every output is checked: gzip -t, and the decompressed size and CRC-64 equal the input's.
 * Size: OSSFERRY_BENCH_ARCHIVE_BYTES (default 2 GiB). The reference approach runs on a prefix
 * (OSSFERRY_BENCH_REFERENCE_BYTES, default 128 MiB) because it is slow; its row says so, together with its
 * compression ceiling (zlib -9 on 1 MiB members from memory, no I/O) measured in the same process.
 * RSS: peak resident set per process, sampled from /proc every 100 ms during each run and grouped by what
 * the process is: ossferry workers / coordinator, the contender's own process (+ pigz), the sshd session
 * processes serving the run, and the harness (this process: local OSS server + FC gateway + bench driver).
 * Last, SFTP reads alone (bench/lib/sftp-read.ts): ossferry's reader against OpenSSH's client on the same bytes.
 * `--sftp-only` runs just that section (no local cloud, no archive rows).
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import OSS from 'ali-oss';
import ssh2 from 'ssh2';
import { crc64 } from '../shared/crc64/index.ts';
import { startLocalCloud } from '../local/cloud.ts';
import { descendantsOf, startSshd } from '../local/sshd.ts';
import { generateLogLike } from './lib/loglike.ts';
import { decryptCeiling, sftpReadRows, type DecryptCeiling, type SftpReadRow } from './lib/sftp-read.ts';

/** Bytes of the SFTP-read comparison (OSSFERRY_BENCH_SFTP_READ_BYTES, default 1 GiB). */
const SFTP_READ_BYTES = Number(process.env.OSSFERRY_BENCH_SFTP_READ_BYTES ?? 1024 * 1024 * 1024);

const MiB = 1024 * 1024;

/** Config handed to a contender child process (argv[2] === '--contender'). */
interface ContenderConfig {
  kind: 'reference' | 'pigz';
  oss: Record<string, unknown>;
  key: string;
  bytes: number;
  path: string;
  sftp: { port: number; user: string; privateKey: string };
}

interface ContenderResult {
  seconds: number;
  outputBytes: number;
  selfPeakRssMb: number;
  pigzPeakRssMb?: number;
  /** Reference only: zlib -9 on 1 MiB members from memory (MB/s of input), the ceiling without SFTP. */
  zlibCeilingMBps?: number;
}

/** Bytes [0, size) of `path` in order, with `depth` SFTP READs of `chunk` bytes in flight. */
async function* pipelinedRead(sftp: ssh2.SFTPWrapper, path: string, size: number, chunk = 64 * 1024, depth = 32): AsyncGenerator<Buffer> {
  const handle = await new Promise<Buffer>((r, j) => sftp.open(path, 'r', (e, h) => (e ? j(e) : r(h))));
  const readAt = (pos: number, len: number) =>
    new Promise<Buffer>((r, j) => {
      const buf = Buffer.allocUnsafe(len);
      const more = (off: number) =>
        sftp.read(handle, buf, off, len - off, pos + off, (e, n) => {
          if (e) return j(e);
          if (n === 0) return j(new Error(`unexpected EOF at ${pos + off}`));
          if (off + n < len) more(off + n);
          else r(buf);
        });
      more(0);
    });
  const queue: Array<Promise<Buffer>> = [];
  let next = 0;
  try {
    while (next < size || queue.length > 0) {
      while (queue.length < depth && next < size) {
        const len = Math.min(chunk, size - next);
        queue.push(readAt(next, len));
        next += len;
      }
      yield await queue.shift()!;
    }
  } finally {
    await Promise.allSettled(queue);
    await new Promise<void>((r) => sftp.close(handle, () => r()));
  }
}

async function rssKb(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): Promise<number | undefined> {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+)`).exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

async function sftpConnect(c: ContenderConfig['sftp']): Promise<{ conn: ssh2.Client; sftp: ssh2.SFTPWrapper }> {
  const conn = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    conn.once('ready', () => resolve()).once('error', reject);
    conn.connect({ host: '127.0.0.1', port: c.port, username: c.user, privateKey: c.privateKey });
  });
  const sftp = await new Promise<ssh2.SFTPWrapper>((r, j) => conn.sftp((e, s) => (e ? j(e) : r(s))));
  return { conn, sftp };
}

/** The contender process: runs one hand-written approach and prints its result as one JSON line. */
async function contender(cfg: ContenderConfig): Promise<void> {
  const client = new OSS({ ...cfg.oss, retryMax: 0, timeout: 3_600_000 } as unknown as OSS.Options);
  const t0 = performance.now();
  const { conn, sftp } = await sftpConnect(cfg.sftp);
  let outputBytes = 0;
  let pigzPeakKb: number | undefined;
  if (cfg.kind === 'reference') {
    // One stream, 1 MiB members at zlib -9, each appended in order.
    const stream = sftp.createReadStream(cfg.path, { start: 0, end: cfg.bytes - 1, highWaterMark: MiB });
    let pending: Buffer[] = [];
    let pendingLen = 0;
    const flush = async (buf: Buffer) => {
      const gz = zlib.gzipSync(buf, { level: 9 });
      const r = await client.append(cfg.key, gz, { position: String(outputBytes) } as OSS.AppendObjectOptions);
      outputBytes = Number((r as unknown as { nextAppendPosition: string }).nextAppendPosition);
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
  }
  let seconds = (performance.now() - t0) / 1000;
  let zlibCeilingMBps: number | undefined;
  if (cfg.kind === 'reference') {
    // The same compression with no I/O: 32 MiB read whole first, then timed.
    const parts: Buffer[] = [];
    for await (const c of pipelinedRead(sftp, cfg.path, Math.min(cfg.bytes, 32 * MiB))) parts.push(c);
    const sample = Buffer.concat(parts);
    const c0 = performance.now();
    for (let off = 0; off < sample.length; off += MiB) zlib.gzipSync(sample.subarray(off, off + MiB), { level: 9 });
    zlibCeilingMBps = sample.length / 1e6 / ((performance.now() - c0) / 1000);
  } else {
    const pigz = spawn('pigz', ['-1'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const sampler = setInterval(() => {
      void rssKb(pigz.pid!, 'VmHWM').then((kb) => {
        if (kb !== undefined) pigzPeakKb = Math.max(pigzPeakKb ?? 0, kb);
      });
    }, 100);
    pigz.stdout.on('data', (c: Buffer) => (outputBytes += c.length));
    const feeding = pipeline(pipelinedRead(sftp, cfg.path, cfg.bytes), pigz.stdin);
    await Promise.all([feeding, client.putStream(cfg.key, pigz.stdout)]);
    clearInterval(sampler);
    seconds = (performance.now() - t0) / 1000;
  }
  conn.end();
  const result: ContenderResult = {
    ...(zlibCeilingMBps !== undefined ? { zlibCeilingMBps: +zlibCeilingMBps.toFixed(1) } : {}),
    seconds,
    outputBytes,
    selfPeakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    ...(pigzPeakKb !== undefined ? { pigzPeakRssMb: Math.round(pigzPeakKb / 1024) } : {}),
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

/** Runs a contender in a child process (so its RSS is its own); resolves with its result line. */
function runContender(cfg: ContenderConfig): Promise<ContenderResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [new URL(import.meta.url).pathname, '--contender'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, OSSFERRY_BENCH_CONTENDER: JSON.stringify(cfg) },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as ContenderResult);
      else reject(new Error(`${cfg.kind} contender exited ${code}: ${out}`));
    });
  });
}

/** What a sampled process is, read when first seen (sshd sessions exit before the run ends). */
const kinds = new Map<number, string>();

async function kindOf(pid: number): Promise<string> {
  let k = kinds.get(pid);
  if (k === undefined) {
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    k = cmd.startsWith('sshd') ? 'sshd' : ((await roleOf(pid)) ?? 'other');
    kinds.set(pid, k);
  }
  return k;
}

/** Per-process peak VmRSS of a changing set of processes, sampled every 100 ms until stop(). */
function peakRss(pids: () => Promise<number[]>): { stop(): Promise<Map<number, number>> } {
  const peaks = new Map<number, number>();
  let running = true;
  const sample = async () => {
    for (const pid of await pids()) {
      const kb = await rssKb(pid);
      if (kb === undefined) continue;
      await kindOf(pid);
      peaks.set(pid, Math.max(peaks.get(pid) ?? 0, kb));
    }
  };
  const loop = (async () => {
    while (running) {
      await sample().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peaks;
    },
  };
}

async function roleOf(pid: number): Promise<string | undefined> {
  try {
    const env = await readFile(`/proc/${pid}/environ`, 'utf8');
    return /(?:^|\0)OSSFERRY_ROLE=([a-z]+)/.exec(env)?.[1];
  } catch {
    return undefined;
  }
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

interface Row {
  name: string;
  inputBytes: number;
  outputBytes: number;
  seconds: number;
  mbps: number;
  ratio: number;
  verified: boolean;
  note: string;
  /** Peak RSS (MiB) by process group, labelled. */
  rss: Array<[string, number]>;
}

const sumMb = (m: Map<number, number>, pids: Iterable<number>) => Math.round([...pids].reduce((a, p) => a + (m.get(p) ?? 0), 0) / 1024);
const maxMb = (m: Map<number, number>, pids: Iterable<number>) => Math.round(Math.max(0, ...[...pids].map((p) => m.get(p) ?? 0)) / 1024);

async function main(): Promise<void> {
  const SIZE = Number(process.env.OSSFERRY_BENCH_ARCHIVE_BYTES ?? 2 * 1024 * MiB);
  const REF_SIZE = Math.min(SIZE, Number(process.env.OSSFERRY_BENCH_REFERENCE_BYTES ?? 128 * MiB));
  const WORKERS = Number(process.env.OSSFERRY_BENCH_ARCHIVE_WORKERS ?? 4);
  const tmp = join(process.env.TMPDIR ?? '/tmp', `ossferry-bench-archive-${process.pid}`);
  await mkdir(tmp, { recursive: true });
  const sshd = await startSshd({ files: {} });
  const cloud = await startLocalCloud({
    buckets: ['bench'],
    dataDir: join(tmp, 'oss'),
    workers: { maxInstances: WORKERS, instanceConcurrency: 1, timeoutSeconds: 3600 },
    sftp: { privateKey: sshd.privateKey },
  });
  const rows: Row[] = [];
  let sftpRows: SftpReadRow[] = [];
  let ceiling: DecryptCeiling | undefined;
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
    const client = new OSS({ ...cloud.oss.clientOptions('bench'), retryMax: 0, timeout: 3_600_000 } as OSS.Options);
    process.stderr.write(`input: ${SIZE} bytes of log-like data on sshd 127.0.0.1:${sshd.port}\n`);
    const harnessAndSshd = async () => [process.pid, ...(await descendantsOf(sshd.pid))];
    // sshd's listener is idle; its sessions (descendants) serve the run.

    // 1. ossferry through the local cloud.
    {
      // This process's descendants: FC instances (coordinator, workers) and sshd with its sessions.
      const sampler = peakRss(async () => [process.pid, ...(await descendantsOf(process.pid))]);
      const t0 = performance.now();
      const report = await cloud.submitJob({ source: url, destination: 'oss://bench/ossferry.gz', mode: 'archive', workers: WORKERS, sftpHostKeyFingerprint: sshd.hostKeyFingerprint });
      const s = (performance.now() - t0) / 1000;
      const peaks = await sampler.stop();
      const pidsOf = (kind: string) => [...peaks.keys()].filter((p) => p !== process.pid && p !== sshd.pid && kinds.get(p) === kind);
      const workers = pidsOf('worker');
      const coordinators = pidsOf('coordinator');
      const sessionPids = pidsOf('sshd');
      const ok = report.uncompressedCrc64 === crcAll && (await verifyObject(client, 'ossferry.gz', tmp, SIZE, crcAll));
      rows.push({
        name: 'ossferry (local cloud, igzip L1)',
        inputBytes: SIZE,
        outputBytes: report.compressedSize,
        seconds: s,
        mbps: SIZE / 1e6 / s,
        ratio: SIZE / report.compressedSize,
        verified: ok,
        note: `${report.tasks} tasks on ${workers.length} worker processes, ${report.parts} parts; wall time of the fc2 invocation incl. cold starts`,
        rss: [
          [`worker process, max of ${workers.length}`, maxMb(peaks, workers)],
          [`workers, sum of ${workers.length}`, sumMb(peaks, workers)],
          [`coordinator process${coordinators.length > 1 ? `es (${coordinators.length})` : ''}`, sumMb(peaks, coordinators)],
          [`sshd sessions (${sessionPids.length} processes, sum)`, sumMb(peaks, sessionPids)],
          ['harness: local OSS + FC gateway + driver', maxMb(peaks, [process.pid])],
        ],
      });
    }

    const sftpCfg = { port: sshd.port, user: sshd.user, privateKey: sshd.privateKey };
    // 2. reference (own process): one SFTP stream, 1 MiB members at zlib -9, sequential appends (on a prefix).
    // 3. pigz (own process): one SFTP stream → pigz -1 → putStream.
    for (const kind of ['reference', 'pigz'] as const) {
      const bytes = kind === 'reference' ? REF_SIZE : SIZE;
      const key = `${kind}.gz`;
      const sampler = peakRss(harnessAndSshd);
      const r = await runContender({ kind, oss: cloud.oss.clientOptions('bench') as unknown as Record<string, unknown>, key, bytes, path, sftp: sftpCfg });
      const peaks = await sampler.stop();
      const sessionPids = [...peaks.keys()].filter((p) => p !== process.pid && p !== sshd.pid && kinds.get(p) === 'sshd');
      const ok = await verifyObject(client, key, tmp, bytes, kind === 'reference' ? crcRef : crcAll);
      rows.push({
        name: kind === 'reference' ? 'reference (1 stream, zlib -9 1 MiB, append)' : 'SFTP stream | pigz -1 | putStream',
        inputBytes: bytes,
        outputBytes: r.outputBytes,
        seconds: r.seconds,
        mbps: bytes / 1e6 / r.seconds,
        ratio: bytes / r.outputBytes,
        verified: ok,
        note:
          kind === 'reference'
            ? `${bytes < SIZE ? `measured on a ${bytes / MiB} MiB prefix (too slow for the full size); ` : ''}bound by one SFTP request in flight; its zlib -9 alone, from memory: ${r.zlibCeilingMBps} MB/s`
            : 'pipelined SFTP reads (32 × 64 KiB in flight)',
        rss: [
          ['contender process (Node)', r.selfPeakRssMb],
          ...(r.pigzPeakRssMb !== undefined ? ([['pigz process', r.pigzPeakRssMb]] as Array<[string, number]>) : []),
          [`sshd sessions (${sessionPids.length} processes, sum)`, sumMb(peaks, sessionPids)],
          ['harness: local OSS + FC gateway + driver', maxMb(peaks, [process.pid])],
        ],
      });
    }
    // 4. SFTP reads alone: ossferry's reader against OpenSSH's client, same file, same sshd.
    sftpRows = await sftpReadRows(sshd, path, Math.min(SIZE, SFTP_READ_BYTES));
    ceiling = await decryptCeiling();
  } finally {
    await cloud.close();
    await sshd.close();
    await rm(tmp, { recursive: true, force: true });
  }

  const pad = (s: string, n: number) => s.padEnd(n);
  console.log(`\nbench:archive — ${SIZE / MiB} MiB log-like over SFTP (loopback OpenSSH) → gzip → local OSS; ossferry through the local cloud with ${WORKERS} worker instances\n`);
  console.log(`${pad('approach', 46)}${pad('input MiB', 11)}${pad('seconds', 9)}${pad('MB/s', 9)}${pad('ratio', 8)}${pad('verified', 10)}note`);
  for (const r of rows) {
    console.log(`${pad(r.name, 46)}${pad(String(Math.round(r.inputBytes / MiB)), 11)}${pad(r.seconds.toFixed(1), 9)}${pad(r.mbps.toFixed(1), 9)}${pad(r.ratio.toFixed(2), 8)}${pad(r.verified ? 'yes' : 'NO', 10)}${r.note}`);
  }
  console.log('\npeak RSS (MiB) per process group, sampled from /proc during each run:');
  for (const r of rows) {
    console.log(`  ${r.name}`);
    for (const [label, mb] of r.rss) console.log(`    ${pad(label, 44)}${mb}`);
  }
  const sftp = printSftpRead(sftpRows, ceiling!);
  const [ours, ref, pigz] = rows;
  const speedup = ours!.mbps / ref!.mbps;
  console.log(`\nossferry vs reference: ${speedup.toFixed(1)}× (target ≥ 4×); vs pigz -1 pipeline: ${(ours!.mbps / pigz!.mbps).toFixed(2)}×`);
  const rssOf = (r: Row, label: string) => r.rss.find(([l]) => l.startsWith(label))?.[1];
  console.log(
    'RESULT ' +
      JSON.stringify({
        bench: 'archive',
        bytes: SIZE,
        referenceBytes: REF_SIZE,
        workers: WORKERS,
        ossferryMBps: +ours!.mbps.toFixed(1),
        referenceMBps: +ref!.mbps.toFixed(1),
        pigzMBps: +pigz!.mbps.toFixed(1),
        ossferryRatio: +ours!.ratio.toFixed(3),
        referenceRatio: +ref!.ratio.toFixed(3),
        referenceZlibCeilingMBps: Number(/alone, from memory: ([0-9.]+)/.exec(ref!.note)?.[1]),
        pigzRatio: +pigz!.ratio.toFixed(3),
        ossferryWorkerPeakRssMb: rssOf(ours!, 'worker process'),
        ossferryWorkersSumRssMb: rssOf(ours!, 'workers, sum'),
        ossferryCoordinatorRssMb: rssOf(ours!, 'coordinator'),
        referenceProcessRssMb: rssOf(ref!, 'contender process'),
        pigzPipelineRssMb: (rssOf(pigz!, 'contender process') ?? 0) + (rssOf(pigz!, 'pigz process') ?? 0),
        speedupVsReference: +speedup.toFixed(2),
        targetMet: speedup >= 4,
        verified: rows.every((r) => r.verified),
        dispatch: 'fc2 → local FC gateway → worker processes',
        sftpRead: sftp,
      }),
  );
  if (!rows.every((r) => r.verified)) process.exitCode = 1;
}

/** Prints the SFTP-read table and returns its RESULT fields. */
function printSftpRead(rows: SftpReadRow[], ceiling: DecryptCeiling): Record<string, unknown> {
  const pad = (s: string, n: number) => s.padEnd(n);
  console.log(`\nSFTP read to nowhere, ${Math.round((rows[0]?.bytes ?? 0) / MiB)} MiB, same file and sshd, median of alternating rounds (ossferry: one process per connection, 4 ranges on one SFTP channel each):`);
  // Cores busy = (client + sshd) CPU-seconds per GB × GB per second: how much of the machine a row used.
  const cores = (r: SftpReadRow) => ((r.clientCpuPerGb + r.sshdCpuPerGb) * r.mbps) / 1000;
  console.log(`  ${pad('reader', 46)}${pad('seconds', 10)}${pad('MB/s', 9)}${pad('client CPU-s/GB', 17)}${pad('sshd CPU-s/GB', 15)}cores busy (of ${availableParallelism()})`);
  for (const r of rows) console.log(`  ${pad(r.name, 46)}${pad(r.seconds.toFixed(2), 10)}${pad(r.mbps.toFixed(1), 9)}${pad(r.clientCpuPerGb.toFixed(2), 17)}${pad(r.sshdCpuPerGb.toFixed(2), 15)}${cores(r).toFixed(2)}`);
  const reference = rows.find((r) => r.kind === 'openssh')!;
  const sameCipher = rows.filter((r) => r.kind === 'openssh')[1]!;
  const sshCat = rows.filter((r) => r.kind === 'openssh')[2]!;
  const ours = rows.filter((r) => r.kind === 'ossferry' && r.transport === 'openssh');
  const one = ours[0]!;
  const ssh2 = rows.find((r) => r.transport === 'ssh2')!;
  const perConnection = one.mbps / reference.mbps;
  const scaling = ours.map((r) => +(r.mbps / one.mbps).toFixed(2));
  console.log(`  ossferry / OpenSSH, one connection: ${perConnection.toFixed(2)} (target ≥ 0.8; vs OpenSSH with the same cipher ${(one.mbps / sameCipher.mbps).toFixed(2)}); scaling over ${ours.map((r) => r.connections).join('/')} connections: ${scaling.join(' / ')}`);
  console.log(`  client CPU per GB, ossferry / OpenSSH: ${(one.clientCpuPerGb / reference.clientCpuPerGb).toFixed(2)} (same cipher ${(one.clientCpuPerGb / sameCipher.clientCpuPerGb).toFixed(2)})`);
  console.log(`  ssh2 transport (fallback) / OpenSSH, one connection: ${(ssh2.mbps / reference.mbps).toFixed(2)}; openssh transport / ssh2 transport: ${(one.mbps / ssh2.mbps).toFixed(2)}`);
  console.log(
    `  decrypt alone, one core: ssh2 (${ceiling.ssh2Binding ? 'native binding' : 'JavaScript path, native binding not loaded'}) aes128-gcm ${ceiling.ssh2Aes128GcmMBps} MB/s, chacha20-poly1305 ${ceiling.ssh2Chacha20Poly1305MBps ?? 'n/a'} MB/s; one OpenSSL AES-128-GCM context ${ceiling.opensslAes128GcmMBps} MB/s`,
  );
  return {
    bytes: reference.bytes,
    opensshMBps: +reference.mbps.toFixed(1),
    opensshAes128GcmMBps: +sameCipher.mbps.toFixed(1),
    sshCatMBps: +sshCat.mbps.toFixed(1),
    ossferryMBps: Object.fromEntries(ours.map((r) => [`${r.connections}conn`, +r.mbps.toFixed(1)])),
    perConnectionRatio: +perConnection.toFixed(2),
    perConnectionRatioSameCipher: +(one.mbps / sameCipher.mbps).toFixed(2),
    ssh2TransportMBps: +ssh2.mbps.toFixed(1),
    ssh2TransportRatio: +(ssh2.mbps / reference.mbps).toFixed(2),
    scaling,
    clientCpuSecondsPerGb: { openssh: reference.clientCpuPerGb, opensshAes128Gcm: sameCipher.clientCpuPerGb, sshCat: sshCat.clientCpuPerGb, ossferry: Object.fromEntries(ours.map((r) => [`${r.connections}conn`, r.clientCpuPerGb])), ossferrySsh2: ssh2.clientCpuPerGb },
    sshdCpuSecondsPerGb: { openssh: reference.sshdCpuPerGb, opensshAes128Gcm: sameCipher.sshdCpuPerGb, ossferry1conn: one.sshdCpuPerGb, ossferrySsh2: ssh2.sshdCpuPerGb },
    coresBusy: { cores: availableParallelism(), openssh: +cores(reference).toFixed(2), ossferry: Object.fromEntries(ours.map((r) => [`${r.connections}conn`, +cores(r).toFixed(2)])) },
    decryptCeiling: ceiling,
    targetPerConnection: 0.8,
    metPerConnection: perConnection >= 0.8,
  };
}

/** `--sftp-only`: sshd, an input file of the SFTP-read size, the SFTP-read table and its RESULT. */
async function sftpOnly(): Promise<void> {
  const sshd = await startSshd({ files: {} });
  try {
    const path = join(sshd.root, 'big.log');
    const out = createWriteStream(path);
    for (let off = 0, i = 0; off < SFTP_READ_BYTES; i++) {
      const chunk = generateLogLike(Math.min(64 * MiB, SFTP_READ_BYTES - off), 1000 + i);
      off += chunk.length;
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
    }
    await new Promise<void>((r, j) => out.end((e?: Error) => (e ? j(e) : r())));
    const rows = await sftpReadRows(sshd, path, SFTP_READ_BYTES);
    const sftp = printSftpRead(rows, await decryptCeiling());
    console.log('RESULT ' + JSON.stringify({ bench: 'archive', section: 'sftp-read', sftpRead: sftp }));
  } finally {
    await sshd.close();
  }
}

if (process.argv[2] === '--contender') await contender(JSON.parse(process.env.OSSFERRY_BENCH_CONTENDER ?? '{}') as ContenderConfig);
else if (process.argv.includes('--sftp-only')) await sftpOnly();
else await main();
