/**
 * SFTP read throughput, the part of an SFTP archive job that OpenSSH can be held against: the same bytes, through
 * the same sshd, read to nowhere
 *   - by OpenSSH's own client (`sftp -b` with a `get` to /dev/null, its default 64 requests of 32 KiB in flight,
 *     host key pinned in a known_hosts file): with its default cipher (chacha20-poly1305, the reference) and with
 *     aes128-gcm@openssh.com (the cipher ossferry negotiates), and `ssh … cat` (no SFTP, the transport alone);
 *   - by ossferry's SftpSource over its OpenSSH transport with 1, 2 and 4 SSH connections, each connection in its
 *     own Node process (as each worker instance has its own), reading a contiguous share as 4 ranges on one SFTP
 *     channel; and over its ssh2 transport (the fallback) with one connection.
 * Beside wall-clock MB/s, the CPU each side spent per GB: the client process(es) and the sshd sessions. On a
 * machine shared with other work the CPU figures are the stable ones; wall-clock ratios come from alternating
 * rounds of every case, median per case.
 * Also measured in the same process: how fast ssh2 (the library under SftpSource) decrypts SSH packets for the
 * negotiated cipher and for chacha20-poly1305, against one OpenSSL AES-128-GCM context over the same bytes —
 * the ceiling the library puts on a connection.
 */
import { spawn } from 'node:child_process';
import { randomBytes, createDecipheriv } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { SftpSource, type TransportName } from '../../functions/sources/sftp.ts';
import { descendantsOf, type Sshd } from '../../local/sshd.ts';

export interface SftpReadRow {
  name: string;
  /** 'openssh' rows are references; 'ossferry' rows are SftpSource. */
  kind: 'openssh' | 'ossferry';
  /** ossferry rows: the SftpSource transport. */
  transport?: TransportName;
  connections: number;
  bytes: number;
  seconds: number;
  mbps: number;
  /** CPU-seconds per GB (1e9 bytes) of the reading process(es), user + system. */
  clientCpuPerGb: number;
  /** CPU-seconds per GB of the sshd session processes serving the read. */
  sshdCpuPerGb: number;
}

export interface DecryptCeiling {
  /** Whether ssh2's native crypto binding loaded (otherwise its JavaScript path runs). */
  ssh2Binding: boolean;
  /** ssh2's decipher, MB/s of SSH packets of 32 KiB channel data, one CPU. */
  ssh2Aes128GcmMBps: number;
  /** null when the binding's chacha20 path refuses this harness's packets. */
  ssh2Chacha20Poly1305MBps: number | null;
  /** One OpenSSL AES-128-GCM context over the same bytes: the primitive without SSH's per-packet work. */
  opensslAes128GcmMBps: number;
}

const TICKS = 100; // USER_HZ for /proc/*/stat

/** utime+stime of reaped children (cutime+cstime) of a process, in seconds. */
async function reapedChildCpu(pid: number | 'self'): Promise<number> {
  const s = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / TICKS;
}

