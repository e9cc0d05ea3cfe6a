/**
 * SFTP read throughput, the part of an SFTP archive job that OpenSSH can be held against: the same file, through
 * the same sshd, read to nowhere by OpenSSH's own client (`sftp -b` with a `get` to /dev/null, its default 64
 * requests of 32 KiB in flight, host key pinned in a known_hosts file) and by ossferry's SftpSource with 1, 2 and
 * 4 SSH connections (each connection reads a contiguous share, as ranges on its SFTP channels, like a worker).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SftpSource } from '../../functions/sources/sftp.ts';
import type { Sshd } from '../../local/sshd.ts';

export interface SftpReadRow {
  name: string;
  connections: number;
  bytes: number;
  seconds: number;
  mbps: number;
}

/** OpenSSH's sftp client: `get <file> /dev/null` in batch mode. */
async function opensshGet(sshd: Sshd, file: string): Promise<number> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ossferry-sftp-ref-'));
  try {
    const key = path.join(dir, 'key');
    await writeFile(key, sshd.privateKey, { mode: 0o600 });
    await writeFile(path.join(dir, 'known_hosts'), `[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}\n`);
    await writeFile(path.join(dir, 'batch'), `get ${file} /dev/null\n`);
    const args = ['-q', '-b', path.join(dir, 'batch'), '-i', key, '-P', String(sshd.port), '-o', `UserKnownHostsFile=${path.join(dir, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `${sshd.user}@127.0.0.1`];
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const p = spawn('sftp', args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.on('error', reject);
      p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sftp exited with ${code}: ${err}`))));
    });
    return (performance.now() - t0) / 1000;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** ossferry: `connections` SftpSources, each reading its share of [0, size) in `rangesPerConnection` parallel ranges. */
async function ossferryRead(sshd: Sshd, file: string, size: number, connections: number, rangesPerConnection = 4): Promise<number> {
  const rel = path.relative(sshd.root, file);
  const sources = Array.from({ length: connections }, () => new SftpSource({ url: sshd.urlFor(rel), privateKey: sshd.privateKey, hostKeyFingerprint: sshd.hostKeyFingerprint, allowedHosts: '127.0.0.1', env: {} }));
  try {
    const pin = await sources[0]!.stat();
    await Promise.all(sources.slice(1).map((s) => s.stat()));
    const n = connections * rangesPerConnection;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const start = Math.floor((size * i) / n);
        const end = Math.floor((size * (i + 1)) / n);
        let got = 0;
        for await (const c of await sources[Math.floor(i / rangesPerConnection)]!.read(start, end, pin)) got += (c as Buffer).length;
        if (got !== end - start) throw new Error(`range [${start}, ${end}) delivered ${got} bytes`);
      }),
    );
    return (performance.now() - t0) / 1000;
  } finally {
    await Promise.all(sources.map((s) => s.close()));
  }
}

/** Alternating rounds of every case; the median round per case. */
export async function sftpReadRows(sshd: Sshd, file: string, size: number, rounds = 3): Promise<SftpReadRow[]> {
  const cases: Array<[string, number, () => Promise<number>]> = [
    ['OpenSSH sftp get (1 connection)', 1, () => opensshGet(sshd, file)],
    ...[1, 2, 4].map((c): [string, number, () => Promise<number>] => [`ossferry SftpSource (${c} connection${c > 1 ? 's' : ''})`, c, () => ossferryRead(sshd, file, size, c)]),
  ];
  const times = cases.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (const [i, [name, , run]] of cases.entries()) {
      process.stderr.write(`bench:archive: SFTP read round ${r + 1}/${rounds}: ${name}\n`);
      times[i]!.push(await run());
    }
  }
  return cases.map(([name, connections], i) => {
    const sorted = [...times[i]!].sort((a, b) => a - b);
    const seconds = sorted[Math.floor(sorted.length / 2)]!;
    return { name, connections, bytes: size, seconds, mbps: size / 1e6 / seconds };
  });
}