/** Runs a process to completion, its output discarded; rejects with its stderr on a non-zero exit. */
function runProcess(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code}: ${err}`))));
  });
}

/** OpenSSH client arguments with the key and the pinned host key in a private known_hosts. */
async function opensshSetup(sshd: Sshd): Promise<{ dir: string; common: string[] }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ossferry-sftp-ref-'));
  const key = path.join(dir, 'key');
  await writeFile(key, sshd.privateKey, { mode: 0o600 });
  await writeFile(path.join(dir, 'known_hosts'), `[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}\n`);
  const common = ['-i', key, '-o', `UserKnownHostsFile=${path.join(dir, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes'];
  return { dir, common };
}

interface ReaderJob {
  url: string;
  privateKey: string;
  hostKeyFingerprint: string;
  start: number;
  end: number;
  ranges: number;
  transport: TransportName;
}

/**
 * Child process: one SftpSource on one SSH connection (one channel: with OpenSSH each channel is a connection)
 * reads [start, end) as `ranges` parallel ranges. Its CPU includes its `ssh` child (OpenSSH transport) from spawn
 * to exit, handshake included, as the OpenSSH rows include theirs.
 */
async function readerChild(job: ReaderJob): Promise<void> {
  const src = new SftpSource({ url: job.url, privateKey: job.privateKey, hostKeyFingerprint: job.hostKeyFingerprint, allowedHosts: '127.0.0.1', env: {}, transport: job.transport, channels: 1 });
  const reaped0 = await reapedChildCpu('self');
  const pin = await src.stat();
  // Connected and authenticated: wait for the parent's go, so every connection starts reading together.
  process.stdout.write('ready\n');
  await new Promise<void>((r) => process.stdin.once('data', () => r()));
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: job.ranges }, async (_, i) => {
      const start = job.start + Math.floor(((job.end - job.start) * i) / job.ranges);
      const end = job.start + Math.floor(((job.end - job.start) * (i + 1)) / job.ranges);
      let got = 0;
      for await (const c of await src.read(start, end, pin)) got += (c as Buffer).length;
      if (got !== end - start) throw new Error(`range [${start}, ${end}) delivered ${got} bytes`);
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cu = process.cpuUsage(c0);
  await src.close();
  if (src.stats.transport !== job.transport) throw new Error(`asked for the ${job.transport} transport, ran ${src.stats.transport}`);
  const sshCpu = (await reapedChildCpu('self')) - reaped0; // the ssh process, reaped at close
  process.stdout.write(JSON.stringify({ seconds, cpuSeconds: (cu.user + cu.system) / 1e6 + sshCpu }) + '\n');
  process.stdin.destroy();
}

/** ossferry: `connections` reader processes, each with its own SSH connection and a contiguous share. */
async function ossferryRead(sshd: Sshd, rel: string, size: number, connections: number, transport: TransportName): Promise<{ seconds: number; cpuSeconds: number }> {
  const children = Array.from({ length: connections }, (_, c) => {
    const job: ReaderJob = {
      url: sshd.urlFor(rel),
      privateKey: sshd.privateKey,
      hostKeyFingerprint: sshd.hostKeyFingerprint,
      start: Math.floor((size * c) / connections),
      end: Math.floor((size * (c + 1)) / connections),
      ranges: 4,
      transport,
    };
    const p = spawn(process.execPath, [fileURLToPath(import.meta.url), '--reader'], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, OSSFERRY_BENCH_READER: JSON.stringify(job) } });
    let out = '';
    const ready = new Promise<void>((resolve, reject) => {
      p.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.startsWith('ready\n')) resolve();
      });
      p.on('error', reject);
      p.on('close', (code) => reject(new Error(`reader exited with ${code} before it was ready: ${out}`)));
    });
    const done = new Promise<{ seconds: number; cpuSeconds: number }>((resolve, reject) =>
      p.on('close', (code) => {
        const line = out.trim().split('\n').pop() ?? '';
        if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as { seconds: number; cpuSeconds: number });
        else reject(new Error(`reader exited with ${code}: ${out}`));
      }),
    );
    done.catch(() => undefined); // awaited below; a reader that dies before ready fails `ready` first
    return { p, ready, done };
  });
  await Promise.all(children.map((c) => c.ready));
  const t0 = performance.now();
  for (const c of children) c.p.stdin.write('go\n');
  const results = await Promise.all(children.map((c) => c.done));
  return { seconds: (performance.now() - t0) / 1000, cpuSeconds: results.reduce((a, r) => a + r.cpuSeconds, 0) };
}

/** Waits until sshd has reaped every session (their CPU then shows in its cutime). */
async function sessionsGone(sshd: Sshd): Promise<void> {
  for (let i = 0; i < 100 && (await descendantsOf(sshd.pid)).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
}

/** ssh2's packet decipher over `bytes` of SSH packets carrying 32 KiB of channel data, fed in 64 KiB socket reads. */
function ssh2DecryptMBps(cipher: string, bytes: number): { mbps: number; binding: boolean } {
  // The library's internals: the same decipher classes its transport uses (bench only).
  const require = createRequire(import.meta.url);
  const c = require('ssh2/lib/protocol/crypto.js') as {
    CIPHER_INFO: Record<string, { keyLen: number; ivLen: number }>;
    bindingAvailable: boolean;
    createCipher(cfg: unknown): { allocPacket(n: number): Buffer; encrypt(p: Buffer): void };
    createDecipher(cfg: unknown): { decrypt(d: Buffer, p: number, n: number): void };
  };
  const info = c.CIPHER_INFO[cipher]!;
  const key = randomBytes(info.keyLen);
  const iv = randomBytes(info.ivLen);
  const chunks: Buffer[] = [];
  const payload = 32 * 1024 + 13; // CHANNEL_DATA header + one 32 KiB packet of data, as sshd sends them
  const enc = c.createCipher({ outbound: { onWrite: (d: Buffer) => chunks.push(Buffer.from(d)), seqno: 0, cipherInfo: info, cipherIV: Buffer.from(iv), cipherKey: key } });
  const packets = Math.ceil(bytes / payload);
  for (let i = 0; i < packets; i++) enc.encrypt(enc.allocPacket(payload));
  const wire = Buffer.concat(chunks);
  let delivered = 0;
  const dec = c.createDecipher({ inbound: { onPayload: (p: Buffer) => void (delivered += p.length), seqno: 0, decipherInfo: info, decipherIV: Buffer.from(iv), decipherKey: key } });
  const c0 = process.cpuUsage();
  for (let off = 0; off < wire.length; off += 65536) {
    const piece = wire.subarray(off, off + 65536);
    dec.decrypt(piece, 0, piece.length);
  }
  const cu = process.cpuUsage(c0);
  if (delivered !== packets * payload) throw new Error(`ssh2 ${cipher} decrypted ${delivered} of ${packets * payload} bytes`);
  return { mbps: delivered / 1e6 / ((cu.user + cu.system) / 1e6), binding: c.bindingAvailable };
}

export async function decryptCeiling(bytes = 256 * 1024 * 1024): Promise<DecryptCeiling> {
  const require = createRequire(import.meta.url);
  await (require('ssh2/lib/protocol/crypto.js') as { init: Promise<void> }).init; // Poly1305 (WebAssembly) loads async
  const gcm = ssh2DecryptMBps('aes128-gcm@openssh.com', bytes);
  let chacha: { mbps: number } | undefined;
  try {
    chacha = ssh2DecryptMBps('chacha20-poly1305@openssh.com', bytes);
  } catch {
    chacha = undefined;
  }
  const data = randomBytes(bytes);
  const d = createDecipheriv('aes-128-gcm', randomBytes(16), randomBytes(12));
  const c0 = process.cpuUsage();
  for (let off = 0; off < data.length; off += 65536) d.update(data.subarray(off, off + 65536));
  const cu = process.cpuUsage(c0);
  return {
    ssh2Binding: gcm.binding,
    ssh2Aes128GcmMBps: Math.round(gcm.mbps),
    ssh2Chacha20Poly1305MBps: chacha ? Math.round(chacha.mbps) : null,
    opensslAes128GcmMBps: Math.round(bytes / 1e6 / ((cu.user + cu.system) / 1e6)),
  };
}

/** `file` itself when it has exactly `size` bytes, else a copy of its first `size` bytes beside it (removed by the caller). */
async function exactFile(file: string, size: number): Promise<{ file: string; temporary: boolean }> {
  if ((await stat(file)).size === size) return { file, temporary: false };
  const copy = path.join(path.dirname(file), `sftp-read-${size}.bin`);
  await pipeline(createReadStream(file, { start: 0, end: size - 1 }), createWriteStream(copy));
  return { file: copy, temporary: true };
}

/** Alternating rounds of every case; the median round per case. `file` must lie under sshd.root. */
export async function sftpReadRows(sshd: Sshd, file: string, size: number, rounds = 3): Promise<SftpReadRow[]> {
  const exact = await exactFile(file, size);
  const { dir, common } = await opensshSetup(sshd);
  try {
    const rel = path.relative(sshd.root, exact.file);
    const batch = path.join(dir, 'batch');
    await writeFile(batch, `get ${exact.file} /dev/null\n`);
    const target = `${sshd.user}@127.0.0.1`;
    const openssh = (args: string[]) => async () => {
      const c0 = await reapedChildCpu('self');
      const t0 = performance.now();
      await runProcess(args[0]!, args.slice(1));
      const seconds = (performance.now() - t0) / 1000;
      return { seconds, cpuSeconds: (await reapedChildCpu('self')) - c0 };
    };
    type Case = [string, SftpReadRow['kind'], number, () => Promise<{ seconds: number; cpuSeconds: number }>, TransportName?];
    const cases: Case[] = [
      ['OpenSSH sftp get, default cipher (chacha20)', 'openssh', 1, openssh(['sftp', '-q', '-b', batch, '-P', String(sshd.port), ...common, target])],
      ['OpenSSH sftp get -c aes128-gcm', 'openssh', 1, openssh(['sftp', '-q', '-b', batch, '-P', String(sshd.port), '-c', 'aes128-gcm@openssh.com', ...common, target])],
      ['OpenSSH ssh cat -c aes128-gcm (no SFTP)', 'openssh', 1, openssh(['ssh', '-p', String(sshd.port), '-c', 'aes128-gcm@openssh.com', ...common, target, `cat ${exact.file}`])],
      ...[1, 2, 4].map((n): Case => [`ossferry (openssh), ${n} connection${n > 1 ? 's' : ''}`, 'ossferry', n, () => ossferryRead(sshd, rel, size, n, 'openssh'), 'openssh']),
      ['ossferry (ssh2), 1 connection', 'ossferry', 1, () => ossferryRead(sshd, rel, size, 1, 'ssh2'), 'ssh2'],
    ];
    const runs = cases.map(() => [] as Array<{ seconds: number; cpuSeconds: number; sshdCpu: number }>);
    for (let r = 0; r < rounds; r++) {
      for (const [i, [name, , , run]] of cases.entries()) {
        process.stderr.write(`bench:archive: SFTP read round ${r + 1}/${rounds}: ${name}\n`);
        await sessionsGone(sshd);
        const s0 = await reapedChildCpu(sshd.pid);
        const res = await run();
        await sessionsGone(sshd);
        runs[i]!.push({ ...res, sshdCpu: (await reapedChildCpu(sshd.pid)) - s0 });
      }
    }
    const gb = size / 1e9;
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    return cases.map(([name, kind, connections, , transport], i) => {
      const seconds = median(runs[i]!.map((x) => x.seconds));
      return {
        name,
        kind,
        ...(transport && { transport }),
        connections,
        bytes: size,
        seconds,
        mbps: size / 1e6 / seconds,
        clientCpuPerGb: +(median(runs[i]!.map((x) => x.cpuSeconds)) / gb).toFixed(2),
        sshdCpuPerGb: +(median(runs[i]!.map((x) => x.sshdCpu)) / gb).toFixed(2),
      };
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
    if (exact.temporary) await rm(exact.file, { force: true });
  }
}

if (process.argv[2] === '--reader') await readerChild(JSON.parse(process.env.OSSFERRY_BENCH_READER ?? '{}') as ReaderJob);
